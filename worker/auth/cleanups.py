"""A disconnect's clean-up, made durable (CONTRACT §5 "Durable clean-up").

The web request records the clean-up (`cleanup_next_at`) in the same transaction that marks the
connection disconnected, and only then enqueues it. Whatever happens after that (the broker is down
at the click, a worker dies half-way, the Close grant is dead, the clean-up fails ten times in a
row) the record stays until one clean-up has finished, and the sweep (every 60 s,
worker/tasks/disconnect.py) enqueues every pending clean-up whose next attempt is due. A failed
attempt is due again after a backoff doubling from a minute to an hour: retried until it is done,
never in a tight loop.

At most one message per pending clean-up waits in the broker: a marker in Redis, set before the
message is sent and removed when a worker takes the message up, says one is waiting. It lives in
the broker's own Redis (REDIS_URL is both), so a broker that loses its messages loses their
markers with them and the next sweep sends again; it expires after the broker's visibility
timeout in case it outlives its message some other way.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import select

from worker import queue, runtime
from worker.celery_app import VISIBILITY_TIMEOUT
from worker.storage.models import DISCONNECTED, Connection, utcnow

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 60.0
MAX_RETRY_SECONDS = 3600.0
# A clean-up taken up by a worker is due again this long after, should that worker die half-way
# (a clean-up that finishes or fails sets its own next attempt first).
RUN_LEASE_SECONDS = 600.0
SWEEP_BATCH = 500


class Superseded(Exception):
    """The rep connected again since: this clean-up must not touch the new grant."""


@dataclass(frozen=True)
class PendingCleanup:
    connection_id: int
    connect_count: int  # the disconnect it belongs to: a reconnect bumps it (Superseded)


class Queued(enum.Enum):
    SENT = "sent"
    ALREADY_WAITING = "already_waiting"  # a message for it is in the broker already
    BROKER_DOWN = "broker_down"  # not sent; the sweep sends it once the broker is back


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """How long after its `attempts`-th failure a clean-up is tried again."""
    backoff = min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)
    return max(backoff, retry_after or 0.0)


def record(conn: Connection) -> None:
    """Called in the transaction that marks `conn` disconnected: its clean-up is due now."""
    conn.cleanup_next_at = utcnow()
    conn.cleanup_attempts = 0


def _marker(connection_id: int) -> str:
    return f"cleanup:queued:{connection_id}"


def enqueue(pending: PendingCleanup) -> Queued:
    """Send the clean-up to the workers unless a message for it is waiting already."""
    client = runtime.redis_client()
    try:
        if not client.set(_marker(pending.connection_id), 1, nx=True, ex=VISIBILITY_TIMEOUT):
            return Queued.ALREADY_WAITING
    except redis.RedisError as exc:
        log.warning("could not enqueue the clean-up of connection %s: %s", pending, exc)
        return Queued.BROKER_DOWN
    if queue.try_send(queue.DISCONNECT, pending.connection_id, pending.connect_count):
        return Queued.SENT
    with contextlib.suppress(redis.RedisError):  # else it expires; until then no sweep sends
        client.delete(_marker(pending.connection_id))
    return Queued.BROKER_DOWN


def _still_this_disconnect(connection_id: int, connect_count: int):
    return (
        Connection.id == connection_id,
        Connection.state == DISCONNECTED,
        Connection.connect_count == connect_count,
    )


def take_up(connection_id: int, connect_count: int) -> bool:
    """A worker starts this clean-up: its message is no longer waiting, and its next attempt is
    put a run's lease away. False when it is done already; raises Superseded when a reconnect
    came since."""
    with contextlib.suppress(redis.RedisError):  # else it expires
        runtime.redis_client().delete(_marker(connection_id))
    with runtime.session_scope() as session:
        conn = session.get(Connection, connection_id)
        if conn is None or conn.state != DISCONNECTED or conn.connect_count != connect_count:
            raise Superseded(f"connection {connection_id} changed since it was disconnected")
        if conn.cleanup_next_at is None:
            return False
        conn.cleanup_next_at = utcnow() + timedelta(seconds=RUN_LEASE_SECONDS)
        return True


def failed(connection_id: int, connect_count: int, retry_after: float | None = None) -> datetime:
    """Count a failed attempt; returns when the next one is due."""
    with runtime.session_scope() as session:
        conn = session.scalars(
            select(Connection).where(*_still_this_disconnect(connection_id, connect_count))
        ).first()
        if conn is None:
            return utcnow()  # superseded meanwhile: nothing more to do for this disconnect
        conn.cleanup_attempts = (conn.cleanup_attempts or 0) + 1
        due = utcnow() + timedelta(seconds=retry_delay(conn.cleanup_attempts, retry_after))
        conn.cleanup_next_at = due
        return due


def done_values() -> dict[str, object]:
    """The columns that say a clean-up is finished, for the update that erases the tokens."""
    return {"cleanup_next_at": None, "cleanup_attempts": 0}


def retry_now(account_id: int, provider: str) -> PendingCleanup | None:
    """Disconnect pressed again: a pending clean-up is made due now, its backoff reset. None when
    no clean-up is pending for that provider."""
    with runtime.session_scope() as session:
        conn = session.scalars(
            select(Connection).where(
                Connection.account_id == account_id,
                Connection.provider == provider,
                Connection.state == DISCONNECTED,
                Connection.cleanup_next_at.is_not(None),
            )
        ).first()
        if conn is None:
            return None
        conn.cleanup_next_at = utcnow()
        conn.cleanup_attempts = 0
        return PendingCleanup(conn.id, conn.connect_count)


def due(now: datetime) -> list[PendingCleanup]:
    with runtime.session_scope() as session:
        rows = session.execute(
            select(Connection.id, Connection.connect_count)
            .where(Connection.state == DISCONNECTED, Connection.cleanup_next_at <= now)
            .order_by(Connection.cleanup_next_at)
            .limit(SWEEP_BATCH)
        )
        return [PendingCleanup(row[0], row[1]) for row in rows]


def enqueue_due(now: datetime) -> int:
    """The sweep: enqueue every pending clean-up whose next attempt is due and whose message is
    not waiting already. Returns how many were sent. After a broker failure the rest are left
    for the next sweep (each try would wait out the client's retries)."""
    sent = 0
    for pending in due(now):
        queued = enqueue(pending)
        if queued is Queued.BROKER_DOWN:
            break
        sent += queued is Queued.SENT
    return sent
