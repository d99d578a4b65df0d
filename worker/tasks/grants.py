"""The clean-up of a Close grant retired by a sign-in under another organization
(worker/auth/retired_grants.py); the clean-up sweep (worker/tasks/disconnect.py) retries it."""

from __future__ import annotations

import logging

from celery import shared_task

from worker.auth import retired_grants
from worker.providers.errors import ProviderError
from worker.tasks.policy import PolicyTask

log = logging.getLogger(__name__)

RETRYABLE = (ProviderError, retired_grants.Busy)


# Retries are the retired row's (next_attempt_at, sent again by the sweep), not Celery's: a
# retry message can be lost with the broker, a recorded next attempt cannot.
@shared_task(base=PolicyTask, retry_on=())
def clean_up_retired_grant(retired_id: int) -> str:
    try:
        return retired_grants.clean_up(retired_id)
    except retired_grants.Busy:
        return "busy"  # the holder finishes it, or its lease makes it due again
    except Exception as exc:
        due = retired_grants.failed(retired_id, getattr(exc, "retry_after", None))
        if not isinstance(exc, RETRYABLE):
            raise
        log.warning(
            "clean-up of retired Close grant %s failed (%s: %s); next attempt at %s",
            retired_id,
            type(exc).__name__,
            exc,
            due.isoformat(timespec="seconds"),
        )
        return "retry_scheduled"
