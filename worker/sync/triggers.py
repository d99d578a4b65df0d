"""Full-sync triggers: recorded before they are enqueued, coalesced while a run is going on.

Every trigger (connect, "Sync now", admin, webhook while busy, schedule) bumps the account's
`sync_requested_seq` in the database and then enqueues `reconcile_account`. A run takes the
per-account lock, notes every trigger recorded so far, takes them up when it ends (in whatever
way), and after it has released the lock looks again: a trigger that came during the run starts
one more. A run that dies with its worker takes nothing up, so its trigger stays recorded. The
resync sweep re-enqueues a recorded trigger that no run took up within a minute, so a message or
a run lost with a worker is not waited for until the broker's visibility timeout (CONTRACT §5).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import redis
from sqlalchemy import select, update

from worker import queue, runtime
from worker.celery_app import VISIBILITY_TIMEOUT
from worker.locks import RenewingLock
from worker.providers.errors import RateLimited
from worker.storage.models import Account, utcnow

log = logging.getLogger(__name__)

# The lock lives this long after its holder stops renewing it: well inside a minute.
SYNC_LOCK_TTL = 30.0
STALE_TRIGGER_SECONDS = 60


def sync_lock(account_id: int) -> RenewingLock:
    return RenewingLock(runtime.redis_client(), f"lock:sync:{account_id}", ttl=SYNC_LOCK_TTL)


class SyncBusy(Exception):
    """A sync of the account held its lock for longer than the caller could wait."""

    retry_after = 15.0


@contextlib.contextmanager
def holding_sync_lock(account_id: int) -> Iterator[RenewingLock]:
    """Hold the account's lock, waiting for a running sync to end (raises SyncBusy after the
    lock's lifetime); a trigger recorded meanwhile is enqueued once it is released."""
    lock = sync_lock(account_id)
    if not lock.acquire(blocking=True, timeout=SYNC_LOCK_TTL):
        raise SyncBusy(f"a sync of account {account_id} is running")
    try:
        yield lock
    finally:
        lock.release()
        after_release(account_id)


def sync_running(account_id: int) -> bool:
    return bool(runtime.redis_client().exists(f"lock:sync:{account_id}"))


RECORD_BATCH = 500

# What asks for a full sync (CONTRACT §3 `run.trigger`); the run that takes the trigger up is
# recorded with it. Triggers that coalesce into one run: the newest recorded names it.
CONNECT = "connect"
SCHEDULE = "schedule"
WEBHOOK = "webhook"
SYNC_NOW = "sync_now"
ADMIN = "admin"
RETRY = "retry"


def record(
    account_ids: list[int], *, trigger: str | None = None, not_before: datetime | None = None
) -> None:
    """Record a full-sync trigger for each account (no enqueue), in one transaction.
    `trigger=None` re-records what is already there (the stale-trigger sweep's re-enqueue)."""
    if not account_ids:
        return
    values: dict[str, object] = {
        "sync_requested_seq": Account.sync_requested_seq + 1,
        "sync_requested_at": not_before or utcnow(),
    }
    if trigger is not None:
        values["sync_requested_trigger"] = trigger
    with runtime.session_scope() as session:
        for start in range(0, len(account_ids), RECORD_BATCH):
            session.execute(
                update(Account)
                .where(Account.id.in_(account_ids[start : start + RECORD_BATCH]))
                .values(values)
                .execution_options(synchronize_session=False)
            )


def request_full_sync(account_id: int, *, trigger: str | None = None, countdown: float = 0) -> bool:
    """Record a trigger, then enqueue. False when the broker could not take the message (the
    trigger stays recorded and the resync sweep enqueues it later)."""
    record([account_id], trigger=trigger, not_before=utcnow() + timedelta(seconds=countdown))
    return _enqueue(account_id, countdown)


def request_full_syncs(account_ids: list[int], *, trigger: str | None = None) -> list[int]:
    """Record a trigger for every account in one transaction, then enqueue each. Returns the
    accounts left unenqueued: after the first broker failure the rest are not tried (each try
    would wait out the client's retries); their triggers stay recorded for the resync sweep."""
    record(account_ids, trigger=trigger)
    for n, account_id in enumerate(account_ids):
        if not _enqueue(account_id, 0):
            return account_ids[n:]
    return []


# A trigger whose message is still waiting in the broker is not enqueued again (CONTRACT §5
# "Bounded queues"): the mark is set before the message is sent and cleared when a worker
# receives it (worker/tasks/reconcile.py), so it stands exactly while the message waits. A
# message that dies with a worker after that is re-enqueued by the stale-trigger sweep.
WAITING_TTL = VISIBILITY_TIMEOUT


def _waiting_key(account_id: int) -> str:
    return f"sync:waiting:{account_id}"


def _enqueue(account_id: int, countdown: float) -> bool:
    client = runtime.redis_client()
    key = _waiting_key(account_id)
    # The broker is this Redis: if the mark cannot be set, the send below fails and says so.
    with contextlib.suppress(redis.RedisError):
        client.set(key, b"1", ex=int(WAITING_TTL + (countdown or 0)))
    if queue.try_send(queue.RECONCILE_ACCOUNT, account_id, countdown=countdown):
        return True
    with contextlib.suppress(redis.RedisError):
        client.delete(key)
    return False


def received(account_id: int) -> None:
    """A worker took the account's message from the broker: it no longer waits there."""
    runtime.redis_client().delete(_waiting_key(account_id))


def waiting(account_ids: list[int]) -> set[int]:
    """The accounts whose sync message is still waiting in the broker."""
    if not account_ids:
        return set()
    pipe = runtime.redis_client().pipeline(transaction=False)
    for account_id in account_ids:
        pipe.exists(_waiting_key(account_id))
    return {a for a, found in zip(account_ids, pipe.execute(), strict=True) if found}


def push_full_sync(client: redis.Redis, account_id: int) -> None:
    """The webhook receiver's way to ask for a full sync: the trigger is recorded first, then the
    task pushed with one LPUSH (worker/queue.py `push`). If the push fails (redis.RedisError),
    the recorded trigger stays and the resync sweep enqueues it within a minute."""
    record([account_id], trigger=WEBHOOK)
    pipe = client.pipeline(transaction=False)
    pipe.set(_waiting_key(account_id), b"1", ex=int(WAITING_TTL))
    queue.push(pipe, queue.RECONCILE_ACCOUNT, account_id)
    pipe.execute()


def pending(account_id: int) -> bool:
    with runtime.session_scope() as session:
        row = session.execute(
            select(Account.sync_requested_seq, Account.sync_taken_seq).where(
                Account.id == account_id
            )
        ).first()
        return bool(row and row[0] > row[1])


def claim(account_id: int) -> tuple[int, str] | None:
    """The newest recorded trigger a run now owes, and what asked for it; None when there is
    none (a duplicate message)."""
    with runtime.session_scope() as session:
        row = session.execute(
            select(
                Account.sync_requested_seq,
                Account.sync_taken_seq,
                Account.sync_requested_trigger,
            ).where(Account.id == account_id)
        ).first()
        if row is None or row[0] <= row[1]:
            return None
        return row[0], row[2] or SCHEDULE


def take(account_id: int, seq: int) -> None:
    """Mark every trigger up to `seq` taken up: called when the run that claimed them ends."""
    with runtime.session_scope() as session:
        session.execute(
            update(Account)
            .where(Account.id == account_id, Account.sync_taken_seq < seq)
            .values(sync_taken_seq=seq)
            .execution_options(synchronize_session=False)
        )


def run_coalesced(account_id: int, run: Callable[[RenewingLock, str], object]) -> str:
    """Run `run(lock, trigger)` under the account's lock if a trigger waits: 'busy', 'idle',
    'ran', 'deferred'. A run stopped by a rate limit leaves its trigger standing, due after the
    provider's reset."""
    lock = sync_lock(account_id)
    if not lock.acquire():
        return "busy"  # the holder sees our recorded trigger when it finishes
    outcome, deferred = "idle", None
    try:
        claimed = claim(account_id)
        if claimed is not None:
            seq, trigger = claimed
            try:
                run(lock, trigger)
                outcome = "ran"
            except RateLimited as exc:
                outcome, deferred = "deferred", exc.retry_after
            finally:
                # Taken up only now, under the lock: had the worker died during the run, the
                # trigger would still be recorded and the stale-trigger sweep would enqueue it
                # again once the lock expired (taken at the start, it was lost until the next
                # scheduled resync).
                take(account_id, seq)
    finally:
        lock.release()
        if deferred is not None:
            request_full_sync(account_id, trigger=RETRY, countdown=deferred)
        else:
            after_release(account_id)
    return outcome


def after_release(account_id: int) -> None:
    """Called by whoever held the account's lock, once it is free: a trigger recorded at any
    moment while it was held (its own message found the lock taken) is enqueued now, rather
    than waiting for the stale-trigger sweep."""
    if pending(account_id):
        _enqueue(account_id, 0)  # a failure is logged; the sweep re-enqueues it


def stale_triggers(now: datetime) -> list[int]:
    cutoff = now - timedelta(seconds=STALE_TRIGGER_SECONDS)
    with runtime.session_scope() as session:
        return list(
            session.scalars(
                select(Account.id).where(
                    Account.sync_requested_seq > Account.sync_taken_seq,
                    Account.sync_requested_at < cutoff,
                )
            )
        )
