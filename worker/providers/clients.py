"""Building a provider client: the settings, the shared pacer and a token source, one way for
every provider and every process (the worker's stored tokens, the web's fresh grants)."""

from __future__ import annotations

from typing import TypeVar

from worker import runtime
from worker.providers.http import Guard, HttpClient, TokenSource
from worker.providers.pacing import RedisPacer

C = TypeVar("C", bound=HttpClient)


class GrantToken:
    """The TokenSource of a token not stored yet (an identity look-up): nothing to refresh."""

    def __init__(self, token: str):
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh_after_unauthorized(self, rejected_token: str) -> bool:
        return False


def build_client(
    client_class: type[C],
    base_url: str,
    auth: TokenSource,
    owner: str | None,
    guard: Guard | None = None,
) -> C:
    """`owner` names whose rate limit the calls count against (CONTRACT §5 pacing); `guard`
    stops the calls of a run that must not go on (worker/sync/guard.py)."""
    settings = runtime.settings()
    return client_class(
        base_url,
        auth=auth,
        timeout=settings.http_timeout_seconds,
        retry_backoff=settings.http_retry_backoff_seconds,
        pacer=RedisPacer(runtime.redis_client()),
        rate_owner=owner or "-",
        guard=guard,
    )
