"""`POST /webhooks/calendly/{hook_id}`: verify, drop duplicates, enqueue (CONTRACT §3).

Checks in the contract's order, each answered before the next is looked at: size (413), content
type (415), hook (410), signature (401), JSON (400), Redis (503). A rejected request changes
nothing and enqueues nothing, and no provider is called here: the worker re-reads the event type.

Per accepted delivery the route makes two Redis round trips: a SET NX (the dedupe mark) and one
LPUSH of the task message (worker/queue.py `push`). The hook (its connection, account
and decrypted keys) is cached in-process for a few seconds, so the database is read once per
hook rather than once per delivery.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from web.errors import json_error
from web.request_body import loads_json
from worker import queue, runtime
from worker.calendly import signatures
from worker.providers.calendly.client import EVENT_TYPE_EVENTS
from worker.storage.models import ACTIVE, Connection, WebhookSubscription
from worker.sync import triggers

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)

MAX_BODY_BYTES = 1024 * 1024
DEDUPE_TTL_SECONDS = 24 * 3600
HOOK_CACHE_SECONDS = 10.0
HOOK_CACHE_SIZE = 4096
SIGNATURE_HEADER = "Calendly-Webhook-Signature"
_HOOK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A Calendly uuid goes into the worker's GET /event_types/{uuid}: nothing that bends the path.
_EVENT_TYPE_UUID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Hook:
    account_id: int
    connection_active: bool
    keys: tuple[str, ...]


class HookCache:
    """hook_id -> Hook for a few seconds. A disconnect shows up here within that time; until
    then a delivery is enqueued and the task itself finds the connection inactive."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, Hook]] = {}

    def get(self, hook_id: str) -> Hook | None:
        now = time.monotonic()
        with self._lock:
            item = self._items.get(hook_id)
        if item is not None and item[0] > now:
            return item[1]
        hook = load_hook(hook_id)
        if hook is not None:
            with self._lock:
                if len(self._items) >= HOOK_CACHE_SIZE:
                    self._items.clear()
                self._items[hook_id] = (now + HOOK_CACHE_SECONDS, hook)
        return hook


def load_hook(hook_id: str) -> Hook | None:
    with runtime.session_scope() as session:
        row = session.execute(
            select(WebhookSubscription.signing_key, Connection.account_id, Connection.state)
            .join(Connection, Connection.id == WebhookSubscription.connection_id)
            .where(WebhookSubscription.hook_id == hook_id)
        ).first()
    if row is None:
        return None
    app_key = runtime.settings().calendly_webhook_signing_key
    keys = tuple(k for k in (row.signing_key, app_key) if k)
    return Hook(row.account_id, row.state == ACTIVE, keys)


@bp.record_once
def _install_cache(state: Any) -> None:
    state.app.extensions["webhook_hooks"] = HookCache()


def read_body(limit: int) -> bytes | None:
    """The raw body, or None as soon as it is longer than `limit` (chunked bodies included)."""
    chunks: list[bytes] = []
    size = 0
    stream = request.stream
    while True:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None


def is_json_type(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def event_type_uuid(envelope: dict[str, Any]) -> str | None:
    """The event type's uuid, wherever this payload keeps its URI (the `event_type.*` payload
    shape is not documented: payload.uri, payload.event_type, or payload.event_type.uri)."""
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        return None
    nested = payload.get("event_type")
    for candidate in (
        payload.get("uri"),
        nested,
        nested.get("uri") if isinstance(nested, dict) else None,
    ):
        if isinstance(candidate, str):
            segments = urlsplit(candidate).path.rstrip("/").split("/")
            if (
                len(segments) >= 2
                and segments[-2] == "event_types"
                and _EVENT_TYPE_UUID.fullmatch(segments[-1])
            ):
                return segments[-1]
    return None


def dedupe_key(hook_id: str, body: bytes) -> str:
    """One mark per (hook, body bytes): the same bytes sent to two hooks (two reps behind one
    Calendly user, or a payload with nothing subscriber-specific) are two deliveries."""
    return f"webhook:calendly:seen:{hook_id}:{hashlib.sha256(body).hexdigest()}"


def answer(status: str, **extra: Any):
    return jsonify(status=status, **extra), 200


def unavailable():
    return json_error(503, "unavailable", "A dependency is unreachable; please retry later.")


@bp.post("/webhooks/calendly/<hook_id>")
def calendly(hook_id: str):
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        return json_error(413, "payload_too_large", "The body is larger than 1 MiB.")
    body = read_body(MAX_BODY_BYTES)
    if body is None:
        return json_error(413, "payload_too_large", "The body is larger than 1 MiB.")
    if not is_json_type(request.mimetype):
        return json_error(415, "unsupported_media_type", "The body must be JSON.")
    try:
        hook = (
            current_app.extensions["webhook_hooks"].get(hook_id)
            if _HOOK_ID.fullmatch(hook_id)
            else None
        )
    except SQLAlchemyError:
        log.warning("webhook: database unavailable while looking up a hook")
        return unavailable()
    if hook is None:
        # The database answered and holds no such hook (an id outside the format of the ones
        # we issue cannot be ours either). Calendly deletes a subscription answered 410, so a
        # stale one cleans itself up; a database error is the 503 above, never this.
        return json_error(410, "unknown_hook", "No webhook subscription has this address.")
    verdict = signatures.check(
        body, request.headers.get(SIGNATURE_HEADER), hook.keys, now=time.time()
    )
    if verdict is not signatures.Verdict.OK:
        log.info("webhook %s…: signature %s", hook_id[:6], verdict.value)
        return json_error(401, "bad_signature", "The Calendly-Webhook-Signature does not verify.")
    try:
        envelope = loads_json(body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        envelope = None
    if not isinstance(envelope, dict):
        return json_error(400, "malformed_json", "The body is not a JSON object.")

    event = envelope.get("event")
    if event not in EVENT_TYPE_EVENTS:
        return answer("ignored", reason="not a subscribed event")
    if not hook.connection_active:
        return answer("ignored", reason="connection is not active")
    return accept(hook_id, body, hook.account_id, event_type_uuid(envelope))


def accept(hook_id: str, body: bytes, account_id: int, uuid: str | None):
    key = dedupe_key(hook_id, body)
    client = runtime.redis_client()
    try:
        first = client.set(key, b"1", nx=True, ex=DEDUPE_TTL_SECONDS)
    except redis.RedisError:
        log.warning("webhook: Redis unreachable; answering 503 so Calendly retries")
        return unavailable()
    if not first:
        return answer("duplicate")
    try:
        enqueue(client, account_id, uuid)
    except (redis.RedisError, SQLAlchemyError) as exc:
        log.warning("webhook: could not enqueue (%s); answering 503", type(exc).__name__)
        try:
            client.delete(key)  # so Calendly's retry is not taken for a duplicate
        except redis.RedisError:
            log.warning("webhook: could not release the dedupe mark; the resync covers it")
        return unavailable()
    return answer("queued")


def enqueue(client: redis.Redis, account_id: int, uuid: str | None) -> None:
    if uuid is None:
        # An event type changed but this payload does not say which: sync them all.
        triggers.push_full_sync(client, account_id)
    else:
        queue.push(client, queue.SYNC_EVENT_TYPE, account_id, uuid)
