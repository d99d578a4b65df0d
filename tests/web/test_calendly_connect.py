"""Connecting Calendly (CONTRACT §3): PKCE S256, the client credentials as HTTP Basic on the token
call, the user and organization URIs from the token answer (or /users/me), the account's email
from /users/me, and the webhook subscription and first reconcile enqueued."""

from __future__ import annotations

import base64
import hashlib

from sqlalchemy import select

from tests.conftest import add_account
from tests.web.flows import CALENDLY_TOKEN_URL, form, sign_in_as, start
from worker import runtime
from worker.storage.models import Connection

CALENDLY_ME = "https://api.calendly.test/users/me"
OWNER = "https://api.calendly.test/users/U-NEW"
ORG = "https://api.calendly.test/organizations/O-NEW"


def token_answer(**overrides) -> dict:
    answer = {
        "token_type": "Bearer",
        "access_token": "cal-access-NEW",
        "refresh_token": "cal-refresh-NEW",
        "expires_in": 7200,
        "created_at": 1700000000,
        "scope": "default",
        "owner": OWNER,
        "organization": ORG,
    }
    answer.update(overrides)
    return {k: v for k, v in answer.items() if v is not None}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def calendly_connection() -> Connection | None:
    with runtime.session_scope() as session:
        return session.scalars(select(Connection).where(Connection.provider == "calendly")).first()


def me_answer(**overrides) -> dict:
    return {"resource": {"uri": OWNER, "email": "rep@cal.example", "current_organization": ORG}}


def connect(client, mocked, answer: dict | None = None, me: dict | None = None):
    params = start(client, "calendly")
    mocked.post(CALENDLY_TOKEN_URL, json=answer or token_answer())
    mocked.get(CALENDLY_ME, json=me or me_answer())
    return params, client.get(f"/oauth/calendly/callback?code=cal-code-1&state={params['state']}")


def test_start_needs_a_signed_in_browser(client, mocked):
    response = client.get("/oauth/calendly/start")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_start_redirects_to_calendly_with_an_s256_challenge(client, db):
    sign_in_as(client, add_account(calendly=False))

    response = client.get("/oauth/calendly/start")

    assert response.headers["Location"].startswith("https://auth.calendly.test/oauth/authorize?")
    params = start(client, "calendly")
    assert params["client_id"] == "calendly-client-id"
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == "http://localhost:5000/oauth/calendly/callback"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32


def test_the_token_call_carries_the_verifier_of_the_challenge_and_basic_credentials(
    client, mocked, sent, db
):
    account_id = add_account(calendly=False)
    sign_in_as(client, account_id)

    params, response = connect(client, mocked)

    assert response.status_code == 302
    request = mocked.calls[0].request
    body = form(request)
    assert s256(body["code_verifier"]) == params["code_challenge"]
    assert body["grant_type"] == "authorization_code"
    assert body["code"] == "cal-code-1"
    assert body["redirect_uri"] == "http://localhost:5000/oauth/calendly/callback"
    assert "client_secret" not in body
    expected = base64.b64encode(b"calendly-client-id:calendly-client-secret-value").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


def test_connecting_stores_the_uris_of_the_token_answer_and_enqueues_subscription_and_sync(
    client, mocked, sent, db
):
    account_id = add_account(calendly=False)
    sign_in_as(client, account_id)

    connect(client, mocked)

    conn = calendly_connection()
    assert (conn.state, conn.external_user_id, conn.external_org_id) == ("active", OWNER, ORG)
    assert (conn.access_token, conn.refresh_token) == ("cal-access-NEW", "cal-refresh-NEW")
    # /users/me is asked for the account's email only: the URIs are the token answer's.
    assert [c.request.url for c in mocked.calls] == [CALENDLY_TOKEN_URL, CALENDLY_ME]
    assert conn.external_email == "rep@cal.example"
    assert sent == [
        ("worker.tasks.webhooks.ensure_subscription", (conn.id,)),
        ("worker.tasks.reconcile.reconcile_account", (account_id,)),
    ]
    page = client.get("/").get_data(as_text=True)
    assert "Calendly connected" in page
    assert "Connected as <strong>rep@cal.example</strong>" in page


def test_a_token_answer_without_owner_takes_the_uris_from_users_me(client, mocked, sent, db):
    sign_in_as(client, add_account(calendly=False))

    connect(client, mocked, token_answer(owner=None, organization=None))

    conn = calendly_connection()
    assert (conn.external_user_id, conn.external_org_id) == (OWNER, ORG)
    me_call = mocked.calls[1].request
    assert me_call.headers["Authorization"] == "Bearer cal-access-NEW"


def test_a_token_answer_without_access_token_stores_nothing(client, mocked, sent, db):
    sign_in_as(client, add_account(calendly=False))

    _, response = connect(client, mocked, token_answer(access_token=None))

    assert response.status_code == 502
    assert calendly_connection() is None
    assert sent == []


def test_a_wrong_verifier_refused_by_calendly_stores_nothing(client, mocked, sent, db):
    sign_in_as(client, add_account(calendly=False))
    params = start(client, "calendly")
    mocked.post(CALENDLY_TOKEN_URL, status=400, json={"error": "invalid_grant"})

    response = client.get(f"/oauth/calendly/callback?code=c&state={params['state']}")

    assert response.status_code == 400
    assert calendly_connection() is None
    assert sent == []


def test_denied_consent_shows_a_clear_page_and_stores_nothing(client, mocked, sent, db):
    sign_in_as(client, add_account(calendly=False))
    params = start(client, "calendly")

    response = client.get(f"/oauth/calendly/callback?error=access_denied&state={params['state']}")

    assert response.status_code == 403
    assert "You declined to give schedsync access to Calendly" in response.get_data(as_text=True)
    assert len(mocked.calls) == 0
    assert calendly_connection() is None
    assert sent == []


def test_an_unexpected_error_text_is_not_echoed(client, mocked, db):
    sign_in_as(client, add_account(calendly=False))
    params = start(client, "calendly")

    response = client.get(f"/oauth/calendly/callback?error=%3Cscript%3Ex&state={params['state']}")

    assert response.status_code == 502
    assert "script" not in response.get_data(as_text=True)


def test_a_forged_state_is_refused_and_a_replayed_one_says_the_connect_is_done(
    client, mocked, sent, db
):
    sign_in_as(client, add_account(calendly=False))
    params, first = connect(client, mocked)
    calls_after_connect = len(mocked.calls)
    sent.clear()

    replay = client.get(f"/oauth/calendly/callback?code=cal-code-1&state={params['state']}")
    forged = client.get("/oauth/calendly/callback?code=cal-code-1&state=" + "x" * 43)

    assert first.status_code == 302
    assert forged.status_code == 400
    # A reloaded callback of a connect that finished: said plainly, and nothing is done again.
    assert replay.status_code == 200
    assert "Calendly is connected" in replay.get_data(as_text=True)
    assert "expired" not in replay.get_data(as_text=True)
    assert len(mocked.calls) == calls_after_connect
    assert sent == []


def test_a_callback_whose_exchange_failed_is_not_called_done_when_reloaded(
    client, mocked, sent, db
):
    sign_in_as(client, add_account(calendly=False))
    params = start(client, "calendly")
    mocked.post(CALENDLY_TOKEN_URL, json={"error": "invalid_grant"}, status=400)
    url = f"/oauth/calendly/callback?code=cal-code-1&state={params['state']}"
    assert client.get(url).status_code == 400

    assert client.get(url).status_code == 400


def test_reconnecting_a_needs_reauth_connection_makes_it_active_again(client, mocked, sent, db):
    account_id = add_account()
    with runtime.session_scope() as session:
        conn = session.scalars(select(Connection).where(Connection.provider == "calendly")).one()
        conn.state, count_before = "needs_reauth", conn.connect_count
    sign_in_as(client, account_id)

    connect(client, mocked)

    conn = calendly_connection()
    assert conn.state == "active"
    assert conn.refresh_token == "cal-refresh-NEW"
    assert conn.connect_count == count_before + 1


def test_calendly_is_not_offered_without_a_client_id(settings, fake_redis, db):
    from web import create_app

    app = create_app(settings.with_overrides(calendly_client_id=""), redis_client=fake_redis)
    client = app.test_client()
    sign_in_as(client, add_account())

    page = client.get("/").get_data(as_text=True)

    assert 'id="calendly"' not in page
    assert 'id="savvycal"' in page
    assert client.get("/oauth/calendly/start").status_code == 404
