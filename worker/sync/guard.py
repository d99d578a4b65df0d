"""What stops a run: a wall-clock deadline of its own, and the loss of the account's lock
(CONTRACT §5 "Bounded runs").

Celery's time limits do not work under every pool, so a run checks its guard between calls:
the HTTP layer asks it before every request (worker/providers/http.py), and a write to Close
is made only after the lock is confirmed in Redis (worker/sync/apply.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis

from worker.locks import RenewingLock
from worker.providers.errors import ProviderError

# Long enough for an account with thousands of links under a provider's rate limit; short
# enough that a provider paging forever or answering at a trickle cannot hold a run for hours.
RUN_DEADLINE_SECONDS = 900.0


class RunStopped(Exception):
    """The run lost the account's lock: another run may be writing now, so this one stops."""


class DeadlineExceeded(ProviderError):
    """The run passed its deadline before this call: that provider's part of the sync fails."""


@dataclass
class RunGuard:
    lock: RenewingLock | None = None
    seconds: float = RUN_DEADLINE_SECONDS
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.seconds

    def check(self, provider: str) -> None:
        """Before a provider call: raise if the run must not make it."""
        if self.lock is not None and not self.lock.held_surely():
            raise RunStopped(f"the run lost its lock {self.lock.key}")
        if time.monotonic() > self.deadline:
            raise DeadlineExceeded(
                f"the run passed its {self.seconds:.0f} s deadline", provider=provider
            )

    def confirm_lock(self) -> None:
        """Before a write: the lock is asked of Redis itself. A lock that cannot be confirmed
        (Redis unreachable) counts as lost: writing without it could race another run."""
        if self.lock is None:
            return
        try:
            held = self.lock.held()
        except redis.RedisError as exc:
            raise RunStopped(f"the lock {self.lock.key} cannot be confirmed") from exc
        if not held:
            raise RunStopped(f"the run lost its lock {self.lock.key}")
