"""Creating and deleting team links (CONTRACT §6, the `/admin/team_links` routes of §3).

Creating reserves the (organization, name) row first, so two requests for the same team link
cannot both make a shared link in Close, then creates the `SHARED` link with the grant of a
signed-in user whom Close allows to. Deleting unmaps every rep, then deletes the shared link.
Only shared links schedsync created are ever changed: each row names the one it made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from worker import runtime
from worker.storage.models import Account, TeamLink, TeamLinkMapping
from worker.sync import rep_mappings
from worker.sync.team_link_grants import as_permitted_user

log = logging.getLogger(__name__)


class TeamLinkExists(Exception):
    """The organization already has a team link of that name."""


class UnknownTeamLink(LookupError):
    pass


@dataclass(frozen=True)
class NewTeamLink:
    organization_id: str
    name: str
    calendly_slug: str | None = None
    savvycal_slug: str | None = None
    description: str | None = None


def create_team_link(new: NewTeamLink) -> int:
    """The new team link's id, its shared link made in Close. Raises TeamLinkExists,
    NoPermittedUser (nothing is created) or a ProviderError."""
    team_link_id = _reserve(new)
    try:
        created, by = as_permitted_user(
            new.organization_id, lambda api: api.create(new.name, new.description)
        )
    except BaseException:
        _release(team_link_id)
        raise
    with runtime.session_scope() as session:
        row = session.get(TeamLink, team_link_id)
        row.close_shared_link_id = created["id"]
        row.template_tag = created.get("template_tag")
        row.created_by_account_id = by
        row.state = "active"
    log.info("team link %s created in Close as %s", team_link_id, created["id"])
    return team_link_id


def _reserve(new: NewTeamLink) -> int:
    try:
        with runtime.session_scope() as session:
            row = TeamLink(
                organization_id=new.organization_id,
                name=new.name,
                calendly_slug=new.calendly_slug,
                savvycal_slug=new.savvycal_slug,
                description=new.description,
                state="creating",
            )
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError as exc:
        raise TeamLinkExists(f"{new.organization_id} already has a team link {new.name!r}") from exc


def _release(team_link_id: int) -> None:
    with runtime.session_scope() as session:
        row = session.get(TeamLink, team_link_id)
        if row is not None:
            session.delete(row)


def reps_of(team_link_id: int) -> list[int]:
    """Every account of the team link's organization (each is mapped or unmapped by the rule)."""
    with runtime.session_scope() as session:
        row = session.get(TeamLink, team_link_id)
        if row is None:
            return []
        return list(
            session.scalars(
                select(Account.id)
                .where(Account.organization_id == row.organization_id)
                .order_by(Account.id)
            )
        )


def mark_deleting(team_link_id: int) -> None:
    with runtime.session_scope() as session:
        row = session.get(TeamLink, team_link_id)
        if row is None:
            raise UnknownTeamLink(team_link_id)
        row.state = "deleting"


def delete_team_link(team_link_id: int) -> bool:
    """Unmap every rep, delete the shared link in Close, forget the team link. Safe to repeat;
    False when there was nothing left to delete. Raises RepBusy, NoPermittedUser, ProviderError
    (the task retries)."""
    with runtime.session_scope() as session:
        row = session.get(TeamLink, team_link_id)
        if row is None:
            return False
        org, shared_id, creator = (
            row.organization_id,
            row.close_shared_link_id,
            row.created_by_account_id,
        )
        mapped = list(
            session.scalars(
                select(TeamLinkMapping.account_id).where(
                    TeamLinkMapping.team_link_id == team_link_id,
                    TeamLinkMapping.close_link_id.is_not(None),
                )
            )
        )
    if shared_id:
        for account_id in mapped:
            rep_mappings.unmap_for_deletion(account_id, team_link_id)
        # 404 (False) = already gone, e.g. deleted by hand in Close.
        as_permitted_user(org, lambda api: api.delete(shared_id), prefer=[creator])
    _release(team_link_id)
    log.info("team link %s deleted (shared link %s)", team_link_id, shared_id)
    return True
