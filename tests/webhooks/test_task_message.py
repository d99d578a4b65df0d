"""The receiver's one-LPUSH enqueue puts exactly the message Celery itself would send, on the
list Celery would send it to (a real redis-server; a real worker runs it in test_end_to_end)."""

from __future__ import annotations

import base64
import json

from celery import Celery
from celery import current_app as celery_current_app

from worker.queue import push

TASK = "worker.tasks.reconcile.sync_calendly_event_type"
ARGS = (7, "ETAAAAAAAAAAAAAA")
VARYING = {"id", "root_id", "origin", "correlation_id", "delivery_tag", "reply_to"}


def pop_message(client) -> dict:
    assert client.llen("celery") == 1
    message = json.loads(client.rpop("celery"))
    message["body"] = json.loads(base64.b64decode(message["body"]))
    return message


def without(d: dict, keys: set[str]) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def test_the_pushed_message_is_the_one_celery_sends(real_redis, redis_server):
    # Not the current app: every later test's shared tasks would resolve to this one.
    app = Celery("reference", broker=redis_server.url, set_as_current=False)
    assert celery_current_app._get_current_object() is not app
    try:
        app.send_task(TASK, args=ARGS, ignore_result=True)
    finally:
        app.close()
    celerys = pop_message(real_redis)
    push(real_redis, TASK, *ARGS)
    ours = pop_message(real_redis)

    assert without(ours, {"headers", "properties"}) == without(celerys, {"headers", "properties"})
    assert ours["body"] == [list(ARGS), {}, celerys["body"][2]]
    assert (
        ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]
    )
    assert without(ours["headers"], VARYING) == without(celerys["headers"], VARYING)
    # Celery also copies argsrepr into the properties and names a reply queue no one reads.
    extra = set(celerys["properties"]) - set(ours["properties"])
    assert extra <= {"reply_to", "argsrepr", "kwargsrepr"}
    assert without(ours["properties"], VARYING) == without(celerys["properties"], VARYING | extra)


def test_every_message_gets_its_own_task_id(real_redis):
    push(real_redis, TASK, *ARGS)
    push(real_redis, TASK, *ARGS)
    first, second = (json.loads(m) for m in real_redis.lrange("celery", 0, -1))
    assert first["headers"]["id"] != second["headers"]["id"]
    assert first["properties"]["delivery_tag"] != second["properties"]["delivery_tag"]
