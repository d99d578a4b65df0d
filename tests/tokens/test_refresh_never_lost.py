"""A refresh that succeeded is never lost (CONTRACT §5): once the token endpoint has rotated the
refresh token, the new pair is what every later refresh uses, even when the database fails to
store it (locked, down, restarting) and Redis fails too. The token endpoint here is a real one on
a socket that refuses a reused refresh token, as Calendly does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import add_account
from tests.postgres_server import postgres_server  # noqa: F401  (a fixture)
from tests.tokens.conftest import connection_id, expire_in, stored
from tests.tokens.fake_token_server import FakeTokenServer
from tests.tokens.refresh_child import refresh_once
from worker import runtime
from worker.auth import pending_pairs
from worker.auth.tokens import refresh_connection
from worker.storage import migrate
from worker.tasks.refresh import refresh_token_of


def failure_text(excinfo: pytest.ExceptionInfo) -> str:
    return f"{excinfo.value!r} {excinfo.value.__cause__!r}"


def assert_the_new_pair_is_used_from_then_on(conn_id: int, server: FakeTokenServer) -> None:
    """The next refresh stores the kept pair without a token call; a later one (a 401 on the
    new access token) spends the new refresh token, never the old one."""
    assert refresh_token_of(conn_id) == "ok"
    after = stored(conn_id)
    assert (after.state, after.access_token, after.refresh_token) == ("active", "at-1", "rt-1")
    assert len(server.calls) == 1

    again = refresh_connection(conn_id, margin_seconds=0, rejected_token="at-1")

    assert [(c.refresh_token, c.outcome) for c in server.calls] == [
        ("cal-rt-user_A", "issued"),
        ("rt-1", "issued"),
    ]
    assert (again.state, again.access_token, again.refresh_token) == ("active", "at-2", "rt-2")
    assert pending_pairs.find(conn_id, "calendly") is None


class SqliteWriteLock:
    """Another connection holding SQLite's write lock, as a long write of another process does:
    every other writer gets "database is locked" once its busy timeout has passed."""

    def __init__(self, path: str):
        self.path = path
        self.conn: sqlite3.Connection | None = None

    def take(self) -> None:
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        assert self.conn is not None, "the token call never came"
        self.conn.execute("ROLLBACK")
        self.conn.close()


@pytest.fixture
def calendly_due(settings, fake_redis, db):
    conn_id = connection_id(add_account(), "calendly")
    expire_in(conn_id, 300)  # inside the sweep's margin
    return conn_id


def configure(settings, fake_redis, server: FakeTokenServer) -> None:
    runtime.configure(
        settings.with_overrides(
            calendly_auth_url=server.base_url, database_busy_timeout_seconds=0.5
        ),
        redis_client=fake_redis,
    )


def test_a_pair_sqlite_refused_with_database_is_locked_is_stored_by_the_next_refresh(
    settings, fake_redis, calendly_due
):
    lock = SqliteWriteLock(settings.database_url.split("///", 1)[1])
    with FakeTokenServer("cal-rt-user_A") as server:
        server.state.before_answer = lock.take
        configure(settings, fake_redis, server)

        with pytest.raises(Exception) as failure:  # called directly, Celery's retry re-raises
            refresh_token_of(calendly_due)
        server.state.before_answer = None
        lock.release()

        assert "database is locked" in failure_text(failure)
        assert stored(calendly_due).refresh_token == "cal-rt-user_A"  # spent at the provider
        assert_the_new_pair_is_used_from_then_on(calendly_due, server)
    assert type(failure.value).__name__ == "StoreFailed"  # the task's policy retries it


def test_with_redis_down_too_the_pair_is_kept_encrypted_in_a_file(
    settings, fake_redis_server, fake_redis, calendly_due
):
    lock = SqliteWriteLock(settings.database_url.split("///", 1)[1])

    def redis_and_database_fail() -> None:
        fake_redis_server.connected = False
        lock.take()

    with FakeTokenServer("cal-rt-user_A") as server:
        server.state.before_answer = redis_and_database_fail
        configure(settings, fake_redis, server)

        with pytest.raises(Exception):  # noqa: B017  the database's, or Redis's at the lock
            refresh_token_of(calendly_due)
        server.state.before_answer = None
        lock.release()
        fake_redis_server.connected = True
        # Its refresh lock could not be released with Redis down: it has expired since.
        fake_redis.delete(f"lock:refresh:{calendly_due}")

        (kept,) = list(Path(settings.pending_tokens_dir).iterdir())
        assert b"rt-1" not in kept.read_bytes() and b"at-1" not in kept.read_bytes()
        assert not fake_redis.keys("tokens:pending:*")
        assert_the_new_pair_is_used_from_then_on(calendly_due, server)
        assert not kept.exists()  # cleared once the database committed it


def test_a_kept_pair_of_an_older_generation_is_dropped_unused(settings, fake_redis, calendly_due):
    """A reconnect after the failed store replaced the grant: its pair wins, the kept one is
    stale and neither stored nor used."""
    from worker.auth.accounts import store_connection
    from worker.providers.oauth import TokenGrant

    before = stored(calendly_due)
    pending_pairs.keep(
        calendly_due, "calendly", before.token_generation, TokenGrant("at-old", "rt-old", None, {})
    )
    store_connection(before.account_id, "calendly", personal_token="reconnected")

    snap = refresh_connection(calendly_due, margin_seconds=960)

    assert snap.access_token == "reconnected"
    assert pending_pairs.find(calendly_due, "calendly") is None


@pytest.mark.slow
def test_a_pair_answered_while_postgresql_stops_is_stored_once_it_is_back(
    settings,
    redis_server,
    real_redis,
    postgres_server,  # noqa: F811
):
    pg = settings.with_overrides(
        database_url=postgres_server.url,
        redis_url=redis_server.url,
        # A stop can take seconds on a loaded machine: the token call must not time out meanwhile.
        http_timeout_seconds=60.0,
    )
    runtime.configure(pg)
    migrate.upgrade(runtime.engine())
    conn_id = connection_id(add_account(), "calendly")
    expire_in(conn_id, 300)
    try:
        with FakeTokenServer("cal-rt-user_A") as server:
            server.state.before_answer = postgres_server.stop  # while the token call is in flight
            runtime.configure(pg.with_overrides(calendly_auth_url=server.base_url))

            with pytest.raises(Exception) as failure:
                refresh_token_of(conn_id)
            server.state.before_answer = None
            assert not postgres_server.running()
            assert "OperationalError" in failure_text(failure)
            postgres_server.start()

            assert stored(conn_id).refresh_token == "cal-rt-user_A"
            assert_the_new_pair_is_used_from_then_on(conn_id, server)
    finally:
        runtime.engine().dispose()


@pytest.mark.slow
def test_a_worker_killed_between_the_answer_and_the_store_loses_nothing(
    settings, redis_server, real_redis
):
    import multiprocessing
    import time

    real = settings.with_overrides(redis_url=redis_server.url)
    runtime.configure(real)
    migrate.upgrade(runtime.engine())
    conn_id = connection_id(add_account(), "calendly")
    expire_in(conn_id, 300)
    runtime.engine().dispose()  # no pooled connection of the test crosses into the child
    lock = SqliteWriteLock(settings.database_url.split("///", 1)[1])
    with FakeTokenServer("cal-rt-user_A") as server:
        server.state.before_answer = lock.take  # the worker's store then waits for the lock
        worker = real.with_overrides(
            calendly_auth_url=server.base_url,
            # The refresh lock of a dead worker expires after 2 * 2 * timeout + 10 s (30 s);
            # shorter would risk a token call timing out on a loaded machine.
            http_timeout_seconds=5.0,
            database_busy_timeout_seconds=120.0,
        )
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        child = context.Process(target=refresh_once, args=(worker, conn_id, results))
        child.start()
        try:
            deadline = time.monotonic() + 90
            while not real_redis.exists(f"tokens:pending:{conn_id}"):
                assert time.monotonic() < deadline, "the worker never kept the refreshed pair"
                assert child.is_alive(), "the worker ended before it was killed"
                time.sleep(0.05)
            child.kill()  # after the provider answered, before the database took the pair
            child.join(timeout=30)
        finally:
            if child.is_alive():
                child.kill()
            server.state.before_answer = None
            lock.release()
        assert results.empty()  # it never got to say anything: it died in the store

        runtime.configure(worker.with_overrides(http_timeout_seconds=30.0))
        assert stored(conn_id).refresh_token == "cal-rt-user_A"
        assert_the_new_pair_is_used_from_then_on(conn_id, server)


def test_a_disconnect_revokes_the_kept_pair_not_the_spent_one(calendly_due):
    """The kept pair is the live grant: a disconnect's revoke must reach it."""
    from urllib.parse import parse_qs

    import responses

    from tests.conftest import CALENDLY_AUTH
    from worker.auth.disconnect import revoke_tokens
    from worker.providers.oauth import TokenGrant

    conn = stored(calendly_due)
    pending_pairs.keep(
        calendly_due, "calendly", conn.token_generation, TokenGrant("at-kept", "rt-kept", None, {})
    )
    with responses.RequestsMock() as mocked:
        mocked.post(f"{CALENDLY_AUTH}/oauth/revoke", body="")
        revoke_tokens(conn)
        revoked = [parse_qs(c.request.body)["token"][0] for c in mocked.calls]

    assert revoked == ["rt-kept", "at-kept"]
    assert pending_pairs.find(calendly_due, "calendly") is None
    assert (stored(calendly_due).access_token, stored(calendly_due).refresh_token) == (None, None)
