"""Fixtures for the webhook receiver and the subscription lifecycle: a stored subscription, signed
deliveries, and a stateful Calendly webhook-subscription API on `responses`."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from tests.conftest import CALENDLY_API
from worker import runtime
from worker.calendly.signatures import sign
from worker.storage.models import Connection, WebhookSubscription

SUB_KEY = "subscription-signing-key"
APP_KEY = "calendly-app-signing-key"  # tests/conftest.py make_settings
EVENT_TYPE_UUID = "ETAAAAAAAAAAAAAA"


def calendly_connection_id(account_id: int) -> int:
    with runtime.session_scope() as session:
        conn = session.query(Connection).filter_by(account_id=account_id, provider="calendly")
        return conn.one().id


def add_subscription(
    connection_id: int,
    *,
    hook_id: str | None = None,
    key: str = SUB_KEY,
    state: str = "active",
    calendly_uri: str | None = None,
) -> WebhookSubscription:
    with runtime.session_scope() as session:
        sub = WebhookSubscription(
            connection_id=connection_id,
            hook_id=hook_id or uuid.uuid4().hex,
            signing_key=key,
            state=state,
            calendly_uri=calendly_uri,
        )
        session.add(sub)
        session.flush()
        session.expunge(sub)
        return sub


@pytest.fixture
def hook(account) -> WebhookSubscription:
    """An active subscription of the account's Calendly connection."""
    return add_subscription(
        calendly_connection_id(account),
        calendly_uri=f"{CALENDLY_API}/webhook_subscriptions/SUB-EXISTING",
    )


def queued_tasks(client) -> list[tuple[str, tuple]]:
    """(task name, args) of every message on the broker's default queue, oldest first."""
    tasks = []
    for raw in reversed(client.lrange("celery", 0, -1)):  # LPUSH puts the newest first
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], tuple(args)))
    return tasks


@pytest.fixture
def queued(fake_redis):
    """Call it for what the receiver has enqueued so far."""
    return lambda: queued_tasks(fake_redis)


def envelope(event: str = "event_type.updated", payload: dict | None = None, **extra) -> dict:
    if payload is None:
        payload = {"uri": f"{CALENDLY_API}/event_types/{EVENT_TYPE_UUID}", "name": "30 Minute"}
    return {
        "event": event,
        "created_at": "2026-11-22T10:00:00.000000Z",
        "created_by": f"{CALENDLY_API}/users/U-user_A",
        "payload": payload,
        **extra,
    }


def body_of(data: dict) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def signed_headers(body: bytes, key: str = SUB_KEY, at: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if at is None else at)
    return {
        "Content-Type": "application/json",
        "Calendly-Webhook-Signature": sign(key, timestamp, body),
    }


def deliver(client, hook_id: str, body: bytes, **headers):
    all_headers = {**signed_headers(body), **headers}
    return client.post(f"/webhooks/calendly/{hook_id}", data=body, headers=all_headers)


class FakeCalendlyHooks:
    """Calendly's /webhook_subscriptions as a little world: create, get, list, delete, with the
    unique-URL rule, the free-plan 403, and a log of every call in order."""

    def __init__(self, rsps: responses.RequestsMock):
        self.subs: dict[str, dict] = {}  # uuid -> resource (+ "signing_key")
        self.calls: list[tuple[str, str]] = []
        self.forbid_create: bool | dict = False
        self.on_create = None  # called with the request before a create is answered
        self._n = 0
        base = re.escape(CALENDLY_API) + r"/webhook_subscriptions"
        rsps.add_callback(responses.POST, f"{CALENDLY_API}/webhook_subscriptions", self._create)
        rsps.add_callback(responses.GET, re.compile(base + r"\?.*$"), self._list)
        rsps.add_callback(responses.GET, re.compile(base + r"/([^/?]+)$"), self._get)
        rsps.add_callback(responses.DELETE, re.compile(base + r"/([^/?]+)$"), self._delete)

    def add(self, callback_url: str, state: str = "active") -> dict:
        self._n += 1
        sub_uuid = f"SUB{self._n:04d}"
        sub = {
            "uri": f"{CALENDLY_API}/webhook_subscriptions/{sub_uuid}",
            "callback_url": callback_url,
            "state": state,
            "events": ["event_type.created", "event_type.updated", "event_type.deleted"],
            "scope": "user",
            "organization": f"{CALENDLY_API}/organizations/O1",
            "user": f"{CALENDLY_API}/users/U-user_A",
            "retry_started_at": None,
        }
        self.subs[sub_uuid] = sub
        return sub

    def live(self) -> list[dict]:
        return [s for s in self.subs.values() if s["state"] == "active"]

    @staticmethod
    def _uuid(request) -> str:
        return urlsplit(request.url).path.rstrip("/").rsplit("/", 1)[-1]

    def _create(self, request):
        body = json.loads(request.body)
        self.calls.append(("create", body["url"]))
        if self.on_create is not None:
            self.on_create(request)
        if self.forbid_create:
            # True: the plan refusal; a dict: that answer's body (a scope refusal, ...).
            refusal = (
                self.forbid_create
                if isinstance(self.forbid_create, dict)
                else {
                    "title": "Permission Denied",
                    "message": "Please upgrade your Calendly account to Standard",
                }
            )
            return 403, {}, json.dumps(refusal)
        if any(s["callback_url"] == body["url"] for s in self.subs.values()):
            return (
                409,
                {},
                json.dumps(
                    {"title": "Already Exists", "message": "Hook with this url already exists"}
                ),
            )
        sub = self.add(body["url"])
        sub["signing_key"] = body.get("signing_key")
        sub["requested"] = body
        return 201, {}, json.dumps({"resource": _public(sub)})

    def _get(self, request):
        sub_uuid = self._uuid(request)
        self.calls.append(("get", sub_uuid))
        sub = self.subs.get(sub_uuid)
        if sub is None:
            return 404, {}, json.dumps({"title": "Resource Not Found", "message": "gone"})
        return 200, {}, json.dumps({"resource": _public(sub)})

    def _list(self, request):
        qs = parse_qs(urlsplit(request.url).query)
        self.calls.append(("list", qs.get("user", [""])[0]))
        items = [_public(s) for s in self.subs.values()]
        return (
            200,
            {},
            json.dumps(
                {
                    "collection": items,
                    "pagination": {"count": len(items), "next_page": None, "next_page_token": None},
                }
            ),
        )

    def _delete(self, request):
        sub_uuid = self._uuid(request)
        self.calls.append(("delete", sub_uuid))
        if self.subs.pop(sub_uuid, None) is None:
            return 404, {}, json.dumps({"title": "Resource Not Found", "message": "gone"})
        return 204, {}, ""


def _public(sub: dict) -> dict:
    return {k: v for k, v in sub.items() if k not in ("signing_key", "requested")}


@pytest.fixture
def calendly_hooks():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeCalendlyHooks(rsps)
