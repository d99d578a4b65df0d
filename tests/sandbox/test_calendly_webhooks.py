"""Calendly webhook subscriptions and the signed deliveries the sandbox makes to them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from tests.sandbox.conftest import wait_for
from tests.sandbox.flows import bearer, calendly_tokens

API = "/calendly/api"
APP_KEY = "sandbox-calendly-signing-key"
EVENTS = ["event_type.created", "event_type.updated", "event_type.deleted"]


def verify(raw_body: bytes, header: str, key: str, tolerance: int = 180) -> bool:
    """Calendly's documented check (shared/reference/calendly-api.md §2.4)."""
    parts = dict(p.strip().partition("=")[::2] for p in header.split(","))
    t, v1 = parts.get("t", ""), parts.get("v1", "")
    expected = hmac.new(key.encode(), t.encode() + b"." + raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, v1) and abs(time.time() - int(t)) <= tolerance


def subscribe(sb, tokens, url, **extra):
    body = {
        "url": url,
        "events": EVENTS,
        "organization": tokens["organization"],
        "user": tokens["owner"],
        "scope": "user",
        **extra,
    }
    return sb.post(
        f"{API}/webhook_subscriptions", json=body, headers=bearer(tokens["access_token"])
    )


def test_create_returns_the_resource_without_the_signing_key_then_409_on_the_same_url(sb):
    tokens = calendly_tokens(sb)
    created = subscribe(sb, tokens, "https://hooks.test/a", signing_key="per-hook-key")
    assert created.status_code == 201
    resource = created.get_json()["resource"]
    assert resource["state"] == "active" and resource["callback_url"] == "https://hooks.test/a"
    assert resource["user"] == tokens["owner"] and resource["creator"] == tokens["owner"]
    assert resource["group"] is None and resource["retry_started_at"] is None
    assert "signing_key" not in resource
    duplicate = subscribe(sb, tokens, "https://hooks.test/a")
    assert duplicate.status_code == 409
    assert duplicate.get_json() == {
        "title": "Already Exists",
        "message": "Hook with this url already exists",
    }


def test_free_plan_user_gets_403_and_a_bad_body_gets_400(sb):
    bob = calendly_tokens(sb, "bob@example.com")
    refused = subscribe(sb, bob, "https://hooks.test/bob")
    assert refused.status_code == 403
    assert refused.get_json()["message"] == "Please upgrade your Calendly account to Standard"
    alice = calendly_tokens(sb)
    bad = subscribe(sb, alice, "https://hooks.test/x", events=["nope.created"])
    assert bad.status_code == 400 and bad.get_json()["title"] == "Invalid Argument"


def test_list_needs_organization_then_get_and_delete(sb):
    tokens = calendly_tokens(sb)
    headers = bearer(tokens["access_token"])
    uri = subscribe(sb, tokens, "https://hooks.test/list").get_json()["resource"]["uri"]
    assert sb.get(f"{API}/webhook_subscriptions?scope=user", headers=headers).status_code == 400
    listed = sb.get(
        f"{API}/webhook_subscriptions",
        headers=headers,
        query_string={
            "organization": tokens["organization"],
            "scope": "user",
            "user": tokens["owner"],
        },
    )
    assert [s["uri"] for s in listed.get_json()["collection"]] == [uri]
    path = uri.replace("http://sandbox.test", "")
    assert sb.get(path, headers=headers).get_json()["resource"]["uri"] == uri
    assert sb.delete(path, headers=headers).status_code == 204
    assert sb.delete(path, headers=headers).status_code == 404


def test_event_type_changes_are_delivered_signed_to_each_host(sb, receiver):
    alice, carol = calendly_tokens(sb), calendly_tokens(sb, "carol@example.com")
    subscribe(sb, alice, f"{receiver.url}/alice")
    subscribe(sb, carol, f"{receiver.url}/carol", signing_key="carols-own-key")
    shared = sb.post(
        "/_sandbox/calendly/event_types",
        json={
            "users": [alice["owner"], carol["owner"]],
            "name": "Pair Call",
            "pooling_type": "collective",
        },
    ).get_json()
    sb.patch(f"/_sandbox/calendly/event_types/{shared['uuid']}", json={"name": "Pair Call 2"})
    sb.delete(f"/_sandbox/calendly/event_types/{shared['uuid']}")
    wait_for(lambda: len(receiver.requests) == 6)
    by_path: dict[str, list[str]] = {}
    for request in receiver.requests:
        key = "carols-own-key" if request["path"] == "/carol" else APP_KEY
        assert verify(request["body"], request["headers"]["Calendly-Webhook-Signature"], key)
        assert request["headers"]["Content-Type"] == "application/json"
        body = json.loads(request["body"])
        assert body["payload"]["uri"] == shared["resource"]["uri"]
        by_path.setdefault(request["path"], []).append(body["event"])
    for events in by_path.values():
        assert sorted(events) == sorted(EVENTS)
    deleted = next(b for b in receiver.json_bodies() if b["event"] == "event_type.deleted")
    assert deleted["payload"]["deleted_at"] and deleted["created_by"].startswith("http://")

    # The sandbox records an attempt once its answer is back, a moment after our receiver saw it.
    def recorded():
        records = sb.get("/_sandbox/webhook_deliveries").get_json()["deliveries"]
        return records if len(records) == 6 else None

    records = wait_for(recorded)
    assert {r["outcome"] for r in records} == {"delivered"}


def test_failing_hook_is_retried_then_disabled_with_retry_started_at(make_sandbox_app, receiver):
    sb = make_sandbox_app(SANDBOX_WEBHOOK_FAILURE_WINDOW_SECONDS=0.3).test_client()
    receiver.status = 500
    tokens = calendly_tokens(sb)
    sub = subscribe(sb, tokens, f"{receiver.url}/hook").get_json()["resource"]
    uuid = (
        sb.get("/_sandbox/calendly/event_types?user=alice@example.com")
        .get_json()["event_types"][0]["uri"]
        .rsplit("/", 1)[1]
    )
    sb.patch(f"/_sandbox/calendly/event_types/{uuid}", json={"duration": 50})
    path = sub["uri"].replace("http://sandbox.test", "")
    headers = bearer(tokens["access_token"])
    disabled = wait_for(
        lambda: (
            (r := sb.get(path, headers=headers).get_json()["resource"])["state"] == "disabled" and r
        )
    )
    assert disabled["retry_started_at"] is not None
    attempts = sb.get("/_sandbox/webhook_deliveries").get_json()["deliveries"]
    assert len(attempts) >= 3 and attempts[-1]["outcome"] == "failed; subscription disabled"
    assert all(a["status"] == 500 for a in attempts)
    # A disabled hook gets nothing more.
    count = len(receiver.requests)
    sb.patch(f"/_sandbox/calendly/event_types/{uuid}", json={"duration": 55})
    time.sleep(0.2)
    assert len(receiver.requests) == count
