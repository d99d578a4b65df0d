"""Team links as the admin API shows them (CONTRACT §6 `team_link`) and as a rep's connect page
explains them: what each resolves to for that rep, or why it does not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.storage.models import Account, LinkMapping, TeamLink, TeamLinkMapping
from worker.sync.team_links import ERROR, MAPPED, PENDING, UNMATCHED, Rule, no_match_reason


def team_link_json(session: Session, team_link: TeamLink) -> dict[str, Any]:
    rows = {
        row.account_id: row
        for row in session.scalars(
            select(TeamLinkMapping).where(TeamLinkMapping.team_link_id == team_link.id)
        )
    }
    reps = session.execute(
        select(Account.id, Account.close_user_id)
        .where(Account.organization_id == team_link.organization_id)
        .order_by(Account.close_user_id)
    )
    return {
        "id": team_link.id,
        "organization_id": team_link.organization_id,
        "name": team_link.name,
        "description": team_link.description,
        "template_tag": team_link.template_tag,
        "close_shared_link_id": team_link.close_shared_link_id,
        "calendly_slug": team_link.calendly_slug,
        "savvycal_slug": team_link.savvycal_slug,
        "state": team_link.state,
        "error": team_link.error,
        "mappings": [
            mapping_json(close_user_id, rows.get(account_id)) for account_id, close_user_id in reps
        ],
    }


def mapping_json(close_user_id: str, row: TeamLinkMapping | None) -> dict[str, Any]:
    if row is None:
        return {
            "close_user_id": close_user_id,
            "provider": None,
            "source_id": None,
            "close_link_id": None,
            "state": PENDING,
            "error": None,
        }
    return {
        "close_user_id": close_user_id,
        "provider": row.provider,
        "source_id": row.source_id,
        "close_link_id": row.close_link_id,
        "state": row.state,
        "error": row.error,
    }


@dataclass(frozen=True)
class RepTeamLink:
    """One line of the connect page's team-link section."""

    name: str
    template_tag: str | None
    state: str  # mapped | unmatched | pending | error
    link_name: str | None  # the rep's link it resolves to
    provider: str | None
    explanation: str | None


def rep_team_links(session: Session, account: Account) -> list[RepTeamLink]:
    if not account.organization_id:
        return []
    team_links = session.scalars(
        select(TeamLink)
        .where(
            TeamLink.organization_id == account.organization_id,
            TeamLink.state.in_(("active", "error")),
        )
        .order_by(TeamLink.name)
    )
    rows = {
        row.team_link_id: row
        for row in session.scalars(
            select(TeamLinkMapping).where(TeamLinkMapping.account_id == account.id)
        )
    }
    names = dict(
        session.execute(
            select(LinkMapping.source_id, LinkMapping.name).where(
                LinkMapping.account_id == account.id
            )
        ).all()
    )
    lines = []
    for team_link in team_links:
        row = rows.get(team_link.id)
        rule = Rule(team_link.id, team_link.calendly_slug, team_link.savvycal_slug)
        if team_link.state == "error":
            lines.append(_line(team_link, ERROR, explanation=team_link.error))
        elif row is None:
            lines.append(_line(team_link, PENDING, explanation="being mapped"))
        elif row.state == MAPPED:
            name = names.get(row.source_id or "", row.source_id)
            lines.append(_line(team_link, MAPPED, link_name=name, provider=row.provider))
        elif row.state == UNMATCHED:
            lines.append(_line(team_link, UNMATCHED, explanation=no_match_reason(rule)))
        else:
            lines.append(_line(team_link, ERROR, explanation=row.error))
    return lines


def _line(team_link: TeamLink, state: str, **fields: Any) -> RepTeamLink:
    values = {"link_name": None, "provider": None, "explanation": None} | fields
    return RepTeamLink(team_link.name, team_link.template_tag, state, **values)
