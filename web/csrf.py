"""CSRF protection for every browser POST: a per-session token in a `csrf_token` form field."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session

EXEMPT_PREFIXES = ("/webhooks/", "/admin/")


def csrf_token() -> str:
    token = session.get("csrf_token")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf_token"] = token
    return token


def init_csrf(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def check_csrf():
        if request.method != "POST" or request.path.startswith(EXEMPT_PREFIXES):
            return None
        if request.routing_exception is not None:
            return None  # no such route or method: routing's own 404/405 answers, not a 400
        expected = session.get("csrf_token")
        given = request.form.get("csrf_token", "")
        if not expected or not hmac.compare_digest(expected, given):
            abort(400, "This form has expired or was not sent from schedsync. Please try again.")
        return None
