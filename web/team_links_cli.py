"""`flask --app web team-links list|create|delete`: the admin API's team-link routes for an
operator at a shell (CONTRACT §6)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from web.admin_team_links import InvalidTeamLink, enqueue_deletion, enqueue_mapping
from web.admin_team_links import parse_new_team_link as parse
from web.team_links_status import team_link_json
from worker import runtime
from worker.providers.errors import ProviderError
from worker.storage.models import TeamLink
from worker.sync.team_link_grants import NoPermittedUser
from worker.sync.team_link_lifecycle import (
    TeamLinkExists,
    UnknownTeamLink,
    create_team_link,
    mark_deleting,
)

team_links = AppGroup("team-links", help="Close shared scheduling links kept mapped per rep.")


@team_links.command("list")
@click.option("--json", "as_json", is_flag=True, help="The admin API's JSON instead of lines.")
def list_command(as_json: bool) -> None:
    """Every team link and each rep's mapping."""
    with runtime.session_scope() as session:
        rows = session.scalars(select(TeamLink).order_by(TeamLink.organization_id, TeamLink.name))
        found = [team_link_json(session, row) for row in rows]
    if as_json:
        click.echo(json.dumps({"team_links": found}, indent=2))
        return
    for team_link in found:
        slugs = f"calendly={team_link['calendly_slug']} savvycal={team_link['savvycal_slug']}"
        click.echo(
            f"{team_link['id']} {team_link['organization_id']} {team_link['name']!r} "
            f"tag={team_link['template_tag']} {slugs} {team_link['state']}"
            + (f": {team_link['error']}" if team_link["error"] else "")
        )
        for m in team_link["mappings"]:
            target = m["source_id"] or m["error"] or ""
            click.echo(f"    {m['close_user_id']}: {m['state']} {target}".rstrip())


@team_links.command("create")
@click.option("--organization", "organization_id", required=True, help="Close organization id.")
@click.option("--name", required=True)
@click.option("--calendly-slug")
@click.option("--savvycal-slug")
@click.option("--description")
def create_command(
    organization_id: str,
    name: str,
    calendly_slug: str | None,
    savvycal_slug: str | None,
    description: str | None,
) -> None:
    """Create the shared link in Close and map every rep of the organization."""
    body = {"organization_id": organization_id, "name": name, "description": description}
    body |= {
        k: v for k, v in (("calendly_slug", calendly_slug), ("savvycal_slug", savvycal_slug)) if v
    }
    try:
        team_link_id = create_team_link(parse(json.dumps(body).encode()))
    except InvalidTeamLink as exc:
        raise click.UsageError(str(exc)) from None
    except TeamLinkExists:
        raise click.ClickException(
            "the organization already has a team link of that name"
        ) from None
    except NoPermittedUser:
        raise click.ClickException(
            "no signed-in user of that organization may create shared links in Close "
            "(Manage Customizations); nothing was created"
        ) from None
    except ProviderError as exc:
        raise click.ClickException(
            f"Close could not be reached; nothing was created ({exc})"
        ) from None
    enqueue_mapping(team_link_id)
    with runtime.session_scope() as session:
        tag = session.get(TeamLink, team_link_id).template_tag
    click.echo(f"created team link {team_link_id} (template tag {tag}); mapping every rep")


@team_links.command("delete")
@click.argument("team_link_id", type=int)
def delete_command(team_link_id: int) -> None:
    """Unmap every rep and delete the shared link from Close (enqueued)."""
    try:
        mark_deleting(team_link_id)
    except UnknownTeamLink:
        raise click.ClickException(f"no team link has the id {team_link_id}") from None
    enqueue_deletion(team_link_id)
    click.echo(f"deleting team link {team_link_id}")
