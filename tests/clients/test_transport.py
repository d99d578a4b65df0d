"""The one HTTP pool every client and thread of a process shares (worker/providers/transport.py)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from worker.providers import transport
from worker.providers.http import HttpClient


class CookieJarServer(BaseHTTPRequestHandler):
    """Sets a cookie on every answer and echoes the Cookie header it was sent."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        body = (self.headers.get("Cookie") or "").encode()
        self.send_response(200)
        self.send_header("Set-Cookie", f"session={self.path.strip('/')}; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CookieJarServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_every_client_of_the_process_shares_one_session(db):
    assert HttpClient("https://a.test").session is HttpClient("https://b.test").session
    assert HttpClient("https://a.test").session is transport.shared_session()


def test_a_cookie_one_account_was_set_is_never_sent_for_another(db, server):
    alice, bob = HttpClient(server), HttpClient(server)
    alice.request("GET", "/alice")
    assert bob.request("GET", "/bob").text == ""
    assert len(transport.shared_session().cookies) == 0
