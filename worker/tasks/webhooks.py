"""Calendly webhook subscriptions: one per connection, made on connect, checked every hour.

The targeted reconcile a delivery enqueues is `worker.tasks.reconcile.sync_calendly_event_type`.
"""

from __future__ import annotations

import logging

from celery import shared_task

from worker import subscriptions
from worker.errors import Forbidden, ProviderError, RateLimited
from worker.tokens import NeedsReauth

log = logging.getLogger(__name__)

# The hourly check spreads its per-connection tasks over this long, well inside the hour.
CHECK_SPREAD_SECONDS = 600.0
BUSY_RETRY_SECONDS = 15


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=8)
def ensure_subscription(self, connection_id: int) -> str:
    """Give the connection exactly one healthy subscription (create, keep or re-create)."""
    try:
        outcome = subscriptions.ensure(connection_id)
    except subscriptions.NotSubscribable as exc:
        log.info("no webhook subscription: %s", exc)
        return "not_subscribable"
    except subscriptions.Busy as exc:
        # The holder converges to the same result, but it may have read the connection before
        # a reconnect: look again shortly rather than trust it.
        raise self.retry(countdown=BUSY_RETRY_SECONDS, exc=exc) from exc
    except Forbidden:
        # Not an error (CONTRACT §3): a free Calendly plan or a missing scope.
        subscriptions.mark_polling_only(connection_id)
        log.info(
            "connection %s: Calendly refused a webhook subscription; polling only", connection_id
        )
        return "polling_only"
    except NeedsReauth:
        return "needs_reauth"  # the reconnect enqueues this task again
    except RateLimited as exc:
        raise self.retry(countdown=exc.retry_after, exc=exc) from exc
    except ProviderError as exc:
        raise self.retry(countdown=min(30 * 2**self.request.retries, 1800), exc=exc) from exc
    log.info("webhook subscription of connection %s: %s", connection_id, outcome)
    return outcome


@shared_task(ignore_result=True)
def check_subscriptions() -> int:
    """Hourly (beat): every active Calendly connection gets its subscription checked at
    Calendly, and re-created if Calendly disabled it or it disappeared."""
    ids = subscriptions.connections_to_check()
    step = CHECK_SPREAD_SECONDS / max(len(ids), 1)
    for i, connection_id in enumerate(ids):
        ensure_subscription.apply_async((connection_id,), countdown=round(i * step, 2) or None)
    if ids:
        log.info("subscription check: %d connections", len(ids))
    return len(ids)
