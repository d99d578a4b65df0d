"""The one `Sandbox` object behind an app: store, limiters, traffic record, faults, deliveries."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from flask import current_app, request

from . import persistence
from .edits import Notify
from .faults import Faults
from .ratelimit import FixedWindowLimiter, SlidingLogLimiter, Traffic
from .resources import event_type_json
from .seed import seed_demo
from .store import EventType, Store
from .webhooks import Deliverer

log = logging.getLogger(__name__)


class Sandbox:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.traffic = Traffic()
        self.faults = Faults()
        self.close_limiter = FixedWindowLimiter(0, 1)
        self.calendly_limiter = FixedWindowLimiter(0, 1)
        self.calendly_token_limiter = SlidingLogLimiter(
            settings["SANDBOX_CALENDLY_TOKENS_PER_MINUTE"]
        )
        self.store = Store()
        self.deliverer = Deliverer(self)
        state_file = settings.get("SANDBOX_STATE_FILE")
        self.state_file = Path(state_file) if state_file else None
        self._save_lock = threading.Lock()
        self.reset(settings["SANDBOX_SEED"])
        saved = persistence.read(self.state_file) if self.state_file else None
        if saved is not None:
            self.store = saved
            log.info("sandbox state loaded from %s", self.state_file)

    def save(self) -> None:
        """Write the world to --state-file, if one was given (after each changing request)."""
        if self.state_file is None:
            return
        with self._save_lock:  # two writers would race on the rename
            persistence.save(self.store, self.state_file)

    def reset(self, seed: str = "demo") -> None:
        """Back to a fresh world: data, grants, deliveries, traffic, faults and limits."""
        if seed not in ("demo", "empty"):
            raise ValueError("seed must be demo or empty")
        self.deliverer.clear()
        store = Store()
        if seed == "demo":
            seed_demo(store)
        self.store = store
        s = self.settings
        self.close_limiter.configure(
            s["SANDBOX_CLOSE_RATE_LIMIT"], s["SANDBOX_CLOSE_RATE_WINDOW_SECONDS"]
        )
        self.calendly_limiter.configure(
            s["SANDBOX_CALENDLY_RATE_LIMIT"], s["SANDBOX_CALENDLY_RATE_WINDOW_SECONDS"]
        )
        self.calendly_token_limiter = SlidingLogLimiter(s["SANDBOX_CALENDLY_TOKENS_PER_MINUTE"])
        self.faults.clear()
        self.traffic.clear()

    def notifier(self, base: str) -> Notify:
        """What an edit calls once an event type changed: queue the `event_type.*` webhooks."""

        def notify(event: str, event_type: EventType, hosts: set[str]) -> None:
            with self.store.lock:
                payload = event_type_json(event_type, base)
                org = event_type.organization_uuid
            self.deliverer.enqueue(event, payload, hosts, org, base)

        return notify

    def close(self) -> None:
        self.deliverer.close()


def current_sandbox() -> Sandbox:
    return current_app.extensions["sandbox"]


def base_url() -> str:
    """The sandbox's own address for URIs: --public-url if given, else where the request came."""
    configured = current_sandbox().settings.get("SANDBOX_PUBLIC_URL")
    return (configured or request.host_url).rstrip("/")
