"""Token refresh ahead of expiry: a sweep every minute and one task per expiring connection."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from sqlalchemy import select

from worker import queue, runtime
from worker.auth.tokens import refresh_connection
from worker.providers.errors import Unavailable, UnknownOutcome
from worker.schedule import REFRESH_SWEEP_SECONDS
from worker.storage.models import ACTIVE, Connection, utcnow
from worker.tasks.policy import Backoff, PolicyTask


def sweep_margin() -> float:
    # Refresh everything that would expire before the sweep after next could reach it.
    return runtime.settings().token_refresh_margin_seconds + REFRESH_SWEEP_SECONDS


@shared_task(ignore_result=True)
def refresh_sweep() -> int:
    horizon = utcnow() + timedelta(seconds=sweep_margin())
    with runtime.session_scope() as session:
        ids = list(
            session.scalars(
                select(Connection.id).where(
                    Connection.state == ACTIVE,
                    Connection.auth_kind == "oauth",
                    Connection.refresh_token.is_not(None),
                    Connection.token_expires_at < horizon,
                )
            )
        )
    for connection_id in ids:
        queue.send(queue.REFRESH_TOKEN, connection_id)
    return len(ids)


# The stored pair is untouched by every retried failure: try again, well before the token expires.
@shared_task(
    base=PolicyTask,
    max_retries=6,
    backoff=Backoff(5, 120),
    retry_on=(Unavailable, UnknownOutcome),
)
def refresh_token_of(connection_id: int) -> str:
    refresh_connection(connection_id, margin_seconds=sweep_margin())
    return "ok"
