"""The one HTTP layer every provider client stands on.

It owns timeouts, the retry policy, the mapping of statuses to typed errors, the 401 → refresh →
retry-once rule, and the hand-off of rate-limit headers to the shared pacer. Provider clients add
only their paths, their pagination and their rate-limit header dialect.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

import requests
from requests.exceptions import (
    ChunkedEncodingError,
    ConnectTimeout,
    ContentDecodingError,
    ReadTimeout,
)
from requests.exceptions import ConnectionError as RequestsConnectionError
from urllib3.exceptions import NewConnectionError

from worker import metrics
from worker.providers.errors import (
    BadResponse,
    Conflict,
    Forbidden,
    NotFound,
    ProviderError,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from worker.providers.transport import shared_session

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = (502, 503, 504)
# Transport failures: no answer, or an answer cut off or garbled on the way (the request may
# still have been acted on, unless was_sent() says otherwise).
TRANSPORT_FAILURES = (
    RequestsConnectionError,
    ReadTimeout,
    ChunkedEncodingError,
    ContentDecodingError,
)
MAX_ATTEMPTS = 3
# A listing longer than this many pages is not read to its end: a provider that pages forever
# fails that listing (BadResponse) instead of holding the run (CONTRACT §5 "Bounded runs").
MAX_PAGES = 200
# A provider announcing a longer wait than this is misreporting; try again within a day.
MAX_ANNOUNCED_WAIT = 24 * 3600.0


class TokenSource(Protocol):
    """Hands out a valid access token and refreshes it once when the provider refuses it."""

    def access_token(self) -> str: ...

    def refresh_after_unauthorized(self, rejected_token: str) -> bool:
        """Refresh (or notice a sibling's refresh); True when a different token is now stored."""
        ...


class Pacer(Protocol):
    def before(self, key: str) -> None:
        """Wait briefly or raise RateLimited if `key` must not be called yet."""

    def observe(self, key: str, remaining: int | None, reset: float | None) -> None: ...

    def pause(self, key: str, seconds: float) -> None: ...


class Guard(Protocol):
    def check(self, provider: str) -> None:
        """Raise if the run this client works for must not make another call."""


def was_sent(exc: Exception) -> bool:
    """False when the request certainly never reached the server (so retrying is always safe)."""
    if isinstance(exc, ConnectTimeout):
        return False
    if isinstance(exc, RequestsConnectionError):
        reason = exc.args[0] if exc.args else None
        inner = getattr(reason, "reason", reason)
        return not isinstance(inner, NewConnectionError | ConnectionRefusedError)
    return True


class HttpClient:
    provider = "provider"

    def __init__(
        self,
        base_url: str,
        *,
        auth: TokenSource | None = None,
        timeout: float = 15.0,
        retry_backoff: float = 0.5,
        pacer: Pacer | None = None,
        rate_owner: str = "",
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        guard: Guard | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.timeout = timeout
        self.retry_backoff = retry_backoff
        self.pacer = pacer
        self.rate_owner = rate_owner
        # Shared by every client and thread of the process (worker/providers/transport.py): the
        # per-call headers below are passed with each request, never set on the session.
        self.session = session or shared_session()
        self._sleep = sleep
        self.guard = guard

    # --- provider dialect -------------------------------------------------------------------

    def rate_limit_state(self, response: requests.Response) -> tuple[int | None, float | None]:
        """(remaining, seconds until reset) announced by this response, where the provider says."""
        return None, None

    def retry_after(self, response: requests.Response) -> float:
        seconds = header_number(response.headers.get("Retry-After"))
        return 2.0 if seconds is None else seconds

    def rate_key(self, group: str) -> str:
        return f"{self.provider}:{self.rate_owner}:{group}"

    # --- requests ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        group: str | None = None,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        key = self.rate_key(group or f"{method} {path.split('?')[0]}")
        base_headers = kwargs.pop("headers", None) or {}
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if self.guard is not None:
                self.guard.check(self.provider)
            headers = dict(base_headers)
            token = None
            if self.auth is not None:
                token = self.auth.access_token()
                headers["Authorization"] = f"Bearer {token}"
            if self.pacer is not None:
                self.pacer.before(key)
            try:
                response = self.session.request(
                    method, self.url(path), headers=headers, timeout=self.timeout, **kwargs
                )
            except TRANSPORT_FAILURES as exc:
                retry_safe = idempotent or not was_sent(exc)
                if retry_safe and attempt < MAX_ATTEMPTS:
                    self._backoff(attempt)
                    continue
                raise Unavailable(
                    f"{self.provider} {method} {path}: {type(exc).__name__}", provider=self.provider
                ) from exc
            self._observe(key, response)
            status = response.status_code
            log.debug("%s %s %s -> %s", self.provider, method, path, status)
            if status < 300:
                return response
            if status == 401 and token is not None and not refreshed:
                refreshed = True
                if self.auth.refresh_after_unauthorized(token):  # type: ignore[union-attr]
                    attempt -= 1
                    continue
            if status in RETRYABLE_STATUSES and idempotent and attempt < MAX_ATTEMPTS:
                self._backoff(attempt)
                continue
            raise self._error(method, path, key, response)

    def get_json(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return json_object(self.request("GET", path, **kwargs), self.provider)

    def paginate(
        self,
        path: str,
        params: dict[str, Any],
        *,
        items_of: Callable[[dict[str, Any]], list[dict[str, Any]]],
        cursor_of: Callable[[dict[str, Any]], Any],
        cursor_param: str,
    ) -> list[dict[str, Any]]:
        """Every item of a cursor-paged listing: each page names the cursor of the next, and the
        last names none. A cursor that is not a string, or one already followed (the server
        would have us loop), fails the listing as a whole (BadResponse)."""
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        query = dict(params)
        for _ in range(MAX_PAGES):
            body = self.get_json(path, params=query)
            items.extend(items_of(body))
            cursor = next_cursor(cursor_of(body), seen, self.provider)
            if cursor is None:
                return items
            query = {**params, cursor_param: cursor}
        raise too_many_pages(self.provider, path)

    def _observe(self, key: str, response: requests.Response) -> None:
        if self.pacer is None:
            return
        remaining, reset = self.rate_limit_state(response)
        if remaining is not None or reset is not None:
            self.pacer.observe(key, remaining, None if reset is None else bounded_wait(reset))

    def _error(self, method: str, path: str, key: str, response: requests.Response) -> Exception:
        status = response.status_code
        what = f"{self.provider} {method} {path.split('?')[0]} answered {status}"
        if status == 429:
            metrics.count("schedsync_rate_limited_total", provider=self.provider)
            wait = bounded_wait(self.retry_after(response))
            if self.pacer is not None:
                self.pacer.pause(key, wait)
            return RateLimited(wait, provider=self.provider)
        kinds: dict[int, type[ProviderError]] = {
            401: Unauthorized,
            403: Forbidden,
            404: NotFound,
            409: Conflict,
        }
        if status == 403:
            return Forbidden(what, provider=self.provider, status=status, body=error_body(response))
        if status in kinds:
            return kinds[status](what, provider=self.provider, status=status)
        if status >= 500:
            return Unavailable(what, provider=self.provider, status=status)
        return ProviderError(what + describe_error(response), provider=self.provider, status=status)

    def _backoff(self, attempt: int) -> None:
        base = self.retry_backoff * (2 ** (attempt - 1))
        self._sleep(base * random.uniform(0.75, 1.25))


def too_many_pages(provider: str, path: str) -> BadResponse:
    return BadResponse(
        f"{provider} {path} had more than {MAX_PAGES} pages; the listing was not read to its end",
        provider=provider,
    )


def header_number(value: str | None) -> float | None:
    """A number from a rate-limit header; None when absent, unreadable or not finite."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def bounded_wait(seconds: float) -> float:
    """An announced wait made safe to store and to schedule a retry with."""
    if not math.isfinite(seconds):
        return MAX_ANNOUNCED_WAIT if seconds > 0 else 0.0
    return min(max(seconds, 0.0), MAX_ANNOUNCED_WAIT)


def json_object(response: requests.Response, provider: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise BadResponse(
            f"{provider} answered a body that is not JSON", provider=provider
        ) from exc
    if not isinstance(body, dict):
        raise BadResponse(f"{provider} answered JSON that is not an object", provider=provider)
    return body


def next_cursor(value: Any, seen: set[str], provider: str) -> str | None:
    """The cursor of the next page, or None on the last page.

    A cursor that is not a string, or one this listing already followed, means the pages cannot
    be read completely (the server would have us loop), so the listing fails as a whole.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadResponse(f"{provider} sent a page cursor that is not a string", provider=provider)
    if value in seen:
        raise BadResponse(f"{provider} repeated a page cursor", provider=provider)
    seen.add(value)
    return value


def error_body(response: requests.Response) -> dict[str, Any] | None:
    """An error answer's JSON object, if it is one of a sane size (error bodies are small)."""
    if len(response.content) > 64 * 1024:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def describe_error(response: requests.Response) -> str:
    """A short, secret-free hint from an error body: provider error codes and messages only."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = []
    for name in ("error", "title", "message", "field-errors", "errors"):
        value = body.get(name)
        if isinstance(value, dict):
            value = value.get("message", value)
        if value:
            parts.append(f"{name}={str(value)[:200]}")
    return (": " + "; ".join(parts)) if parts else ""
