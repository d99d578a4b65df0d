"""gunicorn started as the Procfile starts it (from the project root, so gunicorn.conf.py applies),
a private redis-server, one account with a Calendly webhook subscription to sign deliveries for,
and raw sockets to talk to it with."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY
from tests.processes import Proc, Stack
from worker import runtime
from worker.calendly.signatures import sign
from worker.config import Settings
from worker.storage.models import Account, Connection, WebhookSubscription

HOOK_ID = "edge-hook-000000000000000000000"
SIGNING_KEY = "edge-subscription-signing-key"
ADMIN_TOKEN = "stack-admin-token"  # tests/processes.py Stack.env
# The access log with everything gunicorn can put into it that might carry a query string.
REVEALING_ACCESS_LOG = '%(h)s "%(r)s" %(s)s q="%(q)s" ref="%(f)s" %(L)ss'


@dataclass
class Web:
    proc: Proc
    port: int
    log_mark: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.proc.log.read_text(errors="replace")

    def new_log(self) -> str:
        """What the process logged since the last call."""
        text = self.log()
        fresh, self.log_mark = text[self.log_mark :], len(text)
        return fresh


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


def seed_hook(database: Path, redis_url: str) -> None:
    settings = Settings(
        database_url=f"sqlite:///{database}",
        encryption_keys=(TEST_KEY,),
        secret_key="edge",
        redis_url=redis_url,
    )
    runtime.configure(settings)
    with runtime.session_scope() as session:
        account = Account(close_user_id="user_edge", organization_id="orga_edge")
        account.connections.append(Connection(provider="close", access_token="x"))
        calendly = Connection(provider="calendly", access_token="x")
        account.connections.append(calendly)
        session.add(account)
        session.flush()
        session.add(
            WebhookSubscription(
                connection_id=calendly.id, hook_id=HOOK_ID, signing_key=SIGNING_KEY, state="active"
            )
        )
    runtime.engine().dispose()


@pytest.fixture(scope="module")
def web(tmp_path_factory, redis_server):
    tmp = tmp_path_factory.mktemp("edge")
    stack = Stack(tmp, redis_server.url)
    stack.migrate()
    seed_hook(tmp / "schedsync.db", redis_server.url)
    proc, base = stack.start_web(access_log_format=REVEALING_ACCESS_LOG)
    server = Web(proc, int(base.rsplit(":", 1)[1]))
    server.new_log()
    yield server
    stack.stop_all()


@pytest.fixture
def clean_log(web):
    """Asserts, after the test, that the web process logged no error and no traceback."""
    web.new_log()
    yield web
    time.sleep(0.2)  # the access log line is written just after the answer
    fresh = web.new_log()
    assert "Traceback" not in fresh, fresh
    assert "[ERROR]" not in fresh and " ERROR " not in fresh, fresh


def read_answer(sock: socket.socket, started: float) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before an answer: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Answer(status, headers, body[:length], time.monotonic() - started)


def exchange(port: int, data: bytes, *, half_close: bool = True, timeout: float = 20) -> Answer:
    """Send `data` as is, optionally half-close, and read the first answer."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_answer(sock, started)


def signed_delivery(port: int, hook_id: str = HOOK_ID, created_at: str | None = None) -> bytes:
    body = json.dumps(
        {
            "event": "event_type.updated",
            "created_at": created_at or f"{time.time():.6f}",
            "payload": {"uri": "https://api.calendly.com/event_types/EDGEEDGEEDGEEDGE"},
        }
    ).encode()
    signature = sign(SIGNING_KEY, int(time.time()), body)
    return (
        f"POST /webhooks/calendly/{hook_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nCalendly-Webhook-Signature: {signature}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
