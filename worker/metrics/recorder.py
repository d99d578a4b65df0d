"""Counting in-process, adding up in Redis: right across every web and worker process on every
host, and nearly free where it is counted.

A count is a dict increment under a lock (about a microsecond); a daemon thread adds what was
counted to one Redis hash per metric every FLUSH_SECONDS with one pipeline of HINCRBY /
HINCRBYFLOAT. Redis being down never fails a sync or a request: the counts stay here and go out
with the next flush that gets through. A forked child (gunicorn and Celery pool processes) starts
with an empty buffer, since what its parent counted is its parent's to send.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
# Distinct (metric, series) pairs held while Redis is unreachable: far above what schedsync
# produces (a few dozen), so only a bug could reach it, and it then stops growing.
MAX_SERIES = 10_000


class Recorder:
    def __init__(self, client: Callable[[], redis.Redis], interval: float = FLUSH_SECONDS):
        self._client = client
        self._interval = interval
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._ints: dict[tuple[str, str], int] = defaultdict(int)
        self._floats: dict[tuple[str, str], float] = defaultdict(float)
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._failing = False

    def add(self, key: str, field: str, amount: int = 1) -> None:
        with self._lock:
            self._adopt_fork()
            if (key, field) in self._ints or len(self._ints) < MAX_SERIES:
                self._ints[(key, field)] += amount
        self._ensure_thread()

    def add_float(self, key: str, field: str, amount: float) -> None:
        with self._lock:
            self._adopt_fork()
            if (key, field) in self._floats or len(self._floats) < MAX_SERIES:
                self._floats[(key, field)] += amount
        self._ensure_thread()

    def discard(self) -> None:
        """Drop what was counted and not yet sent (tests start from nothing)."""
        with self._lock:
            self._ints.clear()
            self._floats.clear()

    def flush(self, quiet: bool = False) -> bool:
        """Send what was counted; False (and keep it) when Redis would not take it. `quiet`: at
        interpreter exit, when logging may already be torn down."""
        with self._send_lock:
            with self._lock:
                self._adopt_fork()
                ints, self._ints = self._ints, defaultdict(int)
                floats, self._floats = self._floats, defaultdict(float)
            if not ints and not floats:
                return True
            try:
                pipe = self._client().pipeline(transaction=False)
                for (key, field), amount in ints.items():
                    pipe.hincrby(key, field, amount)
                for (key, field), amount in floats.items():
                    pipe.hincrbyfloat(key, field, amount)
                pipe.execute()
            except (redis.RedisError, OSError) as exc:
                self._put_back(ints, floats)
                if not self._failing and not quiet:
                    log.warning("metrics could not be sent to Redis (kept for later): %s", exc)
                self._failing = True
                return False
            self._failing = False
            return True

    def _put_back(self, ints: dict, floats: dict) -> None:
        with self._lock:
            for k, v in ints.items():
                self._ints[k] += v
            for k, v in floats.items():
                self._floats[k] += v

    def _adopt_fork(self) -> None:
        # Called with self._lock held.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._ints.clear()
            self._floats.clear()
            self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="schedsync-metrics", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        me = threading.current_thread()
        stop = threading.Event()
        while self._thread is me:
            stop.wait(self._interval)
            try:
                self.flush()
            except Exception:  # never let the thread die on an unexpected error
                log.exception("metrics flush failed")


def flush_at_exit(recorder: Recorder) -> None:
    atexit.register(recorder.flush, quiet=True)
