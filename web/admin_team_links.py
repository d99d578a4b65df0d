"""The team-link routes of the admin API (CONTRACT §3, §6): list, create, delete.

Creating answers only once Close has made the shared link (or refused everyone), because the
operator is told at once whether anybody may: the one place the admin API waits on a provider.
Mapping every rep and deleting are enqueued.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from web.admin import require_admin_token
from web.errors import json_error
from web.request_body import loads_json
from web.team_links_status import team_link_json
from worker import queue, runtime
from worker.providers.errors import ProviderError
from worker.storage.models import TeamLink
from worker.sync.team_link_grants import NoPermittedUser
from worker.sync.team_link_lifecycle import (
    NewTeamLink,
    TeamLinkExists,
    UnknownTeamLink,
    create_team_link,
    mark_deleting,
)

# The largest id a database integer column holds (SQLite and PostgreSQL alike).
MAX_ID = 2**63 - 1

bp = Blueprint("admin_team_links", __name__, url_prefix="/admin/team_links")
bp.before_request(require_admin_token)

FIELDS = {"organization_id", "name", "calendly_slug", "savvycal_slug", "description"}
SLUG = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


class InvalidTeamLink(ValueError):
    pass


def parse_new_team_link(raw: bytes) -> NewTeamLink:
    """The body of POST /admin/team_links, exactly as docs/openapi.yaml describes it."""
    try:
        body = loads_json(raw or b"null")
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise InvalidTeamLink("The body must be a JSON object.")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidTeamLink(f"Unknown field(s): {', '.join(unknown)}.")
    org, name = body.get("organization_id"), body.get("name")
    if not isinstance(org, str) or not 1 <= len(org) <= 64:
        raise InvalidTeamLink('"organization_id" must be a Close organization id.')
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise InvalidTeamLink('"name" must be a string of 1 to 255 characters.')
    slugs = {key: body.get(key) for key in ("calendly_slug", "savvycal_slug")}
    for key, value in slugs.items():
        if value is not None and (not isinstance(value, str) or not SLUG.match(value)):
            raise InvalidTeamLink(f'"{key}" must be a slug (letters, digits, - and _).')
    if not any(slugs.values()):
        raise InvalidTeamLink('Give at least one of "calendly_slug" and "savvycal_slug".')
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 1000):
        raise InvalidTeamLink('"description" must be a string of at most 1000 characters.')
    return NewTeamLink(org, name, slugs["calendly_slug"], slugs["savvycal_slug"], description)


def _one(team_link_id: int) -> dict[str, Any]:
    with runtime.session_scope() as session:
        return team_link_json(session, session.get(TeamLink, team_link_id))


@bp.get("")
def list_team_links():
    with runtime.session_scope() as session:
        rows = session.scalars(select(TeamLink).order_by(TeamLink.organization_id, TeamLink.name))
        return jsonify(team_links=[team_link_json(session, row) for row in rows])


@bp.post("")
def create():
    try:
        new = parse_new_team_link(request.get_data(cache=False))
    except InvalidTeamLink as exc:
        return json_error(400, "invalid", str(exc))
    try:
        team_link_id = create_team_link(new)
    except TeamLinkExists:
        return json_error(409, "exists", "The organization already has a team link of that name.")
    except NoPermittedUser:
        return json_error(
            409,
            "no_permitted_user",
            "No signed-in user of that organization may create shared links in Close (Manage "
            "Customizations); nothing was created.",
        )
    except ProviderError as exc:
        current_app.logger.warning("team link not created: %s", exc)
        return json_error(503, "unavailable", "Close could not be reached; nothing was created.")
    enqueue_mapping(team_link_id)
    return jsonify(_one(team_link_id)), 201


@bp.delete("/<int:team_link_id>")
def delete(team_link_id: int):
    if team_link_id > MAX_ID:  # no row has it, and the database cannot even compare it
        return json_error(404, "not_found", "No team link has that id.")
    try:
        mark_deleting(team_link_id)
    except UnknownTeamLink:
        return json_error(404, "not_found", "No team link has that id.")
    body = _one(team_link_id)
    enqueue_deletion(team_link_id)
    return jsonify(body), 202


def enqueue_mapping(team_link_id: int) -> None:
    # A broker failure is logged: each rep's next full sync maps them anyway.
    queue.try_send(queue.MAP_TEAM_LINK_REPS, team_link_id)


def enqueue_deletion(team_link_id: int) -> None:
    # A broker failure is logged: the team link stays `deleting`; DELETE again enqueues it.
    queue.try_send(queue.DELETE_TEAM_LINK, team_link_id)
