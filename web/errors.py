"""Errors as the contract wants them: JSON `{"error", "message"}` on machine routes, a plain page
with the right status on browser routes, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from worker import sentry

log = logging.getLogger(__name__)

MACHINE_PREFIXES = ("/webhooks/", "/admin/", "/healthz", "/readyz", "/status", "/metrics")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}


def json_error(status: int, code: str, message: str):
    response = jsonify(error=code, message=message)
    response.status_code = status
    return response


def page_error(status: int, title: str, message: str):
    return render_template("error.html", title=title, message=message), status


def is_machine_route() -> bool:
    return request.path.startswith(MACHINE_PREFIXES)


def init_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        if is_machine_route():
            response = json_error(status, CODES.get(status, "error"), exc.description or exc.name)
        else:
            response = make_response(page_error(status, exc.name, exc.description or exc.name))
        # Keep the headers the error carries besides its body: `Allow` on a 405 (RFC 9110).
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        sentry.capture(exc)
        if is_machine_route():
            return json_error(500, "internal_error", "Something went wrong on our side.")
        return page_error(
            500,
            "Something went wrong",
            "Something went wrong on our side. Please try again in a moment.",
        )
