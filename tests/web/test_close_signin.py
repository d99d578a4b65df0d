"""Signing in with Close (CONTRACT §3): the authorize redirect, the code exchange with the client
credentials in the form body, the account stored from the token answer and /me/, and every way
the callback can be refused without storing anything."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.conftest import add_account
from tests.web.flows import (
    CLOSE_API,
    CLOSE_TOKEN_URL,
    close_token_answer,
    csrf,
    form,
    mock_close_signin,
    sign_in,
    sign_in_as,
    start,
)
from worker import runtime
from worker.storage.models import Account, Connection


def account_count() -> int:
    with runtime.session_scope() as session:
        return session.scalar(select(func.count(Account.id)))


def token_calls(mocked) -> list:
    return [c for c in mocked.calls if c.request.url == CLOSE_TOKEN_URL]


def test_start_redirects_to_close_with_the_contract_parameters(client, settings):
    response = client.get("/oauth/close/start")

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(settings.close_authorize_url)
    params = start(client, "close")
    assert params["client_id"] == "close-client-id"
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == "http://localhost:5000/oauth/close/callback"
    assert params["scope"] == "all.full_access offline_access"
    assert len(params["state"]) >= 32


def test_each_start_gets_its_own_random_state(client):
    assert start(client, "close")["state"] != start(client, "close")["state"]


def test_sign_in_exchanges_the_code_with_credentials_in_the_body_and_stores_the_account(
    client, mocked, sent
):
    response = sign_in(client, mocked)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    token_call = token_calls(mocked)[0].request
    assert form(token_call) == {
        "grant_type": "authorization_code",
        "code": "close-code-1",
        "redirect_uri": "http://localhost:5000/oauth/close/callback",
        "client_id": "close-client-id",
        "client_secret": "close-client-secret-value",
    }
    assert "Authorization" not in token_call.headers
    me_call = next(c.request for c in mocked.calls if c.request.url == f"{CLOSE_API}/me/")
    assert me_call.headers["Authorization"] == "Bearer close-access-NEW"
    with runtime.session_scope() as session:
        account = session.scalars(select(Account)).one()
        close = account.connection("close")
        assert (account.close_user_id, account.organization_id, account.email) == (
            "user_NEW",
            "orga_NEW",
            "rep@example.com",
        )
        assert (close.state, close.access_token, close.refresh_token) == (
            "active",
            "close-access-NEW",
            "close-refresh-NEW",
        )
        assert close.token_expires_at is not None
    page = client.get("/").get_data(as_text=True)
    assert "Signed in as <strong>rep@example.com</strong>" in page
    assert sent == []  # nothing to sync before a provider is connected


def test_a_token_answer_without_user_id_takes_it_from_me(client, mocked):
    response = sign_in(client, mocked, token_answer=close_token_answer(user_id=None))

    assert response.status_code == 302
    with runtime.session_scope() as session:
        assert session.scalars(select(Account.close_user_id)).one() == "user_NEW"


def test_a_token_answer_without_organization_stores_nothing_when_me_names_several(client, mocked):
    me = {
        "id": "user_NEW",
        "email": "rep@example.com",
        "memberships": [{"organization_id": "orga_1"}, {"organization_id": "orga_2"}],
    }
    response = sign_in(client, mocked, token_answer=close_token_answer(organization_id=None), me=me)

    assert response.status_code == 502
    assert "nothing was connected" in response.get_data(as_text=True)
    assert account_count() == 0


def test_a_token_answer_without_access_token_stores_nothing(client, mocked):
    response = sign_in(client, mocked, token_answer=close_token_answer(access_token=None))

    assert response.status_code == 502
    assert account_count() == 0
    assert not [c for c in mocked.calls if c.request.url == f"{CLOSE_API}/me/"]


def test_a_refused_code_shows_a_clear_page_and_stores_nothing(client, mocked):
    params = start(client, "close")
    mocked.post(CLOSE_TOKEN_URL, status=400, json={"error": "invalid_grant"})

    response = client.get(f"/oauth/close/callback?code=stale&state={params['state']}")

    assert response.status_code == 400
    assert "Close did not accept the authorization" in response.get_data(as_text=True)
    assert account_count() == 0


def test_an_unreachable_token_endpoint_shows_a_clear_page(client, mocked):
    import requests

    params = start(client, "close")
    mocked.post(CLOSE_TOKEN_URL, body=requests.exceptions.ConnectTimeout())

    response = client.get(f"/oauth/close/callback?code=c&state={params['state']}")

    assert response.status_code == 503
    assert "Close could not be reached" in response.get_data(as_text=True)
    assert account_count() == 0


def test_denied_consent_shows_a_clear_page_and_stores_nothing(client, mocked):
    params = start(client, "close")

    response = client.get(f"/oauth/close/callback?error=access_denied&state={params['state']}")

    assert response.status_code == 403
    assert "You declined to give schedsync access to Close" in response.get_data(as_text=True)
    assert len(mocked.calls) == 0
    assert account_count() == 0


def test_a_forged_state_is_refused_and_the_code_never_exchanged(client, mocked):
    start(client, "close")

    response = client.get("/oauth/close/callback?code=c&state=" + "A" * 43)

    assert response.status_code == 400
    assert "This link has expired" in response.get_data(as_text=True)
    assert len(mocked.calls) == 0
    assert account_count() == 0


def test_a_callback_without_state_is_refused(client, mocked):
    start(client, "close")

    assert client.get("/oauth/close/callback?code=c").status_code == 400
    assert len(mocked.calls) == 0


def test_a_replayed_callback_is_refused_and_the_code_exchanged_once(client, mocked):
    params = start(client, "close")
    mock_close_signin(mocked)
    url = f"/oauth/close/callback?code=close-code-1&state={params['state']}"
    with client.session_transaction() as session:
        old_cookie_session = dict(session)

    assert client.get(url).status_code == 302
    # Even the browser's old cookie, sent again with the same callback, finds nothing to take.
    with client.session_transaction() as session:
        session.clear()
        session.update(old_cookie_session)
    replay = client.get(url)

    # Said plainly ("already done"), not "expired"; the code is not exchanged again.
    assert replay.status_code == 200
    assert "You are signed in with Close" in replay.get_data(as_text=True)
    assert len(token_calls(mocked)) == 1


def test_a_state_from_another_browser_session_is_refused(app, client, mocked):
    params = start(client, "close")
    other_browser = app.test_client()
    other_browser.get("/")

    response = other_browser.get(f"/oauth/close/callback?code=c&state={params['state']}")

    assert response.status_code == 400
    assert len(mocked.calls) == 0
    assert account_count() == 0


def test_a_state_issued_for_calendly_is_refused_by_the_close_callback(client, mocked, account):
    sign_in_as(client, account)
    params = start(client, "calendly")

    response = client.get(f"/oauth/close/callback?code=c&state={params['state']}")

    assert response.status_code == 400
    assert len(mocked.calls) == 0


def test_signing_in_again_with_a_provider_connected_starts_a_sync(client, mocked, sent, db):
    add_account("user_NEW", organization_id="orga_NEW")

    sign_in(client, mocked)

    with runtime.session_scope() as session:
        account_id = session.scalars(select(Account.id)).one()
    assert sent == [("worker.tasks.reconcile.reconcile_account", (account_id,))]


def test_sign_out_ends_the_session_and_leaves_syncing_running(client, account, sent):
    sign_in_as(client, account)
    token = csrf(client)

    response = client.post("/signout", data={"csrf_token": token})

    assert response.status_code == 303
    page = client.get("/").get_data(as_text=True)
    assert "Sign in with Close" in page
    assert "Signed in as" not in page
    with runtime.session_scope() as session:
        states = set(session.scalars(select(Connection.state)))
    assert states == {"active"}
    assert sent == []


def test_sign_out_without_the_csrf_field_is_refused(client, account):
    sign_in_as(client, account)
    csrf(client)

    response = client.post("/signout")

    assert response.status_code == 400
    assert "Signed in as" in client.get("/").get_data(as_text=True)


def test_sign_in_is_not_offered_without_a_close_client_id(settings, fake_redis, db):
    from web import create_app

    app = create_app(settings.with_overrides(close_client_id=""), redis_client=fake_redis)
    client = app.test_client()

    assert "Sign in with Close</a>" not in client.get("/").get_data(as_text=True)
    assert client.get("/oauth/close/start").status_code == 404


def test_with_redis_down_sign_in_says_so_and_changes_nothing(client, fake_redis_server, mocked):
    fake_redis_server.connected = False

    response = client.get("/oauth/close/start")

    assert response.status_code == 503
    assert "cannot reach its Redis" in response.get_data(as_text=True)
    assert len(mocked.calls) == 0
