"""`kill -9` of the worker in the middle of a full resync of many accounts, then a restart: Close
converges to exactly the desired links of every account, with no duplicate or stray link. The runs
that died with the worker are picked up by the stale-trigger sweep (beat, with a short sweep
interval), after their locks expired (CONTRACT §5 "Convergence", "No lost trigger")."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.chaos.org import admin_resync, bring_up, change_links, wait_converged
from tests.processes import wait_for
from worker import runtime
from worker.storage.models import SyncRun
from worker.sync.triggers import STALE_TRIGGER_SECONDS, SYNC_LOCK_TTL

pytestmark = [pytest.mark.slow, pytest.mark.timeout(170)]

USERS, EVENT_TYPES, SAVVYCAL_LINKS = 24, 6, 4


def runs_since(moment: datetime) -> list[SyncRun]:
    with runtime.session_scope() as session:
        # Full syncs only: a webhook's one-link runs are recorded too, but only once they end.
        return list(
            session.scalars(
                select(SyncRun).where(SyncRun.started_at >= moment, SyncRun.kind == "full")
            )
        )


def running(requested_at: datetime) -> list[int]:
    return [r.account_id for r in runs_since(requested_at) if r.outcome == "running"]


def mid_resync(requested_at: datetime) -> bool:
    """Some accounts have finished their run and some are in the middle of theirs."""
    finished = {r.account_id for r in runs_since(requested_at) if r.outcome != "running"}
    return len(finished) >= 4 and bool(running(requested_at))


def test_a_worker_killed_mid_resync_leaves_every_account_exactly_converged(stack, real_redis):
    sandbox, reps = bring_up(
        stack,
        users=USERS,
        event_types=EVENT_TYPES,
        savvycal_links=SAVVYCAL_LINKS,
        env={"SCHEDSYNC_SWEEP_SECONDS": "2"},
    )
    _, web = stack.start_web(workers=1)
    worker = stack.start_worker("worker", concurrency=2)
    stack.start_beat()
    admin_resync(web)
    wait_converged(sandbox, reps, 60)  # the first sync: every account synced once

    change_links(sandbox, reps)
    sandbox.faults(provider="all", latency_ms=100)  # a slow provider keeps the resync going
    requested_at = datetime.fromisoformat(admin_resync(web)["requested_at"])
    wait_for(lambda: mid_resync(requested_at), 40, interval=0.1, what="mid-resync")
    worker.kill()
    killed_at = time.monotonic()
    in_flight = running(requested_at)  # the runs that died: they never record an end
    lock_ttls = [real_redis.pttl(f"lock:sync:{a}") for a in in_flight]
    sandbox.clear_faults()

    assert in_flight and all(0 < ttl <= SYNC_LOCK_TTL * 1000 for ttl in lock_ttls)
    stack.start_worker("worker-restarted", concurrency=2)
    wait_for(
        lambda: not any(real_redis.exists(f"lock:sync:{a}") for a in in_flight),
        SYNC_LOCK_TTL - (time.monotonic() - killed_at) + 1,
        what="the dead runs' locks to expire",
    )
    wait_converged(sandbox, reps, STALE_TRIGGER_SECONDS + 30)
    # The accounts whose runs died were synced again by runs the stale-trigger sweep started:
    # only once their trigger was a minute old.
    stale_after = requested_at + timedelta(seconds=STALE_TRIGGER_SECONDS)
    redone = {r.account_id for r in runs_since(stale_after) if r.outcome == "ok"}
    assert set(in_flight) <= redone
