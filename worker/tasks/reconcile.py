"""Full and targeted reconciles, and the sweep that schedules full resyncs."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import task_received
from sqlalchemy import select

from worker import queue, runtime
from worker.storage.models import ACTIVE, Account, Connection, utcnow
from worker.sync import triggers
from worker.sync.account import AccountNotSyncable
from worker.sync.full import full_sync
from worker.sync.guard import RunGuard, RunStopped
from worker.sync.targeted import sync_event_type
from worker.tasks.policy import Backoff, PolicyTask

log = logging.getLogger(__name__)

SWEEP_SPREAD_SECONDS = 55.0


@task_received.connect
def _taken_from_the_broker(request: object = None, **_kwargs: object) -> None:
    # Runs in the worker as it takes a message, before the task runs (worker/sync/triggers.py).
    if getattr(request, "name", None) == queue.RECONCILE_ACCOUNT:
        args = getattr(request, "args", None) or ()
        if args and isinstance(args[0], int):
            triggers.received(args[0])


# A rate limit is not retried by the policy here: run_coalesced leaves the trigger standing,
# due after the provider's reset, and enqueues it for then.
@shared_task(base=PolicyTask, retry_on=())
def reconcile_account(account_id: int) -> str:
    """A full reconcile of one account, at most one at a time; extra triggers coalesce."""
    try:
        outcome = triggers.run_coalesced(
            account_id, lambda lock, trigger: full_sync(account_id, RunGuard(lock), trigger)
        )
    except AccountNotSyncable as exc:
        log.info("skipped sync: %s", exc, extra={"outcome": "not_syncable"})
        return "not_syncable"
    log.info("reconcile of account %s: %s", account_id, outcome, extra={"outcome": outcome})
    return outcome


# A failure is retried a few times for a quick answer; the next full sync repairs it anyway.
@shared_task(base=PolicyTask, max_retries=5, backoff=Backoff(60, 900))
def sync_calendly_event_type(account_id: int, event_type_uuid: str) -> str:
    """A webhook's targeted reconcile of one event type, under the account's lock. If a full
    reconcile holds the lock, a full-sync trigger is recorded instead: the running one may have
    read Calendly before this change, and its next run will see it."""
    lock = triggers.sync_lock(account_id)
    if not lock.acquire():
        triggers.request_full_sync(account_id, trigger=triggers.WEBHOOK)
        return "coalesced"
    # The task's own retry (the policy's backoff) is a `retry` run in the history.
    retried = bool(getattr(sync_calendly_event_type.request, "retries", 0))
    try:
        sync_event_type(
            account_id,
            event_type_uuid,
            RunGuard(lock),
            trigger=triggers.RETRY if retried else triggers.WEBHOOK,
        )
    except AccountNotSyncable as exc:
        log.info("skipped event type sync: %s", exc)
        return "not_syncable"
    except RunStopped as exc:
        log.warning("event type sync stopped: %s", exc)  # the next full sync covers it
        return "stopped"
    finally:
        lock.release()
        triggers.after_release(account_id)
    return "ok"


@shared_task(ignore_result=True)
def resync_sweep() -> int:
    """Enqueue every account whose full resync is due, spread over the next minute, and any
    recorded trigger that no run took up."""
    now = utcnow()
    with runtime.session_scope() as session:
        rows = session.execute(
            select(Account.id, Account.sync_failures)
            .join(Connection, Connection.account_id == Account.id)
            .where(
                Connection.provider == "close",
                Connection.state == ACTIVE,
                Account.sync_requested_seq <= Account.sync_taken_seq,
                (Account.next_full_sync_at.is_(None)) | (Account.next_full_sync_at <= now),
            )
            .order_by(Account.next_full_sync_at)
        ).all()
    due = [account_id for account_id, _ in rows]
    # A full sync that ended partial or error is due again sooner: that run is a retry.
    failing = {account_id for account_id, failures in rows if failures}
    stale = [a for a in triggers.stale_triggers(now) if not triggers.sync_running(a)]
    # A trigger whose message still waits in the broker is not enqueued again (bounded queue).
    still_waiting = triggers.waiting(stale)
    stale = [a for a in stale if a not in still_waiting]
    step = SWEEP_SPREAD_SECONDS / max(len(due), 1)
    for i, account_id in enumerate(due):
        trigger = triggers.RETRY if account_id in failing else triggers.SCHEDULE
        triggers.request_full_sync(account_id, trigger=trigger, countdown=round(i * step, 2))
    for account_id in stale:
        triggers.request_full_sync(account_id)
    if due or stale:
        log.info("resync sweep: %d due, %d stale triggers re-enqueued", len(due), len(stale))
    return len(due) + len(stale)
