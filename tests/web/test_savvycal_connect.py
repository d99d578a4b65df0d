"""Connecting SavvyCal (CONTRACT §3): by OAuth, with the client credentials in the form body, or by
a personal access token that is checked with {SAVVYCAL_API_URL}/me before it is stored."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import SAVVYCAL_API, add_account
from tests.web.flows import SAVVYCAL_TOKEN_URL, csrf, form, sign_in_as, start
from worker import runtime
from worker.storage.models import Connection

SAVVYCAL_ME = f"{SAVVYCAL_API}/me"
ME = {"id": "user_sc_NEW", "email": "rep@savvy.example", "display_name": "Rep"}


def savvycal_connection() -> Connection | None:
    with runtime.session_scope() as session:
        return session.scalars(select(Connection).where(Connection.provider == "savvycal")).first()


def test_start_redirects_to_savvycal_without_pkce(client, db):
    sign_in_as(client, add_account(savvycal=False))

    params = start(client, "savvycal")

    assert params["client_id"] == "savvycal-client-id"
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == "http://localhost:5000/oauth/savvycal/callback"
    assert "code_challenge" not in params
    assert (
        client.get("/oauth/savvycal/start")
        .headers["Location"]
        .startswith("https://savvycal.test/oauth/authorize?")
    )


def test_oauth_connect_sends_credentials_in_the_body_and_stores_the_me_identity(
    client, mocked, sent, db
):
    account_id = add_account(savvycal=False)
    sign_in_as(client, account_id)
    params = start(client, "savvycal")
    mocked.post(
        SAVVYCAL_TOKEN_URL,
        json={
            "access_token": "sc-access-NEW",
            "refresh_token": "sc-refresh-NEW",
            "expires_in": 7200,
            "token_type": "bearer",
        },
    )
    mocked.get(SAVVYCAL_ME, json=ME)

    response = client.get(f"/oauth/savvycal/callback?code=sc-code&state={params['state']}")

    assert response.status_code == 302
    token_call, me_call = (c.request for c in mocked.calls)
    assert form(token_call) == {
        "grant_type": "authorization_code",
        "code": "sc-code",
        "redirect_uri": "http://localhost:5000/oauth/savvycal/callback",
        "client_id": "savvycal-client-id",
        "client_secret": "savvycal-client-secret-value",
    }
    assert "Authorization" not in token_call.headers
    assert me_call.headers["Authorization"] == "Bearer sc-access-NEW"
    conn = savvycal_connection()
    assert (conn.auth_kind, conn.external_user_id, conn.external_email) == (
        "oauth",
        "user_sc_NEW",
        "rep@savvy.example",
    )
    assert (conn.access_token, conn.refresh_token) == ("sc-access-NEW", "sc-refresh-NEW")
    assert sent == [("worker.tasks.reconcile.reconcile_account", (account_id,))]


def test_a_token_that_me_refuses_after_the_exchange_stores_nothing(client, mocked, sent, db):
    sign_in_as(client, add_account(savvycal=False))
    params = start(client, "savvycal")
    mocked.post(SAVVYCAL_TOKEN_URL, json={"access_token": "a", "token_type": "bearer"})
    mocked.get(SAVVYCAL_ME, status=401, body="Unauthenticated", content_type="text/plain")

    response = client.get(f"/oauth/savvycal/callback?code=c&state={params['state']}")

    assert response.status_code == 400
    assert savvycal_connection() is None
    assert sent == []


def test_denied_consent_stores_nothing(client, mocked, sent, db):
    sign_in_as(client, add_account(savvycal=False))
    params = start(client, "savvycal")

    response = client.get(f"/oauth/savvycal/callback?error=access_denied&state={params['state']}")

    assert response.status_code == 403
    assert savvycal_connection() is None
    assert len(mocked.calls) == 0


def test_a_personal_token_is_checked_with_me_then_stored(client, mocked, sent, db):
    account_id = add_account(savvycal=False)
    sign_in_as(client, account_id)
    mocked.get(SAVVYCAL_ME, json=ME)

    response = client.post(
        "/connections/savvycal/token",
        data={"csrf_token": csrf(client), "token": " pt_secret_GOOD "},
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer pt_secret_GOOD"
    conn = savvycal_connection()
    assert (conn.auth_kind, conn.access_token, conn.refresh_token, conn.token_expires_at) == (
        "personal_token",
        "pt_secret_GOOD",
        None,
        None,
    )
    assert sent == [("worker.tasks.reconcile.reconcile_account", (account_id,))]
    page = client.get("/").get_data(as_text=True)
    assert "with a personal access token" in page
    assert "pt_secret_GOOD" not in page


def test_a_refused_personal_token_shows_the_page_again_with_a_message(client, mocked, sent, db):
    sign_in_as(client, add_account(savvycal=False))
    mocked.get(SAVVYCAL_ME, status=401, json={"errors": [{"message": "Unauthenticated"}]})

    response = client.post(
        "/connections/savvycal/token", data={"csrf_token": csrf(client), "token": "pt_secret_BAD"}
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "SavvyCal did not accept that token" in page
    assert 'aria-invalid="true"' in page
    assert "pt_secret_BAD" not in page
    assert savvycal_connection() is None
    assert sent == []


def test_an_empty_personal_token_is_refused_without_asking_savvycal(client, mocked, db):
    sign_in_as(client, add_account(savvycal=False))

    response = client.post(
        "/connections/savvycal/token", data={"csrf_token": csrf(client), "token": "  "}
    )

    assert response.status_code == 400
    assert len(mocked.calls) == 0


def test_the_personal_token_form_needs_sign_in_and_csrf(client, mocked, db):
    assert client.post("/connections/savvycal/token", data={"token": "t"}).status_code == 400
    with client.session_transaction() as session:
        session["csrf_token"] = "a-valid-csrf-token"
    csrf_only = client.post(
        "/connections/savvycal/token", data={"token": "t", "csrf_token": "a-valid-csrf-token"}
    )
    assert csrf_only.status_code == 303
    assert csrf_only.headers["Location"] == "/"
    assert len(mocked.calls) == 0
