"""Where the sync hands over to team links: one call after each full sync, each targeted task
that wrote a link, and each disconnect. The mapping itself runs in a task of its own
(`worker.tasks.team_links`), so the sync's hot path gains two quick queries and no provider call.

A hook never fails the sync that calls it: a problem here is logged, and the next full sync
tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import exists, select, update

from worker import queue, runtime
from worker.storage.models import (
    ACTIVE,
    Account,
    Connection,
    LinkMapping,
    TeamLink,
    TeamLinkMapping,
)
from worker.sync import runs, triggers
from worker.sync.links import DesiredLink
from worker.sync.reconcile import Desired, Plan

log = logging.getLogger(__name__)


def after_full_sync(account_id: int, desired: Desired, trigger: str | None = None) -> None:
    """Remember each synced link's slug, then map the rep (and any rep of the organization whose
    Close grant is gone but who is still mapped) if the organization has team links. The
    mappings' history names the sync's `trigger` as theirs."""
    try:
        with runtime.session_scope() as session:
            # Columns, not ORM objects, and one bulk update of the rows whose slug differs:
            # after the first sync with slugs this writes nothing.
            rows = session.execute(
                select(LinkMapping.id, LinkMapping.source_id, LinkMapping.slug).where(
                    LinkMapping.account_id == account_id
                )
            )
            changed = [
                {"id": row.id, "slug": link.slug}
                for row in rows
                if (link := desired.links.get(row.source_id)) is not None
                and link.provider not in desired.held_providers
                and row.slug != link.slug
            ]
            if changed:
                session.execute(update(LinkMapping), changed)
            organization_id = session.scalar(
                select(Account.organization_id).where(Account.id == account_id)
            )
            if not organization_id or not _has_team_links(session, organization_id):
                return
            orphaned = _mapped_without_grant(session, organization_id)
        enqueue_rep(account_id, held=desired.held_providers, trigger=trigger)
        for other in orphaned:
            enqueue_rep(other, trigger=trigger)
    except Exception:
        log.warning("team links not updated after the sync of %s", account_id, exc_info=True)


def after_event_type_sync(account_id: int, link: DesiredLink | None, the_plan: Plan) -> None:
    """After a webhook's targeted task: only a link it wrote can change a mapping."""
    if not the_plan.writes:
        return
    try:
        with runtime.session_scope() as session:
            if link is not None:
                row = session.scalars(
                    select(LinkMapping).where(LinkMapping.source_id == link.source_id)
                ).first()
                if row is not None and row.slug != link.slug:
                    row.slug = link.slug
            organization_id = session.scalar(
                select(Account.organization_id).where(Account.id == account_id)
            )
            if not organization_id or not _has_team_links(session, organization_id):
                return
        enqueue_rep(account_id, trigger=triggers.WEBHOOK)
    except Exception:
        log.warning("team links not updated after an event type of %s", account_id, exc_info=True)


def after_disconnect(account_id: int) -> None:
    """The disconnected provider's links are no longer targets: re-map to the other provider's
    link, or unmap."""
    try:
        with runtime.session_scope() as session:
            organization_id = session.scalar(
                select(Account.organization_id).where(Account.id == account_id)
            )
            if not organization_id or not _has_team_links(session, organization_id):
                return
        enqueue_rep(account_id, trigger=runs.DISCONNECT)
    except Exception:
        log.warning("team links not updated after a disconnect of %s", account_id, exc_info=True)


def enqueue_rep(account_id: int, held: Iterable[str] = (), trigger: str | None = None) -> None:
    queue.send(queue.MAP_REP_LINKS, account_id, sorted(held), trigger)


def _has_team_links(session, organization_id: str) -> bool:  # noqa: ANN001
    return bool(
        session.scalar(
            select(
                exists().where(
                    TeamLink.organization_id == organization_id, TeamLink.state == "active"
                )
            )
        )
    )


def _mapped_without_grant(session, organization_id: str) -> list[int]:  # noqa: ANN001
    """Reps of the organization still mapped whose Close grant is not active (rare)."""
    active_grant = exists().where(
        Connection.account_id == Account.id,
        Connection.provider == "close",
        Connection.state == ACTIVE,
    )
    return list(
        session.scalars(
            select(Account.id)
            .join(TeamLinkMapping, TeamLinkMapping.account_id == Account.id)
            .where(
                Account.organization_id == organization_id,
                TeamLinkMapping.close_link_id.is_not(None),
                ~active_grant,
            )
            .distinct()
        )
    )
