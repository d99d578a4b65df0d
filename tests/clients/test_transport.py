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


def test_the_environment_is_read_once_per_host_and_still_applies(db, server, monkeypatch):
    reads: list[str] = []
    environ_proxies = transport.requests.sessions.get_environ_proxies

    def counted(url, no_proxy=None):  # noqa: ANN001
        reads.append(url)
        return environ_proxies(url, no_proxy=no_proxy)

    monkeypatch.setattr(transport.requests.sessions, "get_environ_proxies", counted)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,bypass.test")
    session = transport.new_session(4)

    for path in ("/a", "/b", "/c"):
        assert session.get(f"{server}{path}", timeout=5).status_code == 200
    merged = session.merge_environment_settings("https://api.close.test/x", {}, None, None, None)
    bypassed = session.merge_environment_settings("https://bypass.test/x", {}, None, None, None)

    assert len(reads) == 3  # once per host (the stand-in, Close, bypass.test), not per call
    assert merged["proxies"]["https"] == "http://proxy.example:3128"
    assert "https" not in bypassed["proxies"]
    merged["proxies"].clear()  # a call's copy; the remembered one is unchanged
    again = session.merge_environment_settings("https://api.close.test/y", {}, None, None, None)
    assert again["proxies"]["https"] == "http://proxy.example:3128"
    # A call with settings of its own is merged as requests does, and not remembered.
    own = session.merge_environment_settings("https://api.close.test/z", {}, None, False, None)
    assert own["verify"] is False and len(reads) == 4
