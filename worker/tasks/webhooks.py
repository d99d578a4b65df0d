"""Calendly webhook subscriptions: one per connection, made on connect, checked every hour."""

from __future__ import annotations

import logging

from celery import shared_task

from worker import queue
from worker.calendly import refusals, rows, subscriptions
from worker.providers.errors import Forbidden
from worker.tasks.policy import Backoff, PolicyTask

log = logging.getLogger(__name__)

# The hourly check spreads its per-connection tasks over this long, well inside the hour.
CHECK_SPREAD_SECONDS = 600.0


@shared_task(base=PolicyTask, max_retries=8, backoff=Backoff(30, 1800))
def ensure_subscription(connection_id: int) -> str:
    """Give the connection exactly one healthy subscription (create, keep or re-create).

    A connection whose subscription another process is looking after (`subscriptions.Busy`)
    is looked at again shortly rather than trusted: the holder may have read it before a
    reconnect."""
    try:
        outcome = subscriptions.ensure(connection_id)
    except rows.NotSubscribable as exc:
        log.info("no webhook subscription: %s", exc)
        return "not_subscribable"
    except Forbidden as exc:
        # Not an error (CONTRACT §3): a missing scope, a plan or a permission. The resync goes
        # on either way; the reason is shown to the rep and the operator.
        refusal = refusals.classify(exc.body)
        rows.mark_polling_only(connection_id, refusal.stored())
        log.info("connection %s: polling only. %s", connection_id, refusal.words())
        return "polling_only"
    log.info("webhook subscription of connection %s: %s", connection_id, outcome)
    return outcome


@shared_task(ignore_result=True)
def check_subscriptions() -> int:
    """Hourly (beat): every active Calendly connection gets its subscription checked at
    Calendly, and re-created if Calendly disabled it or it disappeared."""
    ids = rows.connections_to_check()
    step = CHECK_SPREAD_SECONDS / max(len(ids), 1)
    for i, connection_id in enumerate(ids):
        queue.send(queue.ENSURE_SUBSCRIPTION, connection_id, countdown=round(i * step, 2))
    if ids:
        log.info("subscription check: %d connections", len(ids))
    return len(ids)
