"""No credential-bearing query string reaches a log line: not through the access log (request
line, query string, Referer), not through gunicorn's own warnings about requests it refuses
(CONTRACT §5 Secrets; issue 14)."""

from __future__ import annotations

import time

import pytest

from tests.edge.conftest import exchange
from web.gunicorn_logs import redact

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SECRETS = ("SECRET-CODE", "SECRET-STATE", "SECRET-REFERER", "SECRET-TOKEN")
QUERY = "code=SECRET-CODE&state=SECRET-STATE"
REQUESTS = {
    "an OAuth callback": (
        f"GET /oauth/close/callback?{QUERY} HTTP/1.1\r\nHost: x\r\n"
        "Referer: https://app.example/back?token=SECRET-REFERER\r\n\r\n"
    ).encode(),
    "an invalid request line": (
        f"GET /oauth/close/callback?{QUERY}\x01 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    ),
    "an invalid HTTP version": (
        f"GET /oauth/savvycal/callback?{QUERY} HTTP/1.1 x\r\nHost: x\r\n\r\n".encode()
    ),
    "a header over the limit": (
        f"GET /oauth/calendly/callback?{QUERY} HTTP/1.1\r\nHost: x\r\nX-Big: {'b' * 9000}\r\n\r\n"
    ).encode(),
    "a webhook with a token in its query": (
        b"POST /webhooks/calendly/nobody?access_token=SECRET-TOKEN HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    ),
}


def test_no_query_string_secret_reaches_the_log(web):
    web.new_log()
    for request in REQUESTS.values():
        assert 400 <= exchange(web.port, request).status < 500
    time.sleep(0.5)
    log = web.new_log()
    # The lines are there (the access log names the paths; gunicorn warned), only cut.
    assert "/oauth/close/callback" in log and "Invalid request" in log, log
    leaked = [line for line in log.splitlines() if any(s in line for s in SECRETS)]
    assert leaked == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Invalid HTTP request line: 'GET /oauth/close/callback?code=abc&state=def HTTP/1.1'",
            "Invalid HTTP request line: 'GET /oauth/close/callback?[redacted] HTTP/1.1'",
        ),
        (
            '"GET /a?x=1 HTTP/1.1" q="code=abc&state=d"',
            '"GET /a?[redacted] HTTP/1.1" q="code=[redacted]&state=[redacted]"',
        ),
        ("no query here: is it?", "no query here: is it?"),
    ],
)
def test_redact_cuts_query_strings_and_credential_pairs(line, expected):
    assert redact(line) == expected
