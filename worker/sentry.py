"""Errors to Sentry, through its Flask and Celery integrations, when SENTRY_DSN is set.

sentry-sdk is the optional `sentry` extra and is imported only when a DSN is configured, so a
deployment without Sentry neither needs it nor pays for it. Nothing secret goes with an event:
no request bodies (an OAuth code, a pasted personal token), no local variables of stack frames
(tokens pass through them), no cookies or user IPs.
"""

from __future__ import annotations

import logging
from typing import Any

from worker.config import Settings
from worker.logs import scrub

log = logging.getLogger(__name__)

_initialized_with: str | None = None


def init_sentry(settings: Settings, **options: Any) -> bool:
    """Initialize once per process; True when Sentry is on. `options` go to `sentry_sdk.init`
    (tests hand in a transport that keeps events in memory)."""
    global _initialized_with
    dsn = settings.sentry_dsn
    if not dsn:
        return False
    if _initialized_with == dsn and not options:
        return True
    try:
        import sentry_sdk
        from sentry_sdk.integrations.celery import CeleryIntegration
        from sentry_sdk.integrations.flask import FlaskIntegration
    except ImportError:
        log.warning("SENTRY_DSN is set but sentry-sdk is not installed (pip install '.[sentry]')")
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.env,
        integrations=[FlaskIntegration(), CeleryIntegration()],
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrubbed,
        **options,
    )
    _initialized_with = dsn
    return True


def scrubbed(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    """The log scrubber's patterns (worker/logs.py) applied to what an event says in words."""
    for value in (event.get("exception") or {}).get("values") or []:
        if isinstance(value.get("value"), str):
            value["value"] = scrub(value["value"])
    entry = event.get("logentry") or {}
    for key in ("message", "formatted"):
        if isinstance(entry.get(key), str):
            entry[key] = scrub(entry[key])
    return event


def capture(exc: BaseException) -> None:
    """Report an error the app handled itself (the web's 500 page): Flask's integration sees
    only unhandled ones, and the log line loses its traceback to the scrubbing filter."""
    if _initialized_with is None:
        return
    import sentry_sdk

    sentry_sdk.capture_exception(exc)
