"""Calendly webhook subscriptions: one per connection, made on connect, checked every hour; and
the fast enqueue the webhook receiver uses for the task a delivery asks for.

The targeted reconcile a delivery enqueues is `worker.tasks.reconcile.sync_calendly_event_type`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import uuid

import redis
from celery import shared_task

from worker.auth.tokens import NeedsReauth
from worker.calendly import subscriptions
from worker.providers.errors import Forbidden, ProviderError, RateLimited

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


# --- enqueueing from the webhook receiver -------------------------------------------------------

_ORIGIN = f"gen{os.getpid()}@{socket.gethostname()}"
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
_queues: dict[str, str] = {}


def queue_of(task: str) -> str:
    """The broker list Celery's router sends `task` to (the default queue unless routed)."""
    if task not in _queues:
        from worker.celery_app import celery_app

        _queues[task] = celery_app.amqp.router.route({}, task)["queue"].name
    return _queues[task]


def task_message(task: str, args: tuple) -> bytes:
    """A Celery task message (protocol 2, JSON) as kombu's Redis transport stores it."""
    task_id = str(uuid.uuid4())
    body = json.dumps([list(args), {}, _EMBED]).encode()
    return json.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {
                "lang": "py",
                "task": task,
                "id": task_id,
                "shadow": None,
                "eta": None,
                "expires": None,
                "group": None,
                "group_index": None,
                "retries": 0,
                "timelimit": [None, None],
                "root_id": task_id,
                "parent_id": None,
                "argsrepr": repr(args),
                "kwargsrepr": "{}",
                "origin": _ORIGIN,
                "ignore_result": True,
                "replaced_task_nesting": 0,
                "stamped_headers": None,
                "stamps": {},
            },
            "properties": {
                "correlation_id": task_id,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue_of(task)},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    ).encode()


def push_task(client: redis.Redis, task: str, args: tuple) -> None:
    """Enqueue `task(*args)` with one LPUSH onto the broker (REDIS_URL is the broker).

    `apply_async` spends over a millisecond of Python per message (routing, signals, kombu's
    producer): most of a webhook delivery's budget. The message is the one Celery itself would
    send; tests/webhooks/test_task_message.py compares them, and the end-to-end test has a real
    worker run it. Raises redis.RedisError when the broker cannot take it.
    """
    client.lpush(queue_of(task), task_message(task, args))
