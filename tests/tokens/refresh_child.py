"""One worker process of the concurrency test: the runtime configured as a worker's (the shared
SQLite file, the real redis-server), then the refresh task, started on a common signal."""

from __future__ import annotations

import os
import threading
from typing import Any


def refresh_when_told(
    settings: Any, connection_id: int, ready: Any, go: Any, results: Any, threads: int = 1
) -> None:
    """`threads` > 1: that many refreshes at once in this process, as the threads pool runs
    tasks, each reporting its own outcome."""
    from worker import runtime

    runtime.configure(settings)
    from worker.tasks.refresh import refresh_token_of

    # Open the database and Redis before the start line, so every process starts together.
    with runtime.engine().connect():
        pass
    runtime.redis_client().ping()
    ready.put(os.getpid())
    if not go.wait(60):
        results.put((os.getpid(), "never told to start"))
        return

    def one(n: int) -> None:
        try:
            outcome = refresh_token_of(connection_id)
        except Exception as exc:  # reported to the test, which fails on it
            outcome = f"{type(exc).__name__}: {exc}"
        results.put((f"{os.getpid()}/{n}", outcome))

    running = [threading.Thread(target=one, args=(n,)) for n in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(timeout=120)


def refresh_once(settings: Any, connection_id: int, results: Any) -> None:
    """A worker that refreshes one connection (the test may kill it half-way)."""
    from worker import runtime

    runtime.configure(settings)
    from worker.tasks.refresh import refresh_token_of

    try:
        outcome = refresh_token_of(connection_id)
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    results.put((os.getpid(), outcome))
