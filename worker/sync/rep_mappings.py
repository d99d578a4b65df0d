"""One rep's team-link mappings made to agree with the rule (CONTRACT §6): read the inputs,
plan with `worker.sync.team_links`, send each change to Close, remember what was sent.

Each rep is mapped with that rep's own Close grant (Close lets the owner of a user link map it);
when Close refuses it, or the rep's grant is gone, a user Close allows to (Manage Customizations)
does it instead. The work for one rep is serialized by a short Redis lock, so two triggers never
interleave their map and unmap calls.

Each map and unmap Close carries out is a change of a `team_link` run in the rep's history
(CONTRACT §3), stored in the transaction that remembers the mapping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select

from worker import runtime
from worker.auth.errors import NeedsReauth
from worker.locks import RenewingLock
from worker.providers.close.shared_links import SharedLinks
from worker.providers.errors import Forbidden, NotFound, ProviderError, RateLimited
from worker.storage.models import (
    ACTIVE,
    NEEDS_REAUTH,
    Account,
    LinkMapping,
    TeamLink,
    TeamLinkMapping,
    utcnow,
)
from worker.sync import history, runs, triggers
from worker.sync.team_link_grants import NoPermittedUser, as_permitted_user, shared_links_for
from worker.sync.team_links import (
    ERROR,
    MAPPED,
    UNMATCHED,
    LastMapped,
    MappingChange,
    Rule,
    SyncedLink,
    plan_mappings,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
LOCK_SECONDS = 60  # renewed while held
LOCK_WAIT_SECONDS = 20
DELETED_IN_CLOSE = "the shared link was deleted in Close; delete this team link and create it again"


class RepBusy(Exception):
    """Another task is mapping this rep right now: look again after `retry_after` seconds."""

    retry_after = 2.0


@dataclass(frozen=True)
class Rep:
    account_id: int
    close_user_id: str
    organization_id: str
    close_connection_id: int | None  # None: the rep's Close grant is not active
    provider_states: dict[str, str]


@dataclass(frozen=True)
class TeamLinkTarget:
    id: int
    shared_link_id: str
    created_by: int | None
    name: str | None = None


@dataclass(frozen=True)
class Sent:
    """A map or unmap Close carried out, for the rep's history: the run it is a change of and
    what the mapping was before it (Close link id, link name)."""

    run: runs.OpenRun
    team_link: TeamLinkTarget
    before: tuple[str | None, str | None]

    def log(self, session, target: SyncedLink | None) -> None:  # noqa: ANN001
        after = (target.close_link_id, target.name) if target else (None, None)
        change = history.remapped(
            self.team_link.name, self.team_link.shared_link_id, self.before, after
        )
        self.run.add(session, change)


def rep_lock(account_id: int) -> RenewingLock:
    return RenewingLock(runtime.redis_client(), f"lock:team-links:{account_id}", ttl=LOCK_SECONDS)


def load_rep(session, account_id: int) -> Rep | None:  # noqa: ANN001
    account = session.get(Account, account_id)
    if account is None or not account.organization_id:
        return None
    close = account.connection("close")
    return Rep(
        account_id=account.id,
        close_user_id=account.close_user_id,
        organization_id=account.organization_id,
        close_connection_id=close.id if close is not None and close.state == ACTIVE else None,
        provider_states={c.provider: c.state for c in account.connections},
    )


def synced_links(session, rep: Rep) -> list[SyncedLink]:  # noqa: ANN001
    """The rep's links in Close, of providers still connected (a disconnected provider's links
    are on their way out of Close and never a target)."""
    connected = {p for p, s in rep.provider_states.items() if s in (ACTIVE, NEEDS_REAUTH)}
    rows = session.scalars(
        select(LinkMapping).where(
            LinkMapping.account_id == rep.account_id, LinkMapping.close_link_id.is_not(None)
        )
    )
    return [
        SyncedLink(row.provider, row.source_id, row.slug, row.close_link_id, row.name)
        for row in rows
        if row.provider in connected
    ]


def active_team_links(session, organization_id: str) -> list[TeamLink]:  # noqa: ANN001
    return list(
        session.scalars(
            select(TeamLink)
            .where(TeamLink.organization_id == organization_id, TeamLink.state == "active")
            .order_by(TeamLink.id)
        )
    )


def map_rep(account_id: int, held: Iterable[str] = (), trigger: str | None = None) -> int:
    """Make every active team link of the rep's organization resolve by its rule for this rep;
    returns how many changes were made (sent to Close or recorded). `trigger`: what asked for
    it, as the history shows. Raises RepBusy, RateLimited."""
    lock = rep_lock(account_id)
    if not lock.acquire(blocking=True, timeout=LOCK_WAIT_SECONDS):
        raise RepBusy(f"team links of account {account_id} are being mapped")
    try:
        return _map_rep_locked(account_id, set(held), trigger)
    finally:
        lock.release()


def _map_rep_locked(account_id: int, held: set[str], trigger: str | None) -> int:
    with runtime.session_scope() as session:
        rep = load_rep(session, account_id)
        if rep is None:
            return 0
        team_links = active_team_links(session, rep.organization_id)
        if not team_links:
            return 0
        links = synced_links(session, rep) if rep.close_connection_id else []
        rows = list(
            session.scalars(select(TeamLinkMapping).where(TeamLinkMapping.account_id == account_id))
        )
        last = {row.team_link_id: LastMapped(row.close_link_id, row.state) for row in rows}
        before = {row.team_link_id: (row.close_link_id, row.link_name) for row in rows}
        targets = {
            t.id: TeamLinkTarget(t.id, t.close_shared_link_id, t.created_by_account_id, t.name)
            for t in team_links
        }
        rules = [Rule(t.id, t.calendly_slug, t.savvycal_slug) for t in team_links]
    if rep.close_connection_id is None:
        held = set()  # no grant, nothing to map to: whatever was mapped is unmapped
    else:
        held |= {p for p, state in rep.provider_states.items() if state == NEEDS_REAUTH}
    changes = plan_mappings(rules, links, last, held)
    run = runs.OpenRun(account_id, kind=runs.TEAM_LINK, trigger=trigger)
    errors: list[str] = []
    try:
        for change in changes:
            target = targets[change.team_link_id]
            sent = Sent(run, target, before.get(target.id, (None, None)))
            error = send_change(rep, target, change, sent)
            if error:
                errors.append(error)
    except BaseException as exc:
        run.finish("error", f"stopped: {exc}")
        raise
    run.finish("partial" if errors else "ok", "; ".join(errors)[:500] or None)
    return len(changes)


def unmap_for_deletion(account_id: int, team_link_id: int) -> None:
    """Unmap one rep from a team link being deleted; failures are the caller's to retry."""
    lock = rep_lock(account_id)
    if not lock.acquire(blocking=True, timeout=LOCK_WAIT_SECONDS):
        raise RepBusy(f"team links of account {account_id} are being mapped")
    try:
        with runtime.session_scope() as session:
            rep = load_rep(session, account_id)
            team_link = session.get(TeamLink, team_link_id)
            if rep is None or team_link is None:
                return
            target = TeamLinkTarget(
                team_link.id,
                team_link.close_shared_link_id,
                team_link.created_by_account_id,
                team_link.name,
            )
            before = session.execute(
                select(TeamLinkMapping.close_link_id, TeamLinkMapping.link_name).where(
                    TeamLinkMapping.account_id == account_id,
                    TeamLinkMapping.team_link_id == team_link_id,
                )
            ).first() or (None, None)
        org, user = rep.organization_id, rep.close_user_id
        # The team link is being deleted by an operator: its unmaps are theirs.
        run = runs.OpenRun(account_id, kind=runs.TEAM_LINK, trigger=triggers.ADMIN)
        try:
            unmapped = _with_grant(
                rep, target, lambda api: api.unmap(org, target.shared_link_id, user)
            )
            sent = Sent(run, target, tuple(before)) if unmapped else None
            record(account_id, team_link_id, UNMATCHED, None, sent)
        except BaseException as exc:
            run.finish("error", f"stopped: {exc}")
            raise
        run.finish("ok")
    finally:
        lock.release()


def send_change(
    rep: Rep, target: TeamLinkTarget, change: MappingChange, sent: Sent | None = None
) -> str | None:
    """Send one change and remember it (with `sent`, as a change of its run when Close carried
    it out); what went wrong, or None."""
    org, user, shared_id = rep.organization_id, rep.close_user_id, target.shared_link_id
    try:
        if change.action == "map":
            link_id = change.target.close_link_id  # type: ignore[union-attr]
            _with_grant(rep, target, lambda api: api.map(org, shared_id, user, link_id))
            record(rep.account_id, target.id, MAPPED, change.target, sent)
        elif change.action == "unmap":
            # False: Close had no such mapping (404), so it changed nothing.
            unmapped = _with_grant(rep, target, lambda api: api.unmap(org, shared_id, user))
            record(rep.account_id, target.id, UNMATCHED, None, sent if unmapped else None)
        else:
            record(rep.account_id, target.id, UNMATCHED, None)
    except RateLimited:
        raise
    except NotFound:
        _not_found(rep, target, change)
        return f"{change.action} of team link {target.id}: Close answered 404"
    except (ProviderError, NoPermittedUser) as exc:
        log.warning("team link %s for %s: %s failed: %s", target.id, user, change.action, exc)
        record_error(rep.account_id, target.id, f"{change.action} failed: {exc}")
        return f"{change.action} of team link {target.id} failed: {exc}"
    return None


def _with_grant(rep: Rep, target: TeamLinkTarget, call: Callable[[SharedLinks], T]) -> T:
    """The rep's own grant first; a user Close allows to when it refuses or is gone."""
    if rep.close_connection_id is not None:
        try:
            return call(shared_links_for(rep.close_connection_id, rep.organization_id))
        except (Forbidden, NeedsReauth):
            pass
    answer, _ = as_permitted_user(
        rep.organization_id, call, prefer=[target.created_by], exclude=[rep.account_id]
    )
    return answer


def _not_found(rep: Rep, target: TeamLinkTarget, change: MappingChange) -> None:
    """A 404 names the shared link or the rep's link: ask Close which one is gone."""
    try:
        shared = _with_grant(rep, target, lambda api: api.get(target.shared_link_id))
    except (ProviderError, NoPermittedUser) as exc:
        record_error(rep.account_id, target.id, f"Close answered 404; {exc}")
        return
    if shared is None:
        # Deleted by hand: reported, never silently re-created under a new template tag.
        mark_team_link_error(target.id, DELETED_IN_CLOSE)
        return
    record_error(
        rep.account_id,
        target.id,
        f"Close has no link {getattr(change.target, 'close_link_id', None)}; the next sync "
        "re-creates it",
    )


def _row(session, account_id: int, team_link_id: int) -> TeamLinkMapping:  # noqa: ANN001
    row = session.scalars(
        select(TeamLinkMapping).where(
            TeamLinkMapping.account_id == account_id,
            TeamLinkMapping.team_link_id == team_link_id,
        )
    ).first()
    if row is None:
        row = TeamLinkMapping(account_id=account_id, team_link_id=team_link_id)
        session.add(row)
    return row


def record(
    account_id: int,
    team_link_id: int,
    state: str,
    target: SyncedLink | None,
    sent: Sent | None = None,
) -> None:
    with runtime.session_scope() as session:
        if sent is not None:
            sent.log(session, target)  # a write Close carried out, even for a team link gone since
        if session.get(TeamLink, team_link_id) is None:
            return  # deleted meanwhile
        row = _row(session, account_id, team_link_id)
        row.state = state
        row.provider = target.provider if target else None
        row.source_id = target.source_id if target else None
        row.close_link_id = target.close_link_id if target else None
        row.link_name = target.name if target else None
        row.error = None
        row.updated_at = utcnow()


def record_error(account_id: int, team_link_id: int, error: str) -> None:
    """Keep the last known close_link_id (what Close may still resolve to): the next run
    sends the mapping again because of the error state."""
    with runtime.session_scope() as session:
        if session.get(TeamLink, team_link_id) is None:
            return
        row = _row(session, account_id, team_link_id)
        row.state = ERROR
        row.error = error[:500]
        row.updated_at = utcnow()


def mark_team_link_error(team_link_id: int, error: str) -> None:
    with runtime.session_scope() as session:
        team_link = session.get(TeamLink, team_link_id)
        if team_link is not None and team_link.state == "active":
            team_link.state = "error"
            team_link.error = error
    log.warning("team link %s: %s", team_link_id, error)
