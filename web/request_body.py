"""Request bodies: bounded before anything reads them, and malformed ones answered as the client's
fault (CONTRACT §3).

Every route refuses a body over 64 KiB (the Calendly webhook receiver: 1 MiB) with 413
`payload_too_large`. A declared `Content-Length` over the limit is refused before a byte of the
body is read; a chunked body, whose length nobody declares, is counted as it streams and refused
the moment it passes the limit. The hook runs before the CSRF check, which parses the form.

Broken framing (a chunk size like `zz`, a chunk longer than it said, too many trailer fields, a
body cut short by a client that half-closed) surfaces as an exception from the server's input
stream in the middle of whatever reads the body. Here it becomes a 400 (a read that timed out:
408) in the route's own error shape, instead of an unhandled error with a traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge, RequestTimeout

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 64 * 1024
WEBHOOK_LIMIT = 1024 * 1024
WEBHOOK_PREFIX = "/webhooks/calendly/"


def body_limit(path: str) -> int:
    return WEBHOOK_LIMIT if path.startswith(WEBHOOK_PREFIX) else DEFAULT_LIMIT


def too_large(limit: int) -> RequestEntityTooLarge:
    size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
    return RequestEntityTooLarge(f"The body is larger than {size}.")


def abandon(raw: Any) -> None:
    """Tell the server that this body will not be read to its end, so the connection is closed
    after the answer instead of drained for the next request (gunicorn's Body keeps this flag
    for a body whose reading failed: where the next request starts is then unknown)."""
    if hasattr(raw, "failed"):
        raw.failed = True


class BoundedInput:
    """The server's input stream, capped at `limit` bytes, with read failures turned into 4xx.

    Whatever reads the body (Werkzeug's form parser, `request.get_data`, the webhook route) goes
    through this object, so no code path can read past the limit or see a framing error raw."""

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self._seen = 0

    def _room(self, size: int | None) -> int:
        # One byte past the limit is asked for, so a body of exactly `limit` bytes passes and
        # one byte more is caught without reading further.
        room = self._limit + 1 - self._seen
        return room if size is None or size < 0 else min(size, room)

    def _call(self, method: str, size: int | None) -> bytes:
        try:
            data = getattr(self._raw, method)(self._room(size))
        except HTTPException:
            raise
        except TimeoutError as exc:
            abandon(self._raw)
            raise RequestTimeout("The request body did not arrive in time.") from exc
        except Exception as exc:
            # Framing errors from the server (gunicorn's InvalidChunkSize, NoMoreData, ...) or a
            # reset connection: the body cannot be read, and that is the client's doing.
            abandon(self._raw)
            log.info("request body unreadable on %s: %s", request.path, type(exc).__name__)
            raise BadRequest("The request body is malformed or was cut short.") from exc
        self._seen += len(data)
        if self._seen > self._limit:
            abandon(self._raw)
            raise too_large(self._limit)
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._call("read", size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._call("readline", size)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines = []
        while line := self.readline():
            lines.append(line)
        return lines

    def __iter__(self):
        return iter(self.readline, b"")


def bound_request_body() -> None:
    """before_request: refuse a declared oversize body unread; cap whatever is read after."""
    limit = body_limit(request.path)
    environ = request.environ
    raw = environ["wsgi.input"]
    length = request.content_length
    if length is not None and length > limit:
        abandon(raw)
        raise too_large(limit)
    environ["wsgi.input"] = BoundedInput(raw, limit)


def init_request_body(app: Flask) -> None:
    """Register before every other before_request hook (the CSRF check reads the form)."""
    app.before_request_funcs.setdefault(None, []).insert(0, bound_request_body)


# --- JSON bodies ------------------------------------------------------------------------------


def _may_hold_surrogates(raw: bytes) -> bool:
    # json.loads decodes with "surrogatepass" and accepts \uD800-style escapes, so a lone
    # surrogate comes either from an escape or from the raw bytes ED A0..BF ..
    return b"\xed" in raw or b"\\ud" in raw or b"\\uD" in raw


def loads_json(raw: bytes) -> Any:
    """json.loads, but a string that cannot be encoded as UTF-8 (a lone surrogate such as
    "\\ud800") is a ValueError like any other malformed JSON: nothing downstream (the database
    driver, a log line, a Redis key) can encode it."""
    value = json.loads(raw)
    if _may_hold_surrogates(raw):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("the JSON holds a string that is not valid Unicode") from exc
    return value
