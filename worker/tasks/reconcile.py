"""Full and targeted reconciles, and the sweep that schedules full resyncs."""

from __future__ import annotations

import logging

from celery import shared_task
from sqlalchemy import select

from worker import runtime
from worker.auth.tokens import NeedsReauth
from worker.providers.errors import ProviderError, RateLimited
from worker.storage.models import ACTIVE, Account, Connection, utcnow
from worker.sync import runs as sync
from worker.sync import triggers

log = logging.getLogger(__name__)

SWEEP_SPREAD_SECONDS = 55.0


@shared_task(acks_late=True, ignore_result=True)
def reconcile_account(account_id: int) -> str:
    """A full reconcile of one account, at most one at a time; extra triggers coalesce."""
    try:
        outcome = triggers.run_coalesced(account_id, lambda: sync.full_sync(account_id))
    except sync.AccountNotSyncable as exc:
        log.info("skipped sync: %s", exc, extra={"outcome": "not_syncable"})
        return "not_syncable"
    log.info("reconcile of account %s: %s", account_id, outcome, extra={"outcome": outcome})
    return outcome


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=5)
def sync_calendly_event_type(self, account_id: int, event_type_uuid: str) -> str:
    """A webhook's targeted reconcile of one event type, under the account's lock. If a full
    reconcile holds the lock, a full-sync trigger is recorded instead: the running one may have
    read Calendly before this change, and its next run will see it."""
    lock = triggers.sync_lock(account_id)
    if not lock.acquire():
        triggers.request_full_sync(account_id)
        return "coalesced"
    try:
        sync.sync_event_type(account_id, event_type_uuid)
    except sync.AccountNotSyncable as exc:
        log.info("skipped event type sync: %s", exc)
        return "not_syncable"
    except RateLimited as exc:
        raise self.retry(countdown=exc.retry_after, exc=exc) from exc
    except NeedsReauth:
        return "needs_reauth"
    except ProviderError as exc:
        # The full sync repairs it; retry a few times for a quick answer.
        raise self.retry(countdown=min(60 * 2**self.request.retries, 900), exc=exc) from exc
    finally:
        lock.release()
    return "ok"


@shared_task(ignore_result=True)
def resync_sweep() -> int:
    """Enqueue every account whose full resync is due, spread over the next minute, and any
    recorded trigger that no run took up."""
    now = utcnow()
    with runtime.session_scope() as session:
        due = list(
            session.scalars(
                select(Account.id)
                .join(Connection, Connection.account_id == Account.id)
                .where(
                    Connection.provider == "close",
                    Connection.state == ACTIVE,
                    Account.sync_requested_seq <= Account.sync_taken_seq,
                    (Account.next_full_sync_at.is_(None)) | (Account.next_full_sync_at <= now),
                )
                .order_by(Account.next_full_sync_at)
            )
        )
    stale = [a for a in triggers.stale_triggers(now) if not triggers.sync_running(a)]
    step = SWEEP_SPREAD_SECONDS / max(len(due), 1)
    for i, account_id in enumerate(due):
        triggers.request_full_sync(account_id, countdown=round(i * step, 2))
    for account_id in stale:
        triggers.request_full_sync(account_id)
    if due or stale:
        log.info("resync sweep: %d due, %d stale triggers re-enqueued", len(due), len(stale))
    return len(due) + len(stale)
