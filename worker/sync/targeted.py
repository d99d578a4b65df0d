"""A webhook becomes a Close write: one Calendly event type reconciled with exactly the full
sync's rules (CONTRACT §4)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from worker import logs
from worker.auth.connected import calendly_client, close_client
from worker.providers.calendly import NAME as CALENDLY
from worker.providers.calendly.links import add_calendly, in_users_listing
from worker.providers.close.client import IncompleteListing
from worker.providers.errors import NotFound, ProviderError
from worker.storage.models import utcnow
from worker.sync import team_link_hooks
from worker.sync.account import AccountView, ConnectionView, known_source_ids, load_account
from worker.sync.apply import Tally, apply_plan
from worker.sync.guard import RunGuard, RunStopped
from worker.sync.links import NotSynced, Selection, source_id
from worker.sync.reconcile import plan_one
from worker.sync.runs import EVENT_TYPE, note_not_synced, record_finished_run

log = logging.getLogger(__name__)


def sync_event_type(
    account_id: int,
    event_type_uuid: str,
    guard: RunGuard | None = None,
    trigger: str = "webhook",
) -> Tally:
    """Apply one Calendly event type to Close; what we pushed for it goes if it was deleted.
    Recorded as an `event_type` run of the account's history, however it ends."""
    guard = guard or RunGuard()
    view = load_account(account_id)
    logs.bind(account=view.close_user_id, provider=CALENDLY)
    conn = view.active(CALENDLY)
    if conn is None:
        return Tally()
    started_at, tally = utcnow(), Tally()
    try:
        _sync_one(view, conn, event_type_uuid, guard, tally)
    except Exception as exc:
        error = str(exc) if isinstance(exc, ProviderError | RunStopped) else type(exc).__name__
        try:
            record_finished_run(
                account_id,
                started_at,
                "error",
                tally,
                kind=EVENT_TYPE,
                trigger=trigger,
                error=error or None,
            )
        except SQLAlchemyError:
            log.warning("event type run of account %s not recorded", account_id, exc_info=True)
        raise
    outcome = "error" if tally.failed else "ok"
    error = "; ".join(tally.errors[:5]) or None
    record_finished_run(
        account_id, started_at, outcome, tally, kind=EVENT_TYPE, trigger=trigger, error=error
    )
    return tally


def _sync_one(
    view: AccountView,
    conn: ConnectionView,
    event_type_uuid: str,
    guard: RunGuard,
    tally: Tally,
) -> None:
    account_id = view.id
    selection = Selection()
    calendly = calendly_client(conn.id, conn.external_user, guard, conn.token)
    try:
        event_type = calendly.event_type(event_type_uuid)
    except NotFound:
        event_type = None  # deleted: whatever we pushed for it goes
    if event_type is not None and not in_users_listing(calendly, event_type, conn.external_user):
        # Readable by uuid, but not in the rep's own listing (a team type they no longer host, a
        # colleague's type): the full sync would not push it, so it is the same as deleted here.
        event_type = None
    sid = source_id(CALENDLY, event_type_uuid, view.close_user_id)
    if event_type is not None:
        add_calendly(selection, event_type, view.close_user_id)
    try:
        close_links = close_client(
            view.close_connection_id, view.organization_id, guard, view.close_token
        ).scheduling_links()
    except IncompleteListing as exc:
        # Only this one link is planned: the part of the listing read is as good as any.
        close_links = exc.links
    the_plan = plan_one(
        sid,
        selection.links.get(sid),
        close_links,
        close_user_id=view.close_user_id,
        our_client_id=view.our_client_id,
        known_source_ids=known_source_ids(account_id),
        skipped=sid in selection.skipped,
    )
    apply_plan(view, the_plan, tally, guard)
    not_synced = [item.as_json() for item in selection.not_synced]
    if sid in the_plan.native:
        link = selection.links[sid]
        not_synced.append(NotSynced(CALENDLY, sid, link.name, "close_native").as_json())
    note_not_synced(account_id, sid, not_synced)
    team_link_hooks.after_event_type_sync(account_id, selection.links.get(sid), the_plan)  # §6
