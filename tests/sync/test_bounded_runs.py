"""Bounded runs (CONTRACT §5): a run stops at a page cap and at a deadline of its own, deleting
nothing; a run that lost its lock writes nothing more; a Close listing that cannot be read to
its end is used as far as it goes, loudly, and nothing is deleted (issue 9.8, 9.10, 9.12)."""

from __future__ import annotations

import time

import pytest
import responses
from sqlalchemy import select

from tests.sync.fakes import FakeCalendly, FakeClose, FakeSavvyCal
from worker import runtime
from worker.providers.http import MAX_PAGES
from worker.storage.models import SyncRun
from worker.sync import triggers
from worker.sync.full import full_sync
from worker.sync.guard import RunGuard

USER = "user_A"


@pytest.fixture
def world(db):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeClose(rsps), FakeCalendly(rsps), FakeSavvyCal(rsps), rsps


@pytest.fixture
def real_world(db_real_redis):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeClose(rsps), FakeCalendly(rsps), FakeSavvyCal(rsps), rsps


def last_run(account_id: int) -> SyncRun:
    with runtime.session_scope() as session:
        run = session.scalars(
            select(SyncRun).where(SyncRun.account_id == account_id).order_by(SyncRun.id.desc())
        ).first()
        session.expunge(run)
        return run


def ours(close: FakeClose, source_prefix: str) -> list[str]:
    return sorted(
        link["source_id"]
        for link in close.of(USER)
        if link.get("source_id", "").startswith(source_prefix)
    )


def test_a_provider_that_pages_forever_fails_at_the_page_cap_and_loses_nothing(world, account):
    close, calendly, savvycal, rsps = world
    calendly.add("E1")
    savvycal.add("S1")
    full_sync(account)
    assert ours(close, "savvycal:") == [f"savvycal:S1:{USER}"]

    savvycal.links.clear()  # were it read to its end, S1 would be deleted
    savvycal.pages_forever = True
    full_sync(account)

    assert savvycal.pages_served == 1 + MAX_PAGES
    run = last_run(account)
    assert run.outcome == "partial"
    assert f"more than {MAX_PAGES} pages" in run.error
    assert ours(close, "savvycal:") == [f"savvycal:S1:{USER}"]  # nothing deleted


def test_a_run_past_its_deadline_fails_the_provider_it_was_reading_and_deletes_nothing(
    world, account
):
    close, calendly, savvycal, rsps = world
    calendly.add("E1")
    savvycal.add("S1")
    full_sync(account)
    calendly.event_types.clear()
    savvycal.links.clear()
    writes_before = len(close.writes)

    guard = RunGuard(seconds=0.0)
    time.sleep(0.01)
    full_sync(account, guard)

    run = last_run(account)
    assert run.outcome == "error"
    assert "deadline" in run.error
    assert len(close.writes) == writes_before  # nothing written, nothing deleted
    assert len(ours(close, "")) == 2


def test_a_close_that_ignores_skip_makes_the_sync_partial_with_a_warning_and_no_deletes(
    world, account
):
    close, calendly, savvycal, rsps = world
    close.page_size = 2
    for n in range(5):
        calendly.add(f"E{n}")
    full_sync(account)
    assert len(ours(close, "calendly:")) == 5

    close.honour_skip = False
    del calendly.event_types["E4"]  # would be deleted by a complete sync
    calendly.event_types["E0"]["name"] = "Renamed"
    full_sync(account)

    run = last_run(account)
    assert run.outcome == "partial"
    assert any("could not be read to its end" in w for w in run.warnings)
    assert len(ours(close, "calendly:")) == 5  # E4's link kept: not seen, so not judged
    assert any(link["name"] == "Renamed" for link in close.of(USER))


def test_a_run_that_lost_its_lock_writes_nothing_more(real_world, account):
    close, calendly, savvycal, rsps = real_world
    for n in range(4):
        calendly.add(f"E{n}")
    real_redis = runtime.redis_client()
    lock = triggers.sync_lock(account)
    assert lock.acquire()
    upserts = []

    def lose_the_lock(request):
        upserts.append(1)
        # The lock expires under the run and another run takes it (a stalled worker).
        real_redis.set(lock.key, b"another-run", px=30_000)

    close.before_upsert = lose_the_lock
    try:
        full_sync(account, RunGuard(lock))
    finally:
        lock.release()

    assert len(upserts) == 1
    run = last_run(account)
    assert run.outcome == "error" and run.error.startswith("stopped:")
    assert real_redis.get(lock.key) == b"another-run"  # never freed by the stopped run


def test_a_stalled_holder_stops_before_its_next_call(db_real_redis, account):
    lock = triggers.sync_lock(account)
    lock.ttl = 0.5
    assert lock.acquire()
    lock._stop.set()  # renewals stop, as when the holder stalls
    try:
        time.sleep(0.6)
        from worker.sync.guard import RunStopped

        with pytest.raises(RunStopped):
            RunGuard(lock).check("close")
    finally:
        lock.release()
