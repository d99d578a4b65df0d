"""Rate limits as each provider announces them, and the traffic record tests and benchmarks read.

The traffic record also catches a client that ignores a 429: any request that arrives for a
(provider, endpoint group, token owner) before the reset that a 429 announced to that same owner
is listed as "early". The owner is part of the key because schedsync paces per token owner
(CONTRACT §5), while Close counts the limit for a whole organization.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

MAX_EARLY_RECORDS = 1000


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: float  # seconds until the window ends


class FixedWindowLimiter:
    """`limit` requests per key per window; the window starts at a key's first request."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._windows: dict[Any, list[float]] = {}  # key -> [started_at, count]
        self._lock = threading.Lock()

    def hit(self, key: Any, now: float) -> RateDecision:
        with self._lock:
            window = self._windows.get(key)
            if window is None or now >= window[0] + self.window_seconds:
                window = self._windows[key] = [now, 0]
            window[1] += 1
            reset = max(window[0] + self.window_seconds - now, 0.0)
            used = int(window[1])
            return RateDecision(used <= self.limit, self.limit, max(self.limit - used, 0), reset)

    def configure(self, limit: int, window_seconds: float) -> None:
        with self._lock:
            self.limit, self.window_seconds = limit, window_seconds
            self._windows.clear()


class SlidingLogLimiter:
    """At most `limit` events per key in any `window_seconds` (Calendly: 8 tokens/user/minute)."""

    def __init__(self, limit: int, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float) -> RateDecision:
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window_seconds:
                events.popleft()
            reset = events[0] + self.window_seconds - now if events else self.window_seconds
            if len(events) >= self.limit:
                return RateDecision(False, self.limit, 0, reset)
            events.append(now)
            return RateDecision(True, self.limit, self.limit - len(events), reset)


class Traffic:
    """Counts per provider and endpoint group, 429s answered, and requests sent too early."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.counts: dict[str, Counter[str]] = {}
            self.statuses: dict[str, Counter[str]] = {}
            self.rate_limited: Counter[str] = Counter()
            self.announced: dict[tuple[str, str, str], float] = {}
            self.early: list[dict[str, Any]] = []
            self.early_total = 0

    def observe(
        self, provider: str, group: str, pacing_key: str, owner: str | None, now: float
    ) -> None:
        with self._lock:
            self.counts.setdefault(provider, Counter())[group] += 1
            if owner is None:
                return
            reset_at = self.announced.get((provider, pacing_key, owner))
            if reset_at is not None and now < reset_at:
                self.early_total += 1
                if len(self.early) < MAX_EARLY_RECORDS:
                    self.early.append(
                        {
                            "provider": provider,
                            "endpoint": group,
                            "owner": owner,
                            "early_by_seconds": round(reset_at - now, 3),
                            "at": now,
                        }
                    )

    def answered(self, provider: str, status: int) -> None:
        with self._lock:
            self.statuses.setdefault(provider, Counter())[str(status)] += 1
            if status == 429:
                self.rate_limited[provider] += 1

    def announce(self, provider: str, pacing_key: str, owner: str | None, reset_at: float) -> None:
        """Remember the reset a 429 told `owner`, so a request before it counts as early."""
        if owner is None:
            return
        with self._lock:
            key = (provider, pacing_key, owner)
            self.announced[key] = max(self.announced.get(key, 0.0), reset_at)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "counts": {p: dict(c) for p, c in self.counts.items()},
                "statuses": {p: dict(c) for p, c in self.statuses.items()},
                "total": sum(sum(c.values()) for c in self.counts.values()),
                "rate_limited": sum(self.rate_limited.values()),
                "rate_limited_by_provider": dict(self.rate_limited),
                "early_requests": list(self.early),
                "early_requests_total": self.early_total,
            }
