"""Rate-limit state shared by every worker process, in Redis.

Keys are (provider, token owner, endpoint group). A 429, or a response that announces no
remaining budget, pauses the key until the announced reset for every process: no call for that
key is sent before then. A short pause is waited out in place; a long one raises RateLimited so
the task is retried with a countdown instead of holding a worker.
"""

from __future__ import annotations

import logging
import time

import redis

from worker.errors import RateLimited

log = logging.getLogger(__name__)

MAX_INLINE_WAIT = 2.0


class RedisPacer:
    def __init__(
        self, client: redis.Redis, *, max_inline_wait: float = MAX_INLINE_WAIT, prefix: str = "rl"
    ):
        self.client = client
        self.max_inline_wait = max_inline_wait
        self.prefix = prefix

    def _pause_key(self, key: str) -> str:
        return f"{self.prefix}:pause:{key}"

    def before(self, key: str) -> None:
        try:
            raw = self.client.get(self._pause_key(key))
        except redis.RedisError:
            log.warning("rate-limit state unreachable; calling %s unpaced", key)
            return
        if raw is None:
            return
        wait = float(raw) - time.time()
        if wait <= 0:
            return
        if wait > self.max_inline_wait:
            raise RateLimited(wait, provider=key.split(":", 1)[0], status=None)
        time.sleep(wait)

    def observe(self, key: str, remaining: int | None, reset: float | None) -> None:
        if remaining is not None and remaining <= 0 and reset:
            self.pause(key, reset)

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
