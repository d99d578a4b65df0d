"""Slow clients, as an attacker would run them: connections that declare a body and trickle it,
send their head a few bytes at a time, or send nothing at all. Each is reopened when the server
answers or drops it, so the pressure is held for as long as the holder runs, and the old socket is
never closed from this side (the server must not wait for that). Used by tests/edge and
bench/slow_clients.py."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field

TRICKLE_INTERVAL = 0.5  # seconds between two sends on one connection
TRICKLE_BYTES = 2
MAX_LEFT_OPEN = 400  # sockets the server dropped, kept open (not closed) like an attacker would


def _form_head(port: int) -> bytes:
    # A 60 KB form, under the 64 KiB limit, so only its slowness is wrong with it.
    return (
        f"POST /sync HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\n"
    ).encode()


def _head_start(port: int) -> bytes:
    return f"POST /webhooks/calendly/slow HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()


def _huge_declared(port: int) -> bytes:
    return (
        f"POST /signout HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000000\r\n\r\n"
    ).encode()


# kind -> (what is sent at once, what is then trickled forever)
KINDS = {
    "trickled form body": (_form_head, b"a=" + b"x" * 10_000_000),
    "trickled head": (_head_start, b"X-Slow: " + b"y" * 10_000_000),
    "declared 10 GB, sends nothing": (_huge_declared, b""),
    "silent": (lambda port: b"", b""),
}


@dataclass
class _Conn:
    kind: str
    sock: socket.socket
    rest: bytes
    offset: int = 0


@dataclass
class SlowClients:
    """Holds `count` slow connections to 127.0.0.1:`port`, kinds taken in turn."""

    port: int
    count: int
    kinds: tuple[str, ...] = tuple(KINDS)
    opened: int = 0
    dropped_by_server: int = 0
    _conns: list[_Conn] = field(default_factory=list)
    _left_open: list[socket.socket] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _open(self, kind: str) -> _Conn | None:
        first, rest = KINDS[kind]
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                data = first(self.port)
                if data:
                    sock.send(data)
        except OSError:
            return None
        self.opened += 1
        return _Conn(kind, sock, rest)

    def __enter__(self) -> SlowClients:
        kinds = itertools.cycle(self.kinds)
        for _ in range(self.count):
            conn = self._open(next(kinds))
            if conn is not None:
                self._conns.append(conn)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _closed_by_server(self, conn: _Conn) -> bool:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return False
        except OSError:
            return True
        # An answer (a 413, a 408) or EOF: either way this connection has stopped holding.
        return data == b"" or data.startswith(b"HTTP/")

    def _run(self) -> None:
        while not self._stop.wait(TRICKLE_INTERVAL):
            for i, conn in enumerate(list(self._conns)):
                dropped = self._closed_by_server(conn)
                if not dropped and conn.rest:
                    piece = conn.rest[conn.offset : conn.offset + TRICKLE_BYTES]
                    try:
                        conn.offset += conn.sock.send(piece)
                    except BlockingIOError:
                        pass
                    except OSError:
                        dropped = True
                if dropped:
                    self.dropped_by_server += 1
                    # Like an attacker, never close: the server must not wait for it.
                    self._left_open.append(conn.sock)
                    if len(self._left_open) > MAX_LEFT_OPEN:
                        self._left_open.pop(0).close()
                    fresh = self._open(conn.kind)
                    if fresh is not None:
                        self._conns[i] = fresh

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for sock in [conn.sock for conn in self._conns] + self._left_open:
            sock.close()


def timed_request(port: int, data: bytes, timeout: float) -> tuple[int | None, float]:
    """(status or None on timeout/failure, seconds) of one request on a fresh connection."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(max(0.1, timeout - (time.monotonic() - started)))
            sock.sendall(data)
            answer = b""
            while b"\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return None, time.monotonic() - started
    seconds = time.monotonic() - started
    try:
        return int(answer.split(b" ", 2)[1]), seconds
    except (IndexError, ValueError):
        return None, seconds


def healthz_request(port: int) -> bytes:
    return f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
