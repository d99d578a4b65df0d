"""Redis stopped and started again while web, worker and beat run: while it is down the webhook
route and /readyz answer 503 `unavailable` (so Calendly retries and the load balancer looks
away); once it is back every process recovers by itself, with nobody restarting them. The new
Redis is empty (no persistence), the worst case: queues, locks and pacing state are gone."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import timedelta

import pytest
import requests

from tests.chaos.org import Rep, admin_resync, bring_up, wait_converged
from tests.processes import wait_for, wait_log
from worker import runtime
from worker.storage.models import Connection, WebhookSubscription, utcnow
from worker.sync import triggers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def subscribe(rep: Rep) -> tuple[str, str]:
    """A webhook subscription of the rep's Calendly connection, as ensure_subscription stores
    it: (hook_id, signing_key)."""
    hook_id, key = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
    with runtime.session_scope() as session:
        conn = session.query(Connection).filter_by(account_id=rep.account_id, provider="calendly")
        session.add(
            WebhookSubscription(
                connection_id=conn.one().id, hook_id=hook_id, signing_key=key, state="active"
            )
        )
    return hook_id, key


def delivery(web: str, hook_id: str, key: str, body: bytes) -> requests.Response:
    t = int(time.time())
    v1 = hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return requests.post(
        f"{web}/webhooks/calendly/{hook_id}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Calendly-Webhook-Signature": f"t={t},v1={v1}",
        },
        timeout=30,
    )


def rename_first_event_type(sandbox, rep: Rep, name: str) -> dict:
    state = sandbox.state()
    et = next(e for e in state["calendly"]["event_types"] if rep.calendly_user_uuid in e["hosts"])
    uuid = et["uri"].rsplit("/", 1)[-1]
    return sandbox.call("PATCH", f"/calendly/event_types/{uuid}", json={"name": name})["resource"]


def test_web_worker_and_beat_recover_by_themselves_after_redis_restarts(
    stack_on_own_redis, own_redis
):
    stack = stack_on_own_redis
    sandbox, reps = bring_up(
        stack, users=3, event_types=3, savvycal_links=2, env={"SCHEDSYNC_SWEEP_SECONDS": "2"}
    )
    by_webhook, by_admin, by_sweep = reps
    hook_id, key = subscribe(by_webhook)
    _, web = stack.start_web(workers=1)
    worker = stack.start_worker(concurrency=2)
    beat = stack.start_beat()
    admin_resync(web)
    wait_converged(sandbox, reps, 30)

    own_redis.stop()
    # Changes made while Redis is away; each reaches Close by a different path afterwards.
    event_type = rename_first_event_type(sandbox, by_webhook, "Changed during the outage")
    rename_first_event_type(sandbox, by_admin, "Changed during the outage")
    rename_first_event_type(sandbox, by_sweep, "Changed during the outage")
    body = json.dumps(
        {"event": "event_type.updated", "created_at": "2026-11-22T10:00:00Z", "payload": event_type}
    ).encode()

    ready = requests.get(f"{web}/readyz", timeout=30)
    assert ready.status_code == 503 and ready.json()["error"] == "unavailable"
    refused = delivery(web, hook_id, key, body)
    assert refused.status_code == 503 and refused.json()["error"] == "unavailable"
    assert requests.get(f"{web}/healthz", timeout=30).status_code == 200  # alive, not ready
    # The worker and beat have noticed the outage before Redis comes back.
    wait_log(worker, "Connection to broker lost", timeout=30)
    wait_log(beat, "Connection refused", timeout=30)

    own_redis.start()
    wait_for(lambda: requests.get(f"{web}/readyz", timeout=5).status_code == 200, 30, what="readyz")
    # Calendly's retry of the refused delivery is taken (it was not remembered as seen).
    accepted = delivery(web, hook_id, key, body)
    assert accepted.status_code == 200 and accepted.json()["status"] == "queued"
    admin_resync(web, {"account": by_admin.close_user_id})
    # A trigger recorded long ago that no message carries: only beat's stale sweep finds it.
    triggers.record([by_sweep.account_id], not_before=utcnow() - timedelta(minutes=2))

    wait_converged(sandbox, reps, 45)
    assert worker.alive() and beat.alive()
