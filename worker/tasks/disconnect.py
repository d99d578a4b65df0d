"""The clean-up of a disconnected provider, run by the worker (the web request only marks and
records it), and the sweep that retries every clean-up not done yet."""

from __future__ import annotations

import logging

from celery import shared_task

from worker.auth import cleanups, retired_grants
from worker.auth.disconnect import Superseded, clean_up
from worker.auth.errors import NoCloseGrant
from worker.calendly.subscriptions import Busy
from worker.providers.errors import ProviderError
from worker.storage.models import utcnow
from worker.sync.triggers import SyncBusy
from worker.tasks.policy import PolicyTask

log = logging.getLogger(__name__)

# What is worth trying again later; anything else is recorded for a retry too, then raised so
# that its trace is logged.
RETRYABLE = (ProviderError, NoCloseGrant, Busy, SyncBusy)


# Retries are the clean-up record's (worker/auth/cleanups.py), not Celery's: a retry message can
# be lost with the broker, and max_retries gives up; a recorded next attempt does neither.
@shared_task(base=PolicyTask, retry_on=())
def disconnect_connection(connection_id: int, connect_count: int) -> str:
    try:
        if not cleanups.take_up(connection_id, connect_count):
            return "done_already"
        clean_up(connection_id, connect_count)
    except Superseded as exc:
        log.info("disconnect clean-up skipped: %s", exc)
        return "superseded"
    except Exception as exc:
        due = cleanups.failed(connection_id, connect_count, getattr(exc, "retry_after", None))
        if not isinstance(exc, RETRYABLE):
            raise
        log.warning(
            "disconnect clean-up of connection %s failed (%s: %s); next attempt at %s",
            connection_id,
            type(exc).__name__,
            exc,
            due.isoformat(timespec="seconds"),
        )
        return "retry_scheduled"
    return "ok"


@shared_task(ignore_result=True)
def cleanup_sweep() -> int:
    """Enqueue every pending disconnect clean-up whose next attempt is due, and every Close
    grant retired by a sign-in under another organization whose clean-up is due."""
    now = utcnow()
    sent = cleanups.enqueue_due(now)
    retired = retired_grants.enqueue_due(now)
    if sent:
        log.info("cleanup sweep: %d disconnect clean-ups enqueued", sent)
    if retired:
        log.info("cleanup sweep: %d retired Close grants enqueued", retired)
    return sent + retired
