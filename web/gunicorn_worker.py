"""gunicorn's threaded worker, with a read deadline on every request (gunicorn.conf.py names it).

A thread of the pool serves one request at a time, so a client that sends its request slowly
keeps a thread for as long as it takes. gunicorn's own threaded worker bounds only the wait for
a connection's first byte; here every request also gets

- at most READ_TIMEOUT_SECONDS between two reads from its socket, and
- REQUEST_TIMEOUT_SECONDS for its whole head and body, counted from its first byte,

after which the read fails: during the head the connection is closed quietly, during the body
the app answers 408 (web/request_body.py). With 100 threads per worker, dozens of stalled or
trickling clients leave the rest of the pool to /healthz and Calendly's deliveries.

gunicorn answers a request it cannot parse (400, 414, 431) before the app sees it; that answer is
made JSON here on a machine route, `{"error", "message"}` like the app's own, and a short page
that does not quote the request elsewhere (CONTRACT §3).

This subclasses gunicorn internals (TConn's parser, SocketUnreader.chunk, handle_error), so
pyproject.toml pins gunicorn's major version.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import selectors
import socket
import threading
import time
from collections import deque
from functools import partial

from gunicorn import util
from gunicorn.http.errors import NoMoreData
from gunicorn.http.parser import RequestParser
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import _DEFER, ThreadWorker

from web.errors import MACHINE_PREFIXES

READ_TIMEOUT_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 10.0
# How long a pool thread waits for a new connection's first bytes before handing it to the
# poller (where it waits up to `keepalive` seconds, holding no thread).
FIRST_BYTE_WAIT_SECONDS = 0.1
# After the answer, how long a closing connection is drained for the client's FIN, and how much.
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 64 * 1024
# Enough of a request's first bytes to read its method and the start of its path.
SAMPLE_BYTES = 256

_REQUEST_TARGET = re.compile(rb"\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+ +(\S+)")
_ABSOLUTE_FORM = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://[^/]*")

JSON_ERRORS = {
    400: ("bad_request", "The request is malformed."),
    403: ("forbidden", "The request is forbidden."),
    414: ("uri_too_long", "The request line is too long."),
    417: ("expectation_failed", "The Expect header cannot be met."),
    431: ("header_fields_too_large", "The request headers are too large."),
    500: ("internal_error", "Something went wrong on our side."),
    501: ("not_implemented", "The transfer coding is not supported."),
}


class ReadTimeout(NoMoreData, TimeoutError):
    """A read missed its deadline. As NoMoreData gunicorn drops the connection quietly when it
    happens in the head; as TimeoutError the app's body reader answers 408."""

    def __str__(self) -> str:
        return "the request did not arrive in time"


class DeadlineUnreader(SocketUnreader):
    """Every socket read of one request is bounded by the per-read and per-request timeouts.
    Also keeps the request's first bytes, to tell which route a request gunicorn refused was
    for."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.deadline: float | None = None
        self.sample = b""

    def start_request(self) -> None:
        self.deadline = None
        self.sample = self.buf.getvalue()[:SAMPLE_BYTES]

    def chunk(self, size_hint: int | None = None) -> bytes:
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + REQUEST_TIMEOUT_SECONDS
        remaining = self.deadline - now
        if remaining <= 0:
            raise ReadTimeout()
        self.sock.settimeout(min(READ_TIMEOUT_SECONDS, remaining))
        try:
            data = super().chunk(size_hint)
        except TimeoutError:  # socket.timeout
            raise ReadTimeout() from None
        if len(self.sample) < SAMPLE_BYTES:
            self.sample += data[: SAMPLE_BYTES - len(self.sample)]
        return data


class DeadlineParser(RequestParser):
    def __init__(self, cfg, source, source_addr) -> None:  # noqa: ANN001 - gunicorn's
        super().__init__(cfg, source, source_addr)
        self.unreader = DeadlineUnreader(source)


def is_machine_target(sample: bytes) -> bool:
    match = _REQUEST_TARGET.match(sample)
    if not match:
        return False
    target = _ABSOLUTE_FORM.sub(b"", match.group(1), count=1)
    return target.decode("latin-1").startswith(MACHINE_PREFIXES)


class _Captured:
    """Stands in for the client socket while gunicorn writes its HTML error, so the status it
    chose can be sent in the route's shape instead."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data


def error_response(status: int, reason: str, machine: bool) -> bytes:
    """The answer to a request gunicorn refused: JSON on a machine route, a short page elsewhere.
    Neither repeats the request (gunicorn's own page quotes the request line, query string and
    all)."""
    code, message = JSON_ERRORS.get(status, ("error", "The request was refused."))
    if machine:
        body = json.dumps({"error": code, "message": message}).encode()
        kind = "application/json"
    else:
        body = (
            f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(reason)}</title></head>\n<body><h1>{html.escape(reason)}</h1>"
            f"<p>{message} Please go back and try again.</p></body></html>\n"
        ).encode()
        kind = "text/html; charset=utf-8"
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class DeadlineThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._serving = threading.local()
        self.lingering: deque = deque()  # closing connections, oldest first

    def handle(self, conn):  # noqa: ANN001, ANN201 - gunicorn's signature
        # A new connection whose request is not there yet goes back to the main loop's poller
        # at once rather than after gunicorn's 5 s: a silent client must not hold a thread.
        fresh = not conn.initialized and not conn.data_ready
        if fresh and not conn.wait_for_data(FIRST_BYTE_WAIT_SECONDS):
            return _DEFER
        # TConn.init() builds gunicorn's parser only when the connection has none yet; giving it
        # ours first is how the deadlines reach the socket reads. TLS and HTTP/2 negotiation
        # happen in init(), so those connections keep gunicorn's parser (neither is configured).
        if conn.parser is None and not self.cfg.is_ssl:
            conn.parser = DeadlineParser(self.cfg, conn.sock, conn.client)
        unreader = getattr(conn.parser, "unreader", None)
        if isinstance(unreader, DeadlineUnreader):
            unreader.start_request()
        self._serving.unreader = unreader
        try:
            return super().handle(conn)
        finally:
            self._serving.unreader = None

    # --- closing without waiting on anyone -------------------------------------------------
    # gunicorn closes a finished connection "gracefully" on its main loop: it sends FIN, then
    # blocks up to 2 s reading until the client closes its side (so unread request bytes do not
    # turn into a reset that loses the answer). A client that never closes (one that declared a
    # 10 GB body and got its 413) stalled every other connection of the worker for those 2 s.
    # Here the same linger is a poller entry: drained when readable, closed at EOF or deadline.

    def finish_request(self, conn, fs):  # noqa: ANN001, ANN201
        if self.cfg.is_ssl or fs.cancelled() or fs.exception() is not None or fs.result():
            return super().finish_request(conn, fs)  # keep-alive, deferred, or failed
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._drain, conn))
        except (OSError, ValueError, KeyError):
            self.nr_conns -= 1
            util.close(conn.sock)
            return None
        conn.timeout = time.monotonic() + LINGER_SECONDS
        conn.drained = 0
        self.lingering.append(conn)
        return None

    def _drain(self, conn, sock) -> None:  # noqa: ANN001
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        conn.drained += len(data)
        if not data or conn.drained > LINGER_MAX_BYTES:
            self._close_lingering(conn)

    def _close_lingering(self, conn) -> None:  # noqa: ANN001
        with contextlib.suppress(ValueError):
            self.lingering.remove(conn)
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        util.close(conn.sock)

    def murder_keepalived(self, force=False):  # noqa: ANN001, ANN201
        # Called on every turn of the main loop, and with force=True when the worker stops.
        super().murder_keepalived(force)
        now = time.monotonic()
        while self.lingering and (force or self.lingering[0].timeout <= now):
            self._close_lingering(self.lingering[0])

    def handle_request(self, req, conn):  # noqa: ANN001, ANN201
        try:
            return super().handle_request(req, conn)
        except TimeoutError:
            # Writing the answer stalled past the per-read timeout (a client that does not
            # read): nothing more can be said to it.
            self.log.info("closing a connection whose client stopped reading")
            return False

    def _keepalive_after(self, conn, keepalive):  # noqa: ANN001, ANN202
        # Before a kept-alive connection takes its next request, gunicorn reads away whatever
        # of this request's body the app left unread. A body the app had no use for (a form
        # without a form content type, say) can still be broken: that is no reason for a
        # second, unasked-for error answer on the connection, only for closing it.
        try:
            return super()._keepalive_after(conn, keepalive)
        except Exception as exc:
            self.log.debug("closing after an unread, unreadable body: %s", type(exc).__name__)
            return False

    def handle_error(self, req, client, addr, exc):  # noqa: ANN001, ANN201
        # gunicorn picks the status and logs (through the redacting logger); its answer is
        # caught and sent in the route's shape instead.
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)
        status_line = captured.data.split(b"\r\n", 1)[0].decode("latin-1")
        _, status, reason = (status_line.split(" ", 2) + ["", ""])[:3]
        if not status.isdigit():
            return None
        sample = getattr(getattr(self._serving, "unreader", None), "sample", b"")
        try:
            client.sendall(error_response(int(status), reason, is_machine_target(sample)))
        except (OSError, ValueError):
            self.log.debug("Failed to send error message.")
        return None
