"""Fixtures for the sandbox's own tests: a fresh app per test, its test client, a live server for
what needs a real socket, and a tiny HTTP receiver that records webhook deliveries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from werkzeug.serving import make_server

from sandbox import create_app, current_sandbox

FAST_WEBHOOKS = {
    "SANDBOX_WEBHOOK_RETRY_BASE_SECONDS": 0.02,
    "SANDBOX_WEBHOOK_RETRY_MAX_SECONDS": 0.05,
    "SANDBOX_WEBHOOK_TIMEOUT_SECONDS": 2.0,
}


@pytest.fixture
def make_sandbox_app() -> Iterator[Callable[..., Any]]:
    """Build a sandbox app with extra settings; its delivery threads stop after the test."""
    apps = []

    def make(**settings: Any) -> Any:
        app = create_app(
            {
                "TESTING": True,
                "SANDBOX_PUBLIC_URL": "http://sandbox.test",
                **FAST_WEBHOOKS,
                **settings,
            }
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["sandbox"].close()


@pytest.fixture
def sandbox_app(make_sandbox_app):
    return make_sandbox_app()


@pytest.fixture
def sb(sandbox_app):
    """The sandbox's Flask test client."""
    return sandbox_app.test_client()


@pytest.fixture
def sandbox(sandbox_app):
    """The Sandbox object itself (store, limiters, deliverer), for what the API does not show."""
    with sandbox_app.app_context():
        return current_sandbox()


@pytest.fixture
def live_sandbox(sandbox_app) -> Iterator[str]:
    """The same app on a real socket (threaded, like `python -m sandbox`); yields its base URL."""
    server = make_server("127.0.0.1", 0, sandbox_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class Receiver:
    """Records every POST; answers `status` (settable) to each."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def json_bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def wait_for(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not met in time")
