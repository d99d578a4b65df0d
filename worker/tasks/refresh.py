"""Token refresh ahead of expiry: a sweep every minute and one task per expiring connection."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from sqlalchemy import select

from worker import runtime
from worker.auth.tokens import NeedsReauth, refresh_connection
from worker.providers.errors import RateLimited, Unavailable, UnknownOutcome
from worker.schedule import REFRESH_SWEEP_SECONDS
from worker.storage.models import ACTIVE, Connection, utcnow

log = logging.getLogger(__name__)


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
        refresh_token_of.delay(connection_id)
    return len(ids)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=6)
def refresh_token_of(self, connection_id: int) -> str:
    try:
        refresh_connection(connection_id, margin_seconds=sweep_margin())
    except NeedsReauth:
        return "needs_reauth"  # recorded on the connection; nothing retries it
    except RateLimited as exc:
        raise self.retry(countdown=exc.retry_after, exc=exc) from exc
    except (Unavailable, UnknownOutcome) as exc:
        # The stored pair is untouched; try again with backoff, well before the token expires.
        raise self.retry(countdown=min(5 * 2**self.request.retries, 120), exc=exc) from exc
    return "ok"
