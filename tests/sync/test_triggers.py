"""Triggers are recorded before enqueueing, coalesce while a run goes on, and are never lost.
These run on a real redis-server: they are about the lock."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

from sqlalchemy import update

from tests.conftest import add_account
from worker import runtime
from worker.locks import RenewingLock
from worker.storage.models import Account, utcnow
from worker.sync import triggers
from worker.tasks.reconcile import resync_sweep

RECONCILE = "worker.tasks.reconcile.reconcile_account"


def test_trigger_is_recorded_before_it_is_enqueued(db_real_redis, enqueued):
    account = add_account()
    assert triggers.request_full_sync(account)
    assert triggers.pending(account)
    assert enqueued == [(RECONCILE, (account,))]


def test_a_run_takes_every_recorded_trigger_and_a_duplicate_message_does_nothing(
    db_real_redis, enqueued
):
    account = add_account()
    for _ in range(5):
        triggers.request_full_sync(account)
    runs = []
    assert triggers.run_coalesced(account, lambda lock, trigger: runs.append(1)) == "ran"
    for _ in range(4):
        assert triggers.run_coalesced(account, lambda lock, trigger: runs.append(1)) == "idle"
    assert runs == [1]


def test_a_trigger_while_a_run_holds_the_lock_is_coalesced_and_runs_once_more(
    db_real_redis, enqueued
):
    account = add_account()
    triggers.request_full_sync(account)
    enqueued.clear()
    seen = []

    def run(lock, trigger):
        # Two triggers arrive while we run: their messages find the lock taken.
        for _ in range(2):
            triggers.request_full_sync(account)
            seen.append(triggers.run_coalesced(account, lambda lock, trigger: None))

    assert triggers.run_coalesced(account, run) == "ran"
    assert seen == ["busy", "busy"]
    # After the run: exactly one more message for the run that takes both triggers up.
    assert enqueued.count((RECONCILE, (account,))) == 3  # 2 from the triggers + 1 re-run
    runs = []
    assert triggers.run_coalesced(account, lambda lock, trigger: runs.append(1)) == "ran"
    assert triggers.run_coalesced(account, lambda lock, trigger: runs.append(1)) == "idle"
    assert runs == [1]


def test_a_rate_limited_run_keeps_its_trigger_due_after_the_reset(db_real_redis, enqueued):
    from worker.providers.errors import RateLimited

    account = add_account()
    triggers.request_full_sync(account)
    enqueued.clear()

    def run(lock, trigger):
        raise RateLimited(42.0, provider="close")

    assert triggers.run_coalesced(account, run) == "deferred"
    assert triggers.pending(account)
    assert enqueued == [(RECONCILE, (account,))]


def test_sweep_enqueues_due_accounts_spread_over_the_minute_and_not_twice(
    db_real_redis, monkeypatch
):
    ids = [add_account(f"user_{i}") for i in range(4)]
    sent = []
    from worker.tasks import reconcile

    monkeypatch.setattr(
        reconcile.reconcile_account,
        "apply_async",
        lambda args, countdown=None: sent.append((args[0], countdown)),
    )
    assert resync_sweep() == 4
    assert sorted(a for a, _ in sent) == ids
    countdowns = sorted(c or 0 for _, c in sent)
    assert countdowns[0] == 0 and countdowns[-1] <= 55 and len(set(countdowns)) == 4
    sent.clear()
    assert resync_sweep() == 0  # triggers recorded and not yet taken: nothing doubled


def test_sweep_re_enqueues_a_trigger_that_no_run_took_up_within_a_minute(
    db_real_redis, monkeypatch
):
    account = add_account()
    with runtime.session_scope() as session:
        session.execute(
            update(Account).values(
                next_full_sync_at=utcnow() + timedelta(hours=1),
                sync_requested_seq=3,
                sync_taken_seq=2,
                sync_requested_at=utcnow() - timedelta(seconds=61),
            )
        )
    sent = []
    from worker.tasks import reconcile

    monkeypatch.setattr(
        reconcile.reconcile_account,
        "apply_async",
        lambda args, countdown=None: sent.append(args[0]),
    )
    assert resync_sweep() == 1
    assert sent == [account]


def test_enqueue_failure_keeps_the_trigger_recorded(db_real_redis, monkeypatch):
    import redis as redis_lib

    from worker.tasks import reconcile

    account = add_account()

    def broker_down(*args, **kwargs):
        raise redis_lib.ConnectionError("broker down")

    monkeypatch.setattr(reconcile.reconcile_account, "apply_async", broker_down)
    assert triggers.request_full_sync(account) is False
    assert triggers.pending(account)


def test_sync_lock_expires_well_within_a_minute_of_its_holder_dying(real_redis, redis_server):
    assert triggers.SYNC_LOCK_TTL <= 60
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import time, redis
            from worker.locks import RenewingLock
            lock = RenewingLock(redis.Redis.from_url({redis_server.url!r}), "lock:t", ttl=1.5)
            assert lock.acquire()
            print("held", flush=True)
            time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        time.sleep(3)  # two lifetimes: only renewal keeps it
        assert real_redis.exists("lock:t")
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=5)
        deadline = time.monotonic() + 3
        while real_redis.exists("lock:t") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not real_redis.exists("lock:t")
        other = RenewingLock(real_redis, "lock:t", ttl=1.5)
        assert other.acquire()
        other.release()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_lock_that_expired_under_its_holder_is_not_released_by_it(real_redis):
    first = RenewingLock(real_redis, "lock:x", ttl=5)
    assert first.acquire()
    first._stop.set()  # stop renewing, then let it lapse
    real_redis.delete("lock:x")
    second = RenewingLock(real_redis, "lock:x", ttl=5)
    assert second.acquire()
    first.release()
    assert second.held()
    second.release()


def test_a_running_sync_keeps_its_trigger_recorded_until_it_ends(db_real_redis, enqueued):
    # Were the worker to die mid-run, the trigger would still be there for the stale sweep.
    account = add_account()
    triggers.request_full_sync(account)
    during = []
    assert triggers.run_coalesced(
        account, lambda lock, trigger: during.append(triggers.pending(account))
    )
    assert during == [True]
    assert not triggers.pending(account)
