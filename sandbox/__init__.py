"""A local stand-in for the Close, Calendly and SavvyCal APIs that schedsync uses.

One Flask app, state in memory: `create_app()` here, `python -m sandbox` to serve it. Each provider
lives under its own path prefix; the control API and the page are under /_sandbox.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .context import Sandbox, current_sandbox
from .faults import apply_fault
from .oauth import bearer_token, token_owner
from .settings import load_settings

__all__ = ["Sandbox", "create_app", "current_sandbox"]

# Browser pages below a provider prefix: counted, but never failed on purpose.
_CONSENT_PATHS = (
    "/close/oauth2/authorize",
    "/calendly/auth/oauth/authorize",
    "/savvycal/oauth/authorize",
)
_BOOKING_PATHS = ("/calendly/book/", "/savvycal/book/")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the sandbox app; `config` overrides the defaults and environment (settings.py)."""
    settings = load_settings(config)
    app = Flask(__name__)
    app.config.update(settings)
    app.json.sort_keys = False  # keep payloads in the providers' own field order
    app.extensions["sandbox"] = Sandbox(settings)

    from . import (  # noqa: F401  (calendly_subscriptions, close_shared, control_data add routes)
        calendly_api,
        calendly_auth,
        calendly_subscriptions,
        close,
        close_shared,
        control,
        control_data,
        pages,
        savvycal,
    )

    for blueprint in (
        close.bp,
        calendly_auth.bp,
        calendly_api.bp,
        savvycal.oauth_bp,
        savvycal.api_bp,
        control.bp,
        pages.bp,
    ):
        app.register_blueprint(blueprint)
    app.before_request(_provider_gate)
    app.after_request(_record_answer)
    app.register_error_handler(404, _unrouted)
    app.register_error_handler(405, _unrouted)
    return app


def _unrouted(exc: HTTPException) -> Any:
    """An unknown path or method answers in the shape of the API it was sent to, not as HTML."""
    provider = _provider_of(request.path)
    status = exc.code or 404
    if provider == "close":
        return jsonify(error=exc.description), status
    if provider == "calendly":
        return jsonify(title="Resource Not Found", message=exc.description), status
    if provider == "savvycal":
        return jsonify(errors=[{"message": exc.description}]), status
    if request.path.startswith("/_sandbox/"):
        return jsonify(error=exc.description), status
    return exc


def _provider_of(path: str) -> str | None:
    if path.startswith(_BOOKING_PATHS):
        return None
    for provider in ("close", "calendly", "savvycal"):
        if path.startswith(f"/{provider}/"):
            return provider
    return None


def _provider_gate() -> Response | None:
    """Count every provider request, flag ones sent before an announced reset, inject faults."""
    provider = _provider_of(request.path)
    if provider is None:
        return None
    sandbox = current_sandbox()
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    g.provider = provider
    g.endpoint_group = f"{request.method} {rule}"
    # Close limits per endpoint group, Calendly per user across all endpoints (reference §3, §4).
    pacing_key = g.endpoint_group if provider == "close" else "*"
    owner = token_owner(sandbox.store, provider, bearer_token())
    now = sandbox.store.now()
    sandbox.traffic.observe(provider, g.endpoint_group, pacing_key, owner, now)
    if request.path.startswith(_CONSENT_PATHS):
        return None
    response, retry_after = apply_fault(sandbox.faults, provider)
    if retry_after is not None:
        sandbox.traffic.announce(provider, pacing_key, owner, now + retry_after)
    return response


def _record_answer(response: Response) -> Response:
    provider = g.get("provider")
    if provider:
        status = "dropped" if response.headers.get("X-Sandbox-Dropped") else response.status_code
        current_sandbox().traffic.answered(provider, status)  # type: ignore[arg-type]
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        current_sandbox().save()  # a no-op without --state-file
    return response
