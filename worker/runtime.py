"""Per-process resources built from the settings: database engine, Redis client, secret box.

Everything is created on first use from the environment, or from the settings handed to
`configure()` (the web app factory and the tests do that).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from worker.auth.crypto import SecretBox
from worker.config import Settings, load_settings
from worker.log_guards import guard_library_loggers

# Every process that can open the database or make a token call imports this module first.
guard_library_loggers()

_lock = threading.RLock()
_state: dict[str, object] = {}


def configure(settings: Settings, *, redis_client: redis.Redis | None = None) -> None:
    """Install `settings` for this process, dropping resources built from older settings."""
    with _lock:
        engine = _state.get("engine")
        if isinstance(engine, Engine):
            engine.dispose()
        _state.clear()
        _state["settings"] = settings
        if redis_client is not None:
            _state["redis"] = redis_client


def settings() -> Settings:
    with _lock:
        if "settings" not in _state:
            _state["settings"] = load_settings()
        return _state["settings"]  # type: ignore[return-value]


def engine() -> Engine:
    with _lock:
        if "engine" not in _state:
            current = settings()
            _state["engine"] = make_engine(
                current.database_url,
                current.worker_concurrency,
                busy_timeout=current.database_busy_timeout_seconds,
            )
        return _state["engine"]  # type: ignore[return-value]


# Connections kept open when idle; under load a process opens up to one more per thread of its
# pool (WORKER_CONCURRENCY), so no sync thread waits for another's connection. Sessions are
# short (never held across a provider call), so most of those threads hold none at a time.
IDLE_CONNECTIONS = 5


def make_engine(url: str, concurrency: int = 1, *, busy_timeout: float = 30.0) -> Engine:
    pool = {"pool_size": IDLE_CONNECTIONS, "max_overflow": max(concurrency, 5)}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        on_disk = {**pool} if path and path != ":memory:" else {}
        eng = create_engine(
            url, connect_args={"timeout": busy_timeout, "check_same_thread": False}, **on_disk
        )

        @event.listens_for(eng, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # web, worker and beat write at once: WAL lets readers go on while one writes, and
            # the busy timeout makes a writer wait for the lock instead of failing.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return eng
    return create_engine(url, pool_pre_ping=True, **pool)


def session_factory() -> sessionmaker[Session]:
    with _lock:
        if "sessions" not in _state:
            _state["sessions"] = sessionmaker(engine(), expire_on_commit=False)
        return _state["sessions"]  # type: ignore[return-value]


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def redis_client() -> redis.Redis:
    with _lock:
        if "redis" not in _state:
            _state["redis"] = redis.Redis.from_url(
                settings().redis_url, socket_timeout=5, socket_connect_timeout=2
            )
        return _state["redis"]  # type: ignore[return-value]


def secret_box() -> SecretBox:
    with _lock:
        if "box" not in _state:
            _state["box"] = SecretBox(settings().encryption_keys)
        return _state["box"]  # type: ignore[return-value]
