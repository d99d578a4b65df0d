"""What a failure means for a task, decided in one place.

Every task is a `PolicyTask`: its body calls into the domain and returns an outcome; the base
class turns the typed errors it raises into the same decisions everywhere:

- `RateLimited` (or anything else carrying `retry_after`): try again after the announced wait
  (in steps no longer than the broker's visibility timeout allows);
- `NeedsReauth`: stop (the grant is marked; nothing retries it in a loop) — unless the task
  says `retry_needs_reauth` (deleting a team link waits for a reconnected Close grant);
- the task's `retry_on` errors: try again with doubling backoff, capped, up to `max_retries`;
- anything else: a failure Celery logs with its trace.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery import Task

from worker.auth.errors import NeedsReauth
from worker.providers.errors import ProviderError
from worker.queue import bounded_countdown


@dataclass(frozen=True)
class Backoff:
    first: float
    cap: float

    def after(self, retries: int) -> float:
        return min(self.first * 2**retries, self.cap)


class PolicyTask(Task):
    acks_late = True
    ignore_result = True
    backoff = Backoff(30, 1800)
    retry_on: tuple[type[BaseException], ...] = (ProviderError,)
    retry_needs_reauth = False

    def __call__(self, *args: object, **kwargs: object) -> object:
        try:
            return super().__call__(*args, **kwargs)
        except NeedsReauth as exc:
            if not self.retry_needs_reauth:
                return "needs_reauth"  # recorded on the connection by whoever found out
            raise self.retry(countdown=self.backoff.after(self.request.retries), exc=exc) from exc
        except Exception as exc:
            wait = getattr(exc, "retry_after", None)
            if wait is not None:
                raise self.retry(countdown=bounded_countdown(wait), exc=exc) from exc
            if isinstance(exc, self.retry_on):
                countdown = self.backoff.after(self.request.retries)
                raise self.retry(countdown=countdown, exc=exc) from exc
            raise
