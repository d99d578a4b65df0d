"""Request bodies through the app (Flask test client): every route refuses a body over 64 KiB
(the webhook receiver: 1 MiB) with 413 before reading it, caps chunked bodies as they stream, and
answers broken framing and unencodable strings with a 4xx in the route's shape (CONTRACT §3)."""

from __future__ import annotations

import io
import logging

import pytest
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize, NoMoreData

from tests.admin.conftest import ADMIN

KIB = 1024
BODY_ROUTES = [
    "/sync",
    "/signout",
    "/connections/savvycal/token",
    "/connections/calendly/disconnect",
    "/admin/resync",
    "/admin/team_links",
    "/webhooks/calendly/somehook",
]
MACHINE = ("/admin/", "/webhooks/")


class Untouchable(io.RawIOBase):
    """An input stream that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def read(self, size=-1):
        raise AssertionError("the body was read")

    readinto = readline = read


class Failing(io.RawIOBase):
    """The server's input stream raising what gunicorn raises for broken framing."""

    def __init__(self, exc: BaseException, head: bytes = b"") -> None:
        self.exc, self.head = exc, head

    def readable(self) -> bool:
        return True

    def read(self, size=-1):
        if self.head:
            head, self.head = self.head, b""
            return head
        raise self.exc

    def readline(self, size=-1):
        return self.read(size)


def post(client, path: str, stream, **environ):
    headers = dict(ADMIN) if path.startswith("/admin/") else {}
    if path.startswith(("/admin/", "/webhooks/")):
        headers["Content-Type"] = "application/json"
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if "CONTENT_LENGTH" not in environ:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"  # no declared length: read as it streams
    # The stream goes into the environ as gunicorn hands it over (the test client's own
    # input_stream would seek it).
    return client.post(
        path,
        headers=headers,
        environ_overrides={"wsgi.input": stream, "wsgi.input_terminated": True, **environ},
    )


def assert_shape(response, path: str, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    if path.startswith(MACHINE):
        body = response.get_json()
        assert body["message"]
        if code:
            assert body["error"] == code
    else:
        assert response.mimetype == "text/html"


@pytest.fixture
def no_error_logged(caplog):
    caplog.set_level(logging.INFO)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_declared_body_over_the_limit_is_413_before_a_byte_is_read(client, path, no_error_logged):
    response = post(client, path, Untouchable(), CONTENT_LENGTH="10000000000")
    assert_shape(response, path, 413, "payload_too_large")


@pytest.mark.parametrize("path", [p for p in BODY_ROUTES if not p.startswith("/webhooks/")])
def test_a_declared_body_just_over_64_kib_is_413(client, path):
    response = post(client, path, Untouchable(), CONTENT_LENGTH=str(64 * KIB + 1))
    assert_shape(response, path, 413, "payload_too_large")


@pytest.mark.parametrize("path", [p for p in BODY_ROUTES if not p.startswith("/webhooks/")])
def test_a_chunked_body_is_refused_once_it_streams_past_64_kib(client, path, no_error_logged):
    response = post(client, path, io.BytesIO(b"a=" + b"x" * (200 * KIB)))
    assert_shape(response, path, 413, "payload_too_large")


def test_a_form_of_exactly_64_kib_is_read(client):
    """The limit is inclusive: the CSRF check reads the whole form and refuses its token."""
    form = b"csrf_token=nope&pad=" + b"x" * (64 * KIB - 20)
    assert len(form) == 64 * KIB
    response = post(client, "/sync", io.BytesIO(form))
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_the_webhook_receiver_keeps_its_1_mib(client):
    response = post(client, "/webhooks/calendly/somehook", io.BytesIO(b"{}" + b" " * (200 * KIB)))
    # Past 64 KiB, under 1 MiB: read, and refused later for the unknown hook.
    assert_shape(response, "/webhooks/calendly/somehook", 410, "unknown_hook")


@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest.mark.parametrize(
    "exc",
    [
        InvalidChunkSize(b"zz"),
        InvalidChunkSize(b"-5"),
        ChunkMissingTerminator(b"xx"),
        NoMoreData(b""),
        ConnectionResetError(),
    ],
    ids=["bad-size", "negative-size", "chunk-longer-than-declared", "cut-short", "reset"],
)
def test_broken_framing_is_400_in_the_routes_shape(client, path, exc, no_error_logged):
    response = post(client, path, Failing(exc))
    assert_shape(response, path, 400)


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_body_that_stops_arriving_is_408(client, path, no_error_logged):
    response = post(client, path, Failing(TimeoutError("timed out")))
    assert_shape(response, path, 408, "request_timeout")


@pytest.mark.parametrize(
    "body",
    [
        b'{"account":"\\ud800"}',
        b'{"account":"\\udfff x"}',
        b'{"\\ud800":1}',
        b'{"account":"\xed\xa0\x80"}',
    ],
    ids=["escape", "low-half", "in-a-key", "raw-bytes"],
)
def test_a_lone_surrogate_in_admin_resync_is_400(client, body, no_error_logged):
    response = client.post(
        "/admin/resync", data=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert_shape(response, "/admin/", 400, "bad_request")


def test_a_lone_surrogate_in_a_team_link_is_400(client, no_error_logged):
    body = b'{"organization_id":"orga_1","name":"\\ud800","calendly_slug":"x"}'
    response = client.post(
        "/admin/team_links", data=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert_shape(response, "/admin/", 400)


def test_a_properly_paired_surrogate_is_just_a_character(client, account):
    response = client.post(
        "/admin/resync",
        data=b'{"account":"\\ud83d\\ude00"}',
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert_shape(response, "/admin/", 404, "not_found")
