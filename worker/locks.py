"""A Redis lock that is renewed while its holder lives and expires soon after it dies.

Plain SET NX PX to take it; release and renewal check the holder's token inside a WATCH/MULTI
transaction, so a lock that expired and was taken by another process is never freed or extended.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

import redis


class RenewingLock:
    def __init__(self, client: redis.Redis, key: str, *, ttl: float = 30.0):
        self.client = client
        self.key = key
        self.ttl = ttl
        self.token = secrets.token_hex(16)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Set by the renewal thread when the key is no longer ours; `held_surely` also knows
        # how long the last successful SET or renewal keeps it ours, without asking Redis.
        self.lost = False
        self._ours_until = 0.0

    def acquire(self, *, blocking: bool = False, timeout: float | None = None) -> bool:
        deadline = time.monotonic() + (timeout if timeout is not None else self.ttl)
        while True:
            started = time.monotonic()
            if self.client.set(self.key, self.token, nx=True, px=int(self.ttl * 1000)):
                self._ours_until = started + self.ttl
                self._start_renewal()
                return True
            if not blocking or time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._if_mine(lambda pipe: pipe.delete(self.key))

    def extend(self) -> bool:
        started = time.monotonic()
        if self._if_mine(lambda pipe: pipe.pexpire(self.key, int(self.ttl * 1000))):
            self._ours_until = started + self.ttl
            return True
        return False

    def held(self) -> bool:
        return self.client.get(self.key) == self.token.encode()

    def held_surely(self, margin: float = 1.0) -> bool:
        """True while the key is certainly still ours: no renewal has found it taken, and the
        last one that succeeded keeps it alive for `margin` seconds more. A holder that stalled
        (or could not reach Redis) for about the lock's lifetime answers False."""
        return not self.lost and time.monotonic() + margin < self._ours_until

    def _if_mine(self, action: Callable[[redis.client.Pipeline], object]) -> bool:
        with self.client.pipeline() as pipe:
            try:
                pipe.watch(self.key)
                if pipe.get(self.key) != self.token.encode():
                    pipe.unwatch()
                    return False
                pipe.multi()
                action(pipe)
                pipe.execute()
                return True
            except redis.WatchError:
                return False

    def _start_renewal(self) -> None:
        self._stop.clear()
        interval = self.ttl / 3

        def renew() -> None:
            while not self._stop.wait(interval):
                try:
                    if not self.extend():
                        self.lost = True
                        return
                except redis.RedisError:
                    continue  # try again next tick; the TTL still covers us for a while

        self._thread = threading.Thread(target=renew, name=f"renew {self.key}", daemon=True)
        self._thread.start()

    def __enter__(self) -> RenewingLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
