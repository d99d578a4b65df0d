"""Refresh against a real token endpoint on a socket, and from many worker processes at once: a
refresh token is spent exactly once, whatever races (CONTRACT §5 Tokens)."""

from __future__ import annotations

import multiprocessing
import queue
import time

import pytest

from tests.conftest import add_account, free_port
from tests.tokens.conftest import connection_id, expire_in, stored
from tests.tokens.fake_token_server import FakeTokenServer
from tests.tokens.refresh_child import refresh_when_told
from worker import runtime
from worker.auth.tokens import refresh_connection
from worker.tasks.refresh import refresh_token_of

PROCESSES = 20


def worker_processes():
    """A process context whose children start from a clean, single-threaded parent with the
    heavy imports done once (each child still configures its own runtime)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["worker.tasks.refresh", "worker.auth.tokens", "sqlalchemy"])
    return context


def collect(q, count: int, timeout: float) -> list:
    deadline, items = time.monotonic() + timeout, []
    while len(items) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            items.append(q.get(timeout=remaining))
        except queue.Empty:
            break
    return items


@pytest.fixture
def calendly_expiring(db_on_real_redis):
    account = add_account()
    conn_id = connection_id(account, "calendly")
    expire_in(conn_id, 300)  # inside the sweep's margin: every process sees it due
    return conn_id


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 4], ids=["one thread each", "four threads each"])
def test_twenty_processes_refreshing_one_connection_spend_its_refresh_token_once(
    db_on_real_redis, calendly_expiring, threads
):
    """Twenty worker processes, each running one refresh or (as the threads pool does) four at
    once: one token call, and every one of them ends with the new pair."""
    before = stored(calendly_expiring)
    with FakeTokenServer("cal-rt-user_A", delay=0.3) as server:
        settings = db_on_real_redis.with_overrides(calendly_auth_url=server.base_url)
        runtime.engine().dispose()  # no pooled connection of the test crosses into a child
        context = worker_processes()
        ready, results, go = context.Queue(), context.Queue(), context.Event()
        processes = [
            context.Process(
                target=refresh_when_told,
                args=(settings, calendly_expiring, ready, go, results, threads),
            )
            for _ in range(PROCESSES)
        ]
        for process in processes:
            process.start()
        try:
            assert len(collect(ready, PROCESSES, timeout=90)) == PROCESSES
            go.set()
            outcomes = collect(results, PROCESSES * threads, timeout=120)
        finally:
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()

    assert len({caller for caller, _ in outcomes}) == PROCESSES * threads
    assert [outcome for _, outcome in outcomes] == ["ok"] * PROCESSES * threads
    assert [(c.refresh_token, c.outcome) for c in server.calls] == [("cal-rt-user_A", "issued")]
    after = stored(calendly_expiring)
    assert after.state == "active"
    assert after.refresh_token == server.latest_refresh_token() == "rt-1"
    assert after.access_token == "at-1"
    assert after.token_generation == before.token_generation + 1


def test_a_reused_refresh_token_marks_needs_reauth_with_one_call_and_no_retry(
    db_on_real_redis, calendly_expiring
):
    # The endpoint has already rotated the stored token: the stored one is spent.
    with FakeTokenServer("rt-someone-else-got") as server:
        server.state.spent.add("cal-rt-user_A")
        runtime.configure(db_on_real_redis.with_overrides(calendly_auth_url=server.base_url))

        first = refresh_token_of(calendly_expiring)
        second = refresh_token_of(calendly_expiring)

    assert (first, second) == ("needs_reauth", "needs_reauth")
    assert [(c.refresh_token, c.outcome) for c in server.calls] == [("cal-rt-user_A", "reused")]
    conn = stored(calendly_expiring)
    assert (conn.state, conn.refresh_token) == ("needs_reauth", "cal-rt-user_A")


def test_a_refused_connection_is_retried_later_with_the_same_pair(
    db_on_real_redis, calendly_expiring
):
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    runtime.configure(db_on_real_redis.with_overrides(calendly_auth_url=nobody_listens))

    with pytest.raises(Exception) as failure:  # called directly, Celery's retry re-raises it
        refresh_token_of(calendly_expiring)

    assert type(failure.value).__name__ == "Unavailable"
    conn = stored(calendly_expiring)
    assert (conn.state, conn.refresh_token) == ("active", "cal-rt-user_A")
    with FakeTokenServer("cal-rt-user_A") as server:
        runtime.configure(db_on_real_redis.with_overrides(calendly_auth_url=server.base_url))
        assert refresh_token_of(calendly_expiring) == "ok"
    assert [c.outcome for c in server.calls] == ["issued"]
    assert stored(calendly_expiring).refresh_token == "rt-1"


def test_an_answer_lost_after_calendly_rotated_is_found_out_by_introspection(
    db_on_real_redis, calendly_expiring
):
    with FakeTokenServer("cal-rt-user_A") as server:
        server.state.hang = 1.5  # rotates, then answers after the client stopped waiting
        runtime.configure(
            db_on_real_redis.with_overrides(
                calendly_auth_url=server.base_url, http_timeout_seconds=0.5
            )
        )

        outcome = refresh_token_of(calendly_expiring)

    assert outcome == "needs_reauth"
    assert [c.outcome for c in server.calls] == ["issued"]  # the token was never sent twice
    assert stored(calendly_expiring).state == "needs_reauth"


def test_waiting_for_a_sibling_refresh_returns_its_pair_without_a_call(
    db_on_real_redis, calendly_expiring
):
    with FakeTokenServer("cal-rt-user_A") as server:
        runtime.configure(db_on_real_redis.with_overrides(calendly_auth_url=server.base_url))
        first = refresh_connection(calendly_expiring, margin_seconds=960)
        second = refresh_connection(calendly_expiring, margin_seconds=960)

    assert first.access_token == second.access_token == "at-1"
    assert len(server.calls) == 1
