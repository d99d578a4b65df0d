"""The one way work reaches the workers.

Callers name a task by its constant here and never import the task layer, so the domain
(triggers, subscriptions) and the web process depend on this module only. Two ways to send:

- `send` / `try_send`: Celery's own `apply_async` of the registered task (eager in tests that ask
  for it, countdowns, routing).
- `push`: the webhook receiver's fast path, one LPUSH of the message Celery itself would send
  (`apply_async` spends over a millisecond of Python per message: most of a delivery's budget).
  tests/webhooks/test_task_message.py compares the two field by field, and the end-to-end test
  has a real worker run it. It ties the receiver to the Redis broker the contract prescribes.

A broker that cannot take a message raises `BrokerUnavailable` (or makes `try_send` answer
False); the caller decides whether a recorded trigger makes that harmless.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import os
import socket
import uuid

import kombu.exceptions
import redis

from worker.celery_app import MAX_COUNTDOWN, celery_app

log = logging.getLogger(__name__)

RECONCILE_ACCOUNT = "worker.tasks.reconcile.reconcile_account"
SYNC_EVENT_TYPE = "worker.tasks.reconcile.sync_calendly_event_type"
REFRESH_TOKEN = "worker.tasks.refresh.refresh_token_of"
ENSURE_SUBSCRIPTION = "worker.tasks.webhooks.ensure_subscription"
DISCONNECT = "worker.tasks.disconnect.disconnect_connection"
MAP_REP_LINKS = "worker.tasks.team_links.map_rep_links"
MAP_TEAM_LINK_REPS = "worker.tasks.team_links.map_team_link_reps"
DELETE_TEAM_LINK = "worker.tasks.team_links.delete_team_link"
RETIRE_CLOSE_GRANT = "worker.tasks.grants.clean_up_retired_grant"

# What a broker that is down, unreachable or refusing raises through Celery and kombu.
BROKER_FAILURES = (redis.RedisError, OSError, kombu.exceptions.KombuError)


class BrokerUnavailable(Exception):
    """The broker did not take the message."""


_registered = False


def _ensure_registered() -> None:
    # Every task module is registered before the first send, so `send` always goes through the
    # task's own apply_async (which honours eager mode) rather than a by-name send.
    global _registered
    if not _registered:
        for module in celery_app.conf.include:
            importlib.import_module(module)
        _registered = True


def bounded_countdown(seconds: float | None) -> float | None:
    """A countdown the broker can hold: at most MAX_COUNTDOWN (a longer wait, e.g. a day's rate
    limit, is taken in steps: the task finds it still has to wait and is counted down again)."""
    return min(seconds, MAX_COUNTDOWN) if seconds else None


def send(task: str, *args: object, countdown: float | None = None) -> None:
    _ensure_registered()
    try:
        celery_app.tasks[task].apply_async(args, countdown=bounded_countdown(countdown))
    except BROKER_FAILURES as exc:
        raise BrokerUnavailable(f"{task}: {type(exc).__name__}") from exc


def try_send(task: str, *args: object, countdown: float | None = None) -> bool:
    """`send`, with a broker failure logged and answered False."""
    try:
        send(task, *args, countdown=countdown)
    except BrokerUnavailable as exc:
        log.warning("could not enqueue %s", exc)
        return False
    return True


# --- the receiver's fast path -----------------------------------------------------------------

_ORIGIN = f"gen{os.getpid()}@{socket.gethostname()}"
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
_queues: dict[str, str] = {}


def queue_of(task: str) -> str:
    """The broker list Celery's router sends `task` to (the default queue unless routed)."""
    if task not in _queues:
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


def push(client: redis.Redis, task: str, *args: object) -> None:
    """Enqueue `task(*args)` with one LPUSH onto the broker (REDIS_URL is the broker). Raises
    redis.RedisError when the broker cannot take it."""
    client.lpush(queue_of(task), task_message(task, args))
