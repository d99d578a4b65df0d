"""Malformed requests on raw sockets, against gunicorn as the Procfile starts it: every one gets
a 4xx in the route's shape (JSON on machine routes, a page on browser routes), never a 5xx, and
the log holds no error and no traceback (issue 14; CONTRACT §3)."""

from __future__ import annotations

import pytest

from tests.edge.conftest import ADMIN_TOKEN, HOOK_ID, exchange

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

FORM = "application/x-www-form-urlencoded"
ROUTES = {
    "/sync": FORM,
    "/signout": FORM,
    "/connections/savvycal/token": FORM,
    "/connections/calendly/disconnect": FORM,
    "/admin/resync": "application/json",
    f"/webhooks/calendly/{HOOK_ID}": "application/json",
    # Unsigned and for no known hook: the size and framing are still what is answered.
    "/webhooks/calendly/nobody": "application/json",
}
TRAILERS = b"".join(b"X-Trailer-%d: v\r\n" % i for i in range(150))
BODIES = {
    "chunk size zz": b"zz\r\n",
    "negative chunk size": b"-5\r\nhello\r\n0\r\n\r\n",
    "chunk longer than declared": b"2\r\nhello\r\n0\r\n\r\n",
    "over 100 trailer fields": b"1\r\na\r\n0\r\n" + TRAILERS + b"\r\n",
    "cut short, then half-closed": b"10\r\nabc",
}


def head(path: str, content_type: str | None, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if path.startswith("/admin/"):
        lines.append(f"Authorization: Bearer {ADMIN_TOKEN}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_shape(answer, path: str, status: int | None = None) -> None:
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    if status is not None:
        assert answer.status == status, (answer.status, answer.body[:300])
    if path.startswith(("/admin/", "/webhooks/")):
        assert answer.headers["content-type"].startswith("application/json")
        body = answer.json()
        assert set(body) == {"error", "message"} and body["message"]
    else:
        assert answer.headers["content-type"].startswith("text/html")
    assert b"Traceback" not in answer.body


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize("path", list(ROUTES))
def test_broken_chunked_framing_is_a_4xx_in_the_routes_shape(web, clean_log, path, body):
    request = head(path, ROUTES[path], "Transfer-Encoding: chunked") + BODIES[body]
    assert_shape(exchange(web.port, request), path)


@pytest.mark.parametrize("path", ["/sync", "/signout"])
def test_broken_framing_of_a_body_the_app_does_not_read_is_not_an_error(web, clean_log, path):
    """No form content type: the CSRF check has no form to read and refuses; the broken body
    left on the connection is no reason for a second answer or an error in the log."""
    answer = exchange(web.port, head(path, None, "Transfer-Encoding: chunked") + b"zz\r\n")
    assert_shape(answer, path, 400)


@pytest.mark.parametrize("path", list(ROUTES))
def test_a_declared_10_gb_body_is_413_at_once_with_nothing_sent(web, clean_log, path):
    # No half-close: the client is still "about to send" its 10 GB.
    request = head(path, ROUTES[path], "Content-Length: 10000000000")
    answer = exchange(web.port, request, half_close=False, timeout=10)
    assert_shape(answer, path, 413)
    assert answer.seconds < 5  # not after a read timeout
    if path.startswith(("/admin/", "/webhooks/")):
        assert answer.json()["error"] == "payload_too_large"


@pytest.mark.parametrize("path", [p for p in ROUTES if not p.startswith("/webhooks/")])
def test_a_chunked_body_past_64_kib_is_413(web, clean_log, path):
    chunk = b"x" * 16384
    body = b"".join(b"4000\r\n" + chunk + b"\r\n" for _ in range(5)) + b"0\r\n\r\n"
    answer = exchange(web.port, head(path, ROUTES[path], "Transfer-Encoding: chunked") + body)
    assert_shape(answer, path, 413)


def test_a_body_cut_short_of_its_content_length_is_400(web, clean_log):
    path = "/admin/resync"
    answer = exchange(web.port, head(path, ROUTES[path], "Content-Length: 100") + b'{"acc')
    assert_shape(answer, path, 400)


@pytest.mark.parametrize(
    "body", [b'{"account":"\\ud800"}', b'{"account":"\xed\xa0\x80"}'], ids=["escape", "bytes"]
)
def test_a_lone_surrogate_to_admin_resync_is_400(web, clean_log, body):
    path = "/admin/resync"
    request = head(path, ROUTES[path], f"Content-Length: {len(body)}") + body
    assert_shape(exchange(web.port, request), path, 400)


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GET /admin/accounts?x=\x01 HTTP/1.1", 400),
        (b"GET /admin/accounts?" + b"a" * 9000 + b" HTTP/1.1", 414),
        (b"GET /healthz HTTP/1.1\r\n" + b"X-Big: " + b"b" * 9000, 431),
    ],
    ids=["invalid request line", "URI too long", "header too large"],
)
def test_gunicorns_own_refusals_are_json_on_machine_routes(web, clean_log, request_line, status):
    answer = exchange(web.port, request_line + b"\r\nHost: x\r\n\r\n")
    assert answer.status == status
    assert answer.headers["content-type"] == "application/json"
    assert set(answer.json()) == {"error", "message"}


def test_gunicorns_own_refusal_on_a_browser_route_is_a_page_that_does_not_quote_it(web, clean_log):
    line = b"GET /oauth/close/callback?code=the-code-value&state=the-state-value\x01 HTTP/1.1"
    answer = exchange(web.port, line + b"\r\nHost: x\r\n\r\n")
    assert answer.status == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert b"the-code-value" not in answer.body and b"the-state-value" not in answer.body


def test_the_procfile_line_runs_the_configured_worker(web):
    log = web.log()
    assert "Using worker: web.gunicorn_worker.DeadlineThreadWorker" in log, log[-2000:]
