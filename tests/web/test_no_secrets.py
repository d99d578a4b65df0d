"""No token, code, verifier, client secret or signing key in any log line, page or error answer
(CONTRACT §5), through every flow, with every logger at DEBUG, including the OAuth libraries."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta

import pytest
import requests
from sqlalchemy import update

from tests.conftest import CALENDLY_API, CLOSE_API, SAVVYCAL_API, TEST_KEY
from tests.web.flows import (
    CALENDLY_TOKEN_URL,
    CLOSE_TOKEN_URL,
    SAVVYCAL_TOKEN_URL,
    close_token_answer,
    csrf,
    form,
    start,
)
from worker import runtime
from worker.storage.models import Connection, utcnow
from worker.tasks.disconnect import disconnect_connection
from worker.tasks.refresh import refresh_token_of

SECRETS = {
    "close access token": "close-access-SECRET-1",
    "close refresh token": "close-refresh-SECRET-2",
    "close code": "close-code-SECRET-3",
    "calendly access token": "cal-access-SECRET-4",
    "calendly refresh token": "cal-refresh-SECRET-5",
    "calendly code": "cal-code-SECRET-6",
    "calendly rotated access token": "cal-access-SECRET-7",
    "calendly rotated refresh token": "cal-refresh-SECRET-8",
    "savvycal access token": "sc-access-SECRET-9",
    "savvycal refresh token": "sc-refresh-SECRET-10",
    "savvycal code": "sc-code-SECRET-11",
    "savvycal personal token": "pt_secret_SECRET-12",
    "refused personal token": "pt_secret_SECRET-13",
    "refused code": "refused-code-SECRET-14",
}


class RawRecords(logging.Handler):
    """Each record's text as it was made: before any handler's scrubbing filter changed it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture
def raw_records(caplog):
    """Every logger at DEBUG, and a handler that sees each record first."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    handler = RawRecords()
    logging.root.handlers.insert(0, handler)
    yield handler
    logging.root.removeHandler(handler)


def test_no_secret_appears_in_any_log_line_page_or_error_answer(
    app, client, settings, mocked, sent, caplog, raw_records
):
    bodies: list[str] = []

    def visit(response) -> None:
        bodies.append(response.get_data(as_text=True))
        bodies.append(response.headers.get("Location", ""))

    # Close sign-in.
    state = start(client, "close")["state"]
    mocked.post(
        CLOSE_TOKEN_URL,
        json=close_token_answer(
            access_token=SECRETS["close access token"],
            refresh_token=SECRETS["close refresh token"],
        ),
    )
    mocked.get(f"{CLOSE_API}/me/", json={"id": "user_NEW", "email": "rep@example.com"})
    visit(client.get(f"/oauth/close/callback?code={SECRETS['close code']}&state={state}"))
    visit(client.get("/"))

    # Calendly: a refused code first, then a good one.
    state = start(client, "calendly")["state"]
    mocked.post(
        CALENDLY_TOKEN_URL,
        status=400,
        json={"error": "invalid_grant", "error_description": "bad code"},
    )
    visit(client.get(f"/oauth/calendly/callback?code={SECRETS['refused code']}&state={state}"))
    mocked.replace(
        "POST",
        CALENDLY_TOKEN_URL,
        json={
            "access_token": SECRETS["calendly access token"],
            "refresh_token": SECRETS["calendly refresh token"],
            "token_type": "Bearer",
            "expires_in": 7200,
            "owner": f"{CALENDLY_API}/users/U1",
            "organization": f"{CALENDLY_API}/organizations/O1",
        },
    )
    mocked.get(
        f"{CALENDLY_API}/users/me",
        json={"resource": {"uri": f"{CALENDLY_API}/users/U1", "email": "rep@cal.example"}},
    )
    state = start(client, "calendly")["state"]
    visit(client.get(f"/oauth/calendly/callback?code={SECRETS['calendly code']}&state={state}"))
    verifier = form(mocked.calls[-2].request)["code_verifier"]

    # SavvyCal by OAuth, then a refused personal token, then a good one.
    state = start(client, "savvycal")["state"]
    mocked.post(
        SAVVYCAL_TOKEN_URL,
        json={
            "access_token": SECRETS["savvycal access token"],
            "refresh_token": SECRETS["savvycal refresh token"],
            "expires_in": 7200,
            "token_type": "bearer",
        },
    )
    mocked.get(f"{SAVVYCAL_API}/me", json={"id": "user_sc_1", "email": "rep@savvy.example"})
    visit(client.get(f"/oauth/savvycal/callback?code={SECRETS['savvycal code']}&state={state}"))
    mocked.replace("GET", f"{SAVVYCAL_API}/me", status=401, body="Unauthenticated")
    token = csrf(client)
    bad = SECRETS["refused personal token"]
    visit(client.post("/connections/savvycal/token", data={"csrf_token": token, "token": bad}))
    mocked.replace("GET", f"{SAVVYCAL_API}/me", json={"id": "user_sc_1"})
    good = SECRETS["savvycal personal token"]
    visit(client.post("/connections/savvycal/token", data={"csrf_token": token, "token": good}))
    visit(client.get("/"))

    # The worker refreshes the Calendly token: once after a network failure, then for real.
    with runtime.session_scope() as session:
        session.execute(
            update(Connection)
            .where(Connection.provider == "calendly")
            .values(token_expires_at=utcnow() + timedelta(minutes=1))
        )
        calendly_id = session.query(Connection.id).filter_by(provider="calendly").scalar()
    mocked.replace("POST", CALENDLY_TOKEN_URL, body=requests.exceptions.ConnectTimeout())
    try:
        refresh_token_of(calendly_id)
    except Exception as exc:  # called directly, Celery's retry re-raises the cause
        bodies.append(str(exc))
    mocked.replace(
        "POST",
        CALENDLY_TOKEN_URL,
        json={
            "access_token": SECRETS["calendly rotated access token"],
            "refresh_token": SECRETS["calendly rotated refresh token"],
            "expires_in": 7200,
        },
    )
    assert refresh_token_of(calendly_id) == "ok"

    # Disconnect Calendly, and the worker's clean-up revokes its tokens.
    visit(client.post("/connections/calendly/disconnect", data={"csrf_token": token}))
    mocked.get(f"{CLOSE_API}/scheduling_link/", json={"data": [], "has_more": False})
    mocked.post(f"{settings.calendly_auth_url}/oauth/revoke", json={})
    task, args = sent[-1]
    assert task == "worker.tasks.disconnect.disconnect_connection"
    assert disconnect_connection(*args) == "ok"

    # Sign out; a forged callback.
    visit(client.post("/signout", data={"csrf_token": token}))
    visit(client.get("/oauth/close/callback?code=x&state=" + "f" * 43))

    secrets = dict(SECRETS)
    secrets["PKCE verifier"] = verifier
    for name in ("close", "calendly", "savvycal"):
        secrets[f"{name} client secret"] = getattr(settings, f"{name}_client_secret")
    secrets["calendly Basic credentials"] = base64.b64encode(
        f"{settings.calendly_client_id}:{settings.calendly_client_secret}".encode()
    ).decode()
    secrets["calendly webhook signing key"] = settings.calendly_webhook_signing_key
    secrets["Flask secret key"] = settings.secret_key
    secrets["encryption key"] = TEST_KEY
    logs = caplog.text + "\n".join(raw_records.lines)
    assert "refreshed calendly token" in logs  # the capture saw the worker too
    assert len(raw_records.lines) > 20
    leaks = [
        (name, where)
        for name, value in secrets.items()
        for where, text in (("logs", logs), ("pages", "\n".join(bodies)))
        if value in text
    ]
    assert leaks == []
    assert "Request to fetch token completed" not in logs  # oauthlib's echo stopped at source
