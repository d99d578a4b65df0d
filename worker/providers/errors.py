"""Typed provider failures: the client layer raises them, the task layer alone decides."""

from __future__ import annotations


class ProviderError(Exception):
    """A provider answered with something we cannot use (or did not answer)."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None):
        super().__init__(message)
        self.provider = provider
        self.status = status


class BadResponse(ProviderError):
    """The answer cannot be read completely: not JSON, a missing field, a wrong type, a bad page."""


class Unauthorized(ProviderError):
    """401: the access token is not (or no longer) accepted."""


class Forbidden(ProviderError):
    """403: authenticated, but not allowed (plan, scope, permission). `body` is the answer's JSON
    object, if it had one: the only place a provider says which (worker/calendly/refusals.py)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = 403,
        body: dict | None = None,
    ):
        super().__init__(message, provider=provider, status=status)
        self.body = body


class NotFound(ProviderError):
    """404."""


class Conflict(ProviderError):
    """409."""


class RateLimited(ProviderError):
    """429, or a pause announced earlier for this rate-limit key: wait `retry_after` seconds."""

    def __init__(self, retry_after: float, *, provider: str = "", status: int | None = 429):
        super().__init__(
            f"rate limited; retry after {retry_after:.1f}s", provider=provider, status=status
        )
        self.retry_after = retry_after


class Unavailable(ProviderError):
    """A connection failure, a timeout or a 5xx that outlived the retries: worth trying later."""


class GrantRevoked(ProviderError):
    """The token endpoint refused the grant (invalid_grant and the like): reconnect needed."""


class UnknownOutcome(ProviderError):
    """A token call timed out after it was sent: it may or may not have rotated the token."""
