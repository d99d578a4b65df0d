"""The clean-up of a disconnected provider, run by the worker (the web request only marks it)."""

from __future__ import annotations

import logging

from celery import shared_task

from worker.auth.disconnect import Superseded, clean_up
from worker.auth.tokens import NeedsReauth
from worker.providers.errors import ProviderError, RateLimited

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=10)
def disconnect_connection(self, connection_id: int, connect_count: int) -> str:
    try:
        clean_up(connection_id, connect_count)
    except Superseded as exc:
        log.info("disconnect clean-up skipped: %s", exc)
        return "superseded"
    except RateLimited as exc:
        raise self.retry(countdown=exc.retry_after, exc=exc) from exc
    except (ProviderError, NeedsReauth) as exc:
        # Links stay in Close until this succeeds; the next full sync of the account also
        # removes the links of a disconnected provider once Close can be written again.
        raise self.retry(countdown=min(30 * 2**self.request.retries, 3600), exc=exc) from exc
    return "ok"
