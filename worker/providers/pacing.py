"""Rate-limit state shared by every worker process, in Redis.

Keys are (provider, token owner, endpoint group), as the providers count: Close per organization
and endpoint group, Calendly and SavvyCal per user.

- **Pause.** A 429 pauses the key until the provider's reset for every process: no call for that
  key is sent before then.
- **Budget.** The `remaining` a response announces becomes a shared counter that expires at the
  announced reset. Every call takes one from it before it is sent, so workers running at once
  cannot spend the same last unit; when it is spent, callers wait for the reset. A response only
  ever lowers the counter (in-flight calls the provider has not counted yet would otherwise be
  counted twice); a new window starts when the counter expires.

A short wait is waited out in place; a long one raises RateLimited so the task is retried with a
countdown instead of holding a worker. A spent budget is waited out in place for longer (up to
MAX_BUDGET_WAIT, one Close window) than a 429 pause: its reset is a window boundary the provider
announced, not trouble, and a deferred full sync must read every provider again when it restarts.
With one organization's accounts sharing Close's per-organization limit, deferring at each window
boundary cost 2.6 to 2.8 times the calls of a first sync (bench/pacing.py); waiting in place sends
only the calls the sync needs, in the same wall time.
"""

from __future__ import annotations

import logging
import time

import redis

from worker.providers.errors import RateLimited

log = logging.getLogger(__name__)

MAX_INLINE_WAIT = 2.0
# Close counts in 15 s windows (its legacy 429 body said "rate_window": 15); Calendly's reset is
# up to a minute away, and that still defers.
MAX_BUDGET_WAIT = 15.0


class RedisPacer:
    def __init__(
        self,
        client: redis.Redis,
        *,
        max_inline_wait: float = MAX_INLINE_WAIT,
        max_budget_wait: float | None = None,
        prefix: str = "rl",
    ):
        self.client = client
        self.max_inline_wait = max_inline_wait
        if max_budget_wait is None:
            # A caller that must never wait (max_inline_wait=0) does not wait for budgets either.
            max_budget_wait = max(MAX_BUDGET_WAIT, max_inline_wait) if max_inline_wait > 0 else 0.0
        self.max_budget_wait = max_budget_wait
        self.prefix = prefix

    def _pause_key(self, key: str) -> str:
        return f"{self.prefix}:pause:{key}"

    def _budget_key(self, key: str) -> str:
        return f"{self.prefix}:left:{key}"

    def before(self, key: str) -> None:
        """Return when a call for `key` may be sent now (having taken one unit of budget)."""
        started = time.monotonic()
        while True:
            try:
                wait, paused = self._wait_needed(key)
            except redis.RedisError:
                log.warning("rate-limit state unreachable; calling %s unpaced", key)
                return
            if wait <= 0:
                return
            limit = self.max_inline_wait if paused else self.max_budget_wait
            if time.monotonic() + wait > started + limit:
                raise RateLimited(wait, provider=key.split(":", 1)[0], status=None)
            time.sleep(min(wait, 0.25))

    def _wait_needed(self, key: str) -> tuple[float, bool]:
        """(seconds to wait, whether a 429 pause is the reason); (0, False) after taking a unit."""
        raw = self.client.get(self._pause_key(key))
        if raw is not None:
            wait = float(raw) - time.time()
            if wait > 0:
                return wait, True
        return self._take_unit(self._budget_key(key)), False

    def _take_unit(self, budget_key: str) -> float:
        """Take one unit of an announced budget: 0 when taken (or no window is announced), else
        the seconds until the window resets. Optimistic (WATCH/MULTI): a plain DECR would create
        a counter where none was announced, and a window stored by another worker's response
        in between would then look spent for its whole length."""
        with self.client.pipeline() as pipe:
            for _ in range(100):
                try:
                    pipe.watch(budget_key)
                    ttl_ms = pipe.pttl(budget_key)
                    if ttl_ms < 0:  # no announced window (-2), or none with an end (-1)
                        pipe.unwatch()
                        return 0.0
                    left = int(pipe.get(budget_key) or 0)
                    if left <= 0:
                        pipe.unwatch()
                        return max(ttl_ms / 1000.0, 0.01)
                    pipe.multi()
                    pipe.decr(budget_key)
                    pipe.execute()
                    return 0.0
                except redis.WatchError:
                    continue  # another worker took a unit or stored a window: look again
        return 0.01  # extreme contention: wait a moment and ask again

    def observe(self, key: str, remaining: int | None, reset: float | None) -> None:
        if remaining is None or reset is None or reset <= 0:
            return
        budget_key = self._budget_key(key)
        try:
            with self.client.pipeline() as pipe:
                try:
                    pipe.watch(budget_key)
                    current = pipe.get(budget_key)
                    ttl_ms = pipe.pttl(budget_key)
                    pipe.multi()
                    if current is None or ttl_ms < 0:
                        pipe.set(budget_key, max(remaining, 0), px=max(int(reset * 1000), 1))
                    elif remaining < int(current):
                        pipe.set(budget_key, max(remaining, 0), keepttl=True)
                    pipe.execute()
                except redis.WatchError:
                    pass  # another worker just updated it from a response of its own
        except redis.RedisError:
            log.warning("rate-limit state unreachable; budget of %s not shared", key)

    def pause(self, key: str, seconds: float) -> None:
        if seconds <= 0:
            return
        until = time.time() + seconds
        pkey = self._pause_key(key)
        try:
            current = self.client.get(pkey)
            if current is not None and float(current) >= until:
                return
            self.client.set(pkey, f"{until:.3f}", px=max(int(seconds * 1000), 1))
        except redis.RedisError:
            log.warning("rate-limit state unreachable; pause of %s not shared", key)
