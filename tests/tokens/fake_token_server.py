"""A token endpoint in miniature, on a real socket: Calendly's rules for refresh tokens
(reference/calendly-api.md §1.3): each is single use, and a reused one is answered 400
invalid_grant. It records every call, so a test can tell how many tokens were spent and whether
one was ever presented twice."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class TokenCall:
    refresh_token: str
    outcome: str  # "issued" | "reused" | "unknown"
    basic_auth: str | None


@dataclass
class TokenState:
    client_id: str
    client_secret: str
    live: set[str]
    delay: float = 0.0
    hang: float = 0.0  # rotate, then answer this late (longer than the client waits)
    # Called after a token was rotated and before the answer is sent: what the service's
    # database (or anything else) suffers while a token call is in flight.
    before_answer: Callable[[], None] | None = None
    calls: list[TokenCall] = field(default_factory=list)
    spent: set[str] = field(default_factory=set)
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeTokenServer:
    def __init__(
        self,
        first_refresh_token: str,
        *,
        client_id: str = "calendly-client-id",
        client_secret: str = "calendly-client-secret-value",
        delay: float = 0.0,
    ):
        self.state = TokenState(client_id, client_secret, {first_refresh_token}, delay)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self.state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def calls(self) -> list[TokenCall]:
        return list(self.state.calls)

    def latest_refresh_token(self) -> str:
        (token,) = self.state.live
        return token

    def __enter__(self) -> FakeTokenServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_for(state: TokenState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # quiet: the test asserts on `calls`

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if self.path == "/oauth/introspect":
                with state.lock:
                    active = form.get("token") in state.live
                self._answer(200, {"active": active})
                return
            expected = base64.b64encode(f"{state.client_id}:{state.client_secret}".encode())
            basic = self.headers.get("Authorization")
            if self.path != "/oauth/token" or basic != f"Basic {expected.decode()}":
                self._answer(401, {"error": "invalid_client"})
                return
            token = form.get("refresh_token", "")
            with state.lock:
                if token in state.live:
                    state.live.discard(token)
                    state.spent.add(token)
                    state.issued += 1
                    pair = (f"at-{state.issued}", f"rt-{state.issued}")
                    state.live.add(pair[1])
                    state.calls.append(TokenCall(token, "issued", basic))
                else:
                    outcome = "reused" if token in state.spent else "unknown"
                    state.calls.append(TokenCall(token, outcome, basic))
                    pair = None
            if pair is not None and state.before_answer is not None:
                state.before_answer()
            time.sleep(state.hang or state.delay)  # widen the window in which others may race
            if pair is None:
                self._answer(400, {"error": "invalid_grant", "error_description": "used"})
                return
            access, refresh = pair
            self._answer(
                200,
                {
                    "token_type": "Bearer",
                    "access_token": access,
                    "refresh_token": refresh,
                    "expires_in": 7200,
                    "scope": "default",
                },
            )

    return Handler
