"""Steps of the browser flows, for the tests: start an authorization, answer it, sign in."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.conftest import CALENDLY_AUTH, CLOSE_API, SAVVYCAL_AUTH

CLOSE_TOKEN_URL = "https://api.close.test/oauth2/token/"
CALENDLY_TOKEN_URL = f"{CALENDLY_AUTH}/oauth/token"
SAVVYCAL_TOKEN_URL = f"{SAVVYCAL_AUTH}/token"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def form(request) -> dict[str, str]:
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    return {k: v[0] for k, v in parse_qs(body or "").items()}


def start(client, provider: str) -> dict[str, str]:
    """GET the start route; return the authorize URL's query."""
    response = client.get(f"/oauth/{provider}/start")
    assert response.status_code == 302, response.data
    return query(response.headers["Location"])


def close_token_answer(**overrides) -> dict:
    answer = {
        "token_type": "Bearer",
        "access_token": "close-access-NEW",
        "expires_in": 3600,
        "refresh_token": "close-refresh-NEW",
        "scope": "all.full_access offline_access",
        "organization_id": "orga_NEW",
        "user_id": "user_NEW",
    }
    answer.update(overrides)
    return {k: v for k, v in answer.items() if v is not None}


def mock_close_signin(mocked, token_answer: dict | None = None, me: dict | None = None) -> None:
    mocked.post(CLOSE_TOKEN_URL, json=token_answer or close_token_answer())
    mocked.get(
        f"{CLOSE_API}/me/",
        json=me if me is not None else {"id": "user_NEW", "email": "rep@example.com"},
    )


def sign_in(client, mocked, **kwargs):
    """Drive the whole Close sign-in; return the callback's response."""
    params = start(client, "close")
    mock_close_signin(mocked, **kwargs)
    return client.get(f"/oauth/close/callback?code=close-code-1&state={params['state']}")


def sign_in_as(client, account_id: int) -> None:
    with client.session_transaction() as session:
        session["account_id"] = account_id


def csrf(client) -> str:
    """The session's CSRF token, as a page would carry it."""
    client.get("/")
    with client.session_transaction() as session:
        return session["csrf_token"]
