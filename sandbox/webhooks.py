"""Calendly webhook deliveries: signed POSTs from a background thread, retried, then disabled.

Calendly retries a failing hook with exponential back-off for 24 hours, then marks the
subscription `disabled` (shared/reference/calendly-api.md §2.5); the back-off and the window are
settings so tests can see the whole life of a hook in a second. 3xx counts as a failure there, so
redirects are not followed.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from .ids import iso_utc, secret_token
from .resources import calendly_user_uri, subscription_json

if TYPE_CHECKING:
    from .context import Sandbox


def sign(key: str, timestamp: int, body: bytes) -> str:
    """The `Calendly-Webhook-Signature` value: t=<unix s>,v1=<hex HMAC-SHA256 of "t." + body>."""
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(order=True)
class PendingDelivery:
    due: float
    order: int
    id: str = field(compare=False)
    subscription_uuid: str = field(compare=False)
    event: str = field(compare=False)
    event_type_uri: str = field(compare=False)
    body: bytes = field(compare=False)
    base: str = field(compare=False)
    attempt: int = field(default=0, compare=False)


class Deliverer:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.attempts: list[dict[str, Any]] = []
        self._queue: list[PendingDelivery] = []
        self._order = itertools.count()
        self._generation = 0  # bumped by clear(), so work queued before a reset is dropped
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight = 0
        self._stopped = False

    # What the rest of the sandbox calls ----------------------------------------------------

    def enqueue(
        self, event: str, payload: dict[str, Any], hosts: set[str], org_uuid: str, base: str
    ) -> int:
        """Queue one delivery per matching active subscription; returns how many."""
        store = self.sandbox.store
        with store.lock:
            subs = [
                sub
                for sub in store.webhook_subscriptions.values()
                if sub.state == "active"
                and event in sub.events
                and (
                    (sub.scope == "user" and sub.user_uuid in hosts)
                    or (sub.scope == "organization" and sub.organization_uuid == org_uuid)
                )
            ]
            now = store.now()
            items = []
            for sub in subs:
                envelope = {
                    "event": event,
                    "created_at": iso_utc(now),
                    "created_by": calendly_user_uri(base, sub.creator_uuid),
                    "payload": payload,
                }
                body = json.dumps(envelope, separators=(",", ":")).encode()
                items.append((sub.uuid, body))
        with self._cond:
            self._ensure_started()
            for sub_uuid, body in items:
                heapq.heappush(
                    self._queue,
                    PendingDelivery(
                        due=time.monotonic(),
                        order=next(self._order),
                        id="dlv_" + secret_token(9),
                        subscription_uuid=sub_uuid,
                        event=event,
                        event_type_uri=payload["uri"],
                        body=body,
                        base=base,
                    ),
                )
            self._cond.notify_all()
        return len(items)

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()
            self._generation += 1
            self.attempts = []

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_flight

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._queue.clear()
            self._cond.notify_all()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # The background side -------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._thread is None:
            workers = int(self.sandbox.settings["SANDBOX_WEBHOOK_WORKERS"])
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="sandbox-webhook")
            self._thread = threading.Thread(
                target=self._schedule, name="sandbox-webhook-scheduler", daemon=True
            )
            self._thread.start()

    def _schedule(self) -> None:
        with self._cond:
            while not self._stopped:
                if not self._queue:
                    self._cond.wait()
                    continue
                wait = self._queue[0].due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                item = heapq.heappop(self._queue)
                self._in_flight += 1
                assert self._pool is not None
                self._pool.submit(self._attempt, item, self._generation)

    def _attempt(self, item: PendingDelivery, generation: int) -> None:
        try:
            self._deliver(item, generation)
        finally:
            with self._cond:
                self._in_flight -= 1

    def _deliver(self, item: PendingDelivery, generation: int) -> None:
        settings = self.sandbox.settings
        store = self.sandbox.store
        with store.lock:
            sub = store.webhook_subscriptions.get(item.subscription_uuid)
            if sub is None or sub.state != "active" or generation != self._generation:
                return  # deleted, disabled or reset since it was queued: Calendly drops it too
            url = sub.callback_url
            key = sub.signing_key or settings["CALENDLY_WEBHOOK_SIGNING_KEY"]
            sub_uri = subscription_json(sub, item.base)["uri"]
        timestamp = int(time.time())
        signature = sign(key, timestamp, item.body)
        record: dict[str, Any] = {
            "id": item.id,
            "attempt": item.attempt + 1,
            "subscription": sub_uri,
            "callback_url": url,
            "event": item.event,
            "event_type": item.event_type_uri,
            "sent_at": iso_utc(time.time()),
            "signature": signature,
            "body": item.body.decode(),
            "status": None,
            "error": None,
        }
        started = time.monotonic()
        try:
            timeout = float(settings["SANDBOX_WEBHOOK_TIMEOUT_SECONDS"])
            response = requests.post(
                url,
                data=item.body,
                headers={
                    "Content-Type": "application/json",
                    "Calendly-Webhook-Signature": signature,
                    "User-Agent": "Calendly-Webhooks (schedsync sandbox)",
                },
                timeout=timeout,
                allow_redirects=False,
            )
            record["status"] = response.status_code
            ok = 200 <= response.status_code < 300
        except requests.RequestException as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
            ok = False
        record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        self._settle(item, generation, record, ok)

    def _settle(
        self, item: PendingDelivery, generation: int, record: dict[str, Any], ok: bool
    ) -> None:
        settings = self.sandbox.settings
        store = self.sandbox.store
        retry_in = None
        with store.lock:
            sub = store.webhook_subscriptions.get(item.subscription_uuid)
            now = store.now()
            if ok:
                record["outcome"] = "delivered"
                if sub is not None:
                    sub.retry_started_at = None
            elif sub is None or sub.state != "active":
                record["outcome"] = "failed"
            else:
                if sub.retry_started_at is None:
                    sub.retry_started_at = now
                window = float(settings["SANDBOX_WEBHOOK_FAILURE_WINDOW_SECONDS"])
                if now - sub.retry_started_at >= window:
                    sub.state = "disabled"
                    sub.updated_at = now
                    record["outcome"] = "failed; subscription disabled"
                else:
                    record["outcome"] = "failed; will retry"
                    base = float(settings["SANDBOX_WEBHOOK_RETRY_BASE_SECONDS"])
                    cap = float(settings["SANDBOX_WEBHOOK_RETRY_MAX_SECONDS"])
                    retry_in = min(base * (2**item.attempt), cap)
        with self._cond:
            if generation != self._generation:
                return
            self.attempts.append(record)
            if retry_in is not None and not self._stopped:
                item.attempt += 1
                item.due = time.monotonic() + retry_in
                item.order = next(self._order)
                heapq.heappush(self._queue, item)
                self._cond.notify_all()
