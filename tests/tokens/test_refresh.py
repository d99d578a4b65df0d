"""Refreshing tokens (CONTRACT §5 Tokens), one connection at a time, against mocked token
endpoints: what is stored, what is retried, and what is never tried again."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select
from urllib3.exceptions import NewConnectionError

from tests.conftest import CALENDLY_API, SAVVYCAL_API
from tests.tokens.conftest import (
    CALENDLY_INTROSPECT,
    CALENDLY_TOKEN,
    CLOSE_TOKEN,
    SAVVYCAL_TOKEN,
    connection_id,
    expire_in,
    stored,
)
from tests.web.flows import form
from worker.auth.accounts import store_connection
from worker.auth.connected import calendly_client, connected_client
from worker.auth.errors import NeedsReauth
from worker.auth.tokens import MAX_TOKEN_CALLS_PER_MINUTE, refresh_connection
from worker.providers.errors import RateLimited, Unauthorized, UnknownOutcome
from worker.storage.models import Connection
from worker.tasks.refresh import refresh_sweep, refresh_token_of

NEW_PAIR = {"access_token": "at-NEW", "refresh_token": "rt-NEW", "expires_in": 7200}


def token_calls(mocked, url: str = CALENDLY_TOKEN) -> list:
    return [c for c in mocked.calls if c.request.url == url]


def unsent_failure() -> requests.exceptions.ConnectionError:
    """What requests raises when the connection was refused: nothing reached the server."""
    reason = NewConnectionError(None, "Failed to establish a new connection: refused")
    return requests.exceptions.ConnectionError(
        requests.packages.urllib3.exceptions.MaxRetryError(None, CALENDLY_TOKEN, reason)
    )


@pytest.fixture
def calendly(account):
    conn_id = connection_id(account, "calendly")
    expire_in(conn_id, 300)  # inside the sweep's margin
    return conn_id


def test_a_refresh_stores_the_new_pair_and_sends_the_old_refresh_token_once(calendly, mocked):
    mocked.post(CALENDLY_TOKEN, json=NEW_PAIR)
    before = stored(calendly)

    assert refresh_token_of(calendly) == "ok"

    (call,) = token_calls(mocked)
    assert form(call.request) == {"grant_type": "refresh_token", "refresh_token": "cal-rt-user_A"}
    assert call.request.headers["Authorization"].startswith("Basic ")
    after = stored(calendly)
    assert (after.access_token, after.refresh_token) == ("at-NEW", "rt-NEW")
    assert after.token_generation == before.token_generation + 1
    assert after.token_expires_at > before.token_expires_at


def test_close_and_savvycal_refresh_with_credentials_in_the_body(account, mocked):
    mocked.post(CLOSE_TOKEN, json={**NEW_PAIR, "user_id": "user_A", "organization_id": "orga_1"})
    mocked.post(SAVVYCAL_TOKEN, json=NEW_PAIR)
    for provider in ("close", "savvycal"):
        expire_in(connection_id(account, provider), 300)
        assert refresh_token_of(connection_id(account, provider)) == "ok"

    for url, client_id in ((CLOSE_TOKEN, "close"), (SAVVYCAL_TOKEN, "savvycal")):
        body = form(token_calls(mocked, url)[0].request)
        assert body["client_id"] == f"{client_id}-client-id"
        assert body["client_secret"] == f"{client_id}-client-secret-value"
        assert "Authorization" not in token_calls(mocked, url)[0].request.headers


def test_a_fresh_token_is_not_refreshed(account, mocked):
    conn_id = connection_id(account, "calendly")
    expire_in(conn_id, 7000)

    assert refresh_token_of(conn_id) == "ok"
    assert len(mocked.calls) == 0


def test_invalid_grant_marks_needs_reauth_with_one_call_and_nothing_tries_again(
    calendly, mocked, client, enqueued
):
    mocked.post(CALENDLY_TOKEN, status=400, json={"error": "invalid_grant"})

    assert refresh_token_of(calendly) == "needs_reauth"
    assert refresh_token_of(calendly) == "needs_reauth"
    refresh_sweep()

    assert len(token_calls(mocked)) == 1
    assert enqueued == []  # the sweep does not pick it up either
    conn = stored(calendly)
    assert conn.state == "needs_reauth"
    assert (conn.access_token, conn.refresh_token) == ("cal-at-user_A", "cal-rt-user_A")
    with client.session_transaction() as session:
        session["account_id"] = conn.account_id
    assert "Reconnect Calendly" in client.get("/").get_data(as_text=True)


def test_invalid_grant_after_a_reconnect_keeps_the_new_grant(calendly, mocked):
    def reconnect_then_refuse(request):
        store_connection(stored(calendly).account_id, "calendly", personal_token="fresh-grant")
        return 400, {}, '{"error": "invalid_grant"}'

    mocked.add_callback("POST", CALENDLY_TOKEN, callback=reconnect_then_refuse)

    snap = refresh_connection(calendly, margin_seconds=960)

    assert snap.access_token == "fresh-grant"
    assert stored(calendly).state == "active"


def test_a_connection_error_before_sending_is_retried_and_keeps_the_pair(
    calendly, mocked, monkeypatch
):
    mocked.post(CALENDLY_TOKEN, body=unsent_failure())
    before = stored(calendly)
    retries = []

    def record_retry(countdown, exc):
        retries.append((countdown, type(exc).__name__))
        return RuntimeError("retry scheduled")

    monkeypatch.setattr(refresh_token_of, "retry", record_retry)

    with pytest.raises(RuntimeError, match="retry scheduled"):
        refresh_token_of(calendly)

    assert retries == [(5, "Unavailable")]
    conn = stored(calendly)
    assert (conn.state, conn.refresh_token) == ("active", "cal-rt-user_A")
    assert conn.token_generation == before.token_generation
    mocked.replace("POST", CALENDLY_TOKEN, json=NEW_PAIR)
    assert refresh_token_of(calendly) == "ok"  # the retry spends the same, still valid token
    assert [form(c.request)["refresh_token"] for c in token_calls(mocked)] == ["cal-rt-user_A"] * 2


def test_a_calendly_timeout_after_sending_is_decided_by_introspection_active(calendly, mocked):
    mocked.post(CALENDLY_TOKEN, body=requests.exceptions.ReadTimeout())
    mocked.post(CALENDLY_TOKEN, json=NEW_PAIR)  # responses answers registrations in turn
    mocked.post(CALENDLY_INTROSPECT, json={"active": True})

    assert refresh_token_of(calendly) == "ok"

    urls = [c.request.url for c in mocked.calls]
    assert urls == [CALENDLY_TOKEN, CALENDLY_INTROSPECT, CALENDLY_TOKEN]
    introspected = form(mocked.calls[1].request)
    assert introspected == {
        "client_id": "calendly-client-id",
        "client_secret": "calendly-client-secret-value",
        "token": "cal-rt-user_A",
    }
    assert stored(calendly).refresh_token == "rt-NEW"


def test_a_calendly_timeout_after_sending_is_decided_by_introspection_inactive(calendly, mocked):
    mocked.post(CALENDLY_TOKEN, body=requests.exceptions.ReadTimeout())
    mocked.post(CALENDLY_INTROSPECT, json={"active": False})

    assert refresh_token_of(calendly) == "needs_reauth"

    assert [c.request.url for c in mocked.calls] == [CALENDLY_TOKEN, CALENDLY_INTROSPECT]
    assert stored(calendly).state == "needs_reauth"


def test_elsewhere_a_timeout_after_sending_is_decided_by_one_retry(account, mocked):
    conn_id = connection_id(account, "close")
    expire_in(conn_id, 300)
    mocked.post(CLOSE_TOKEN, body=requests.exceptions.ReadTimeout())
    mocked.post(CLOSE_TOKEN, status=400, json={"error": "invalid_grant"})

    assert refresh_token_of(conn_id) == "needs_reauth"

    sent = [form(c.request)["refresh_token"] for c in mocked.calls]
    assert sent == ["close-rt-user_A", "close-rt-user_A"]


def test_two_lost_answers_in_a_row_leave_the_pair_for_a_later_retry(account, mocked):
    conn_id = connection_id(account, "close")
    expire_in(conn_id, 300)
    mocked.post(CLOSE_TOKEN, body=requests.exceptions.ReadTimeout())

    with pytest.raises(UnknownOutcome):
        refresh_connection(conn_id, margin_seconds=960)

    conn = stored(conn_id)
    assert (conn.state, conn.refresh_token) == ("active", "close-rt-user_A")


def test_savvycal_answer_without_a_refresh_token_keeps_the_old_one(account, mocked):
    conn_id = connection_id(account, "savvycal")
    expire_in(conn_id, 300)
    mocked.post(SAVVYCAL_TOKEN, json={"access_token": "sc-at-NEW", "expires_in": 7200})

    assert refresh_token_of(conn_id) == "ok"

    conn = stored(conn_id)
    assert (conn.access_token, conn.refresh_token) == ("sc-at-NEW", "sc-rt-user_A")


def test_a_rate_limited_token_call_is_retried_after_the_announced_reset(
    calendly, mocked, monkeypatch
):
    mocked.post(CALENDLY_TOKEN, status=429, headers={"X-RateLimit-Reset": "42"})
    retries = []
    monkeypatch.setattr(
        refresh_token_of, "retry", lambda countdown, exc: retries.append(countdown) or exc
    )

    with pytest.raises(RateLimited):
        refresh_token_of(calendly)

    assert retries == [42.0]
    assert stored(calendly).refresh_token == "cal-rt-user_A"


def test_an_expired_token_is_refreshed_before_the_api_call(calendly, mocked):
    expire_in(calendly, -30)
    mocked.post(CALENDLY_TOKEN, json=NEW_PAIR)
    mocked.get(f"{CALENDLY_API}/users/me", json={"resource": {"uri": "u"}})

    calendly_client(calendly, "u").me()

    token_call, api_call = mocked.calls
    assert token_call.request.url == CALENDLY_TOKEN
    assert api_call.request.headers["Authorization"] == "Bearer at-NEW"


def test_a_401_refreshes_once_and_retries_the_call_once(account, mocked):
    conn_id = connection_id(account, "calendly")
    mocked.get(f"{CALENDLY_API}/users/me", status=401)
    mocked.get(f"{CALENDLY_API}/users/me", json={"resource": {"uri": "u"}})
    mocked.post(CALENDLY_TOKEN, json=NEW_PAIR)

    calendly_client(conn_id, "u").me()

    assert [(c.request.method, c.request.headers.get("Authorization")) for c in mocked.calls][
        0::2
    ] == [("GET", "Bearer cal-at-user_A"), ("GET", "Bearer at-NEW")]
    assert len(token_calls(mocked)) == 1


def test_a_personal_token_refused_with_401_is_needs_reauth_at_once(account, mocked):
    conn_id = connection_id(account, "savvycal")
    store_connection(account, "savvycal", personal_token="pt_secret_X")
    mocked.get(f"{SAVVYCAL_API}/me", status=401, body="Unauthenticated")

    with pytest.raises(Unauthorized):
        connected_client("savvycal", conn_id, "u").me()

    assert len(mocked.calls) == 1  # no token endpoint for a personal token
    assert stored(conn_id).state == "needs_reauth"


def test_a_margin_longer_than_the_token_lifetime_spends_one_token_a_minute(calendly, mocked):
    short_lived = {**NEW_PAIR, "expires_in": 120}  # always inside the sweep's 960 s margin
    mocked.post(CALENDLY_TOKEN, json=short_lived)

    for _ in range(10):
        assert refresh_token_of(calendly) == "ok"

    assert len(token_calls(mocked)) == 1


def test_tokens_the_api_keeps_refusing_cost_at_most_a_few_token_calls_a_minute(account, mocked):
    conn_id = connection_id(account, "calendly")
    mocked.get(f"{CALENDLY_API}/users/me", status=401)
    mocked.post(CALENDLY_TOKEN, json=NEW_PAIR)

    outcomes = []
    for _ in range(10):
        try:
            calendly_client(conn_id, "u").me()
        except (Unauthorized, RateLimited) as exc:
            outcomes.append(type(exc).__name__)

    assert len(token_calls(mocked)) == MAX_TOKEN_CALLS_PER_MINUTE < 8
    assert outcomes.count("RateLimited") == 10 - MAX_TOKEN_CALLS_PER_MINUTE
    assert stored(conn_id).state == "active"


def test_the_sweep_enqueues_every_active_oauth_token_inside_the_margin(account, enqueued, db):
    from tests.conftest import add_account

    other = add_account("user_B")
    soon, later, gone = (
        connection_id(account, "calendly"),
        connection_id(account, "savvycal"),
        connection_id(other, "calendly"),
    )
    expire_in(soon, 900 + 59)  # margin + one sweep interval
    expire_in(later, 900 + 61)
    expire_in(gone, 10)
    expire_in(connection_id(account, "close"), 7200)
    expire_in(connection_id(other, "close"), 7200)
    expire_in(connection_id(other, "savvycal"), 7200)
    from worker import runtime

    with runtime.session_scope() as session:
        session.get(Connection, gone).state = "needs_reauth"
        assert session.scalars(select(Connection.id)).all()

    assert refresh_sweep() == 1
    assert enqueued == [("worker.tasks.refresh.refresh_token_of", (soon,))]


def test_refresh_of_a_missing_connection_is_needs_reauth(db):
    with pytest.raises(NeedsReauth):
        refresh_connection(999, margin_seconds=60)
