"""The clean-up of a disconnected provider, run by the worker (the web request only marks it)."""

from __future__ import annotations

import logging

from celery import shared_task

from worker.auth.disconnect import Superseded, clean_up
from worker.auth.errors import NoCloseGrant
from worker.providers.errors import ProviderError
from worker.tasks.policy import Backoff, PolicyTask

log = logging.getLogger(__name__)


# Links stay in Close until this succeeds; the next full sync of the account also removes the
# links of a disconnected provider once Close can be written again.
@shared_task(
    base=PolicyTask,
    max_retries=10,
    backoff=Backoff(30, 3600),
    retry_on=(ProviderError, NoCloseGrant),
    retry_needs_reauth=True,
)
def disconnect_connection(connection_id: int, connect_count: int) -> str:
    try:
        clean_up(connection_id, connect_count)
    except Superseded as exc:
        log.info("disconnect clean-up skipped: %s", exc)
        return "superseded"
    return "ok"
