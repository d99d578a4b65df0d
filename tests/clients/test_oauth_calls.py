"""Token endpoint calls (worker/providers/oauth.py): each provider's dialect as reference/*.md
documents it,
and every way a call can fail mapped to the typed error the token layer decides on."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from tests.clients.recorded import recorded, sent_form
from worker.providers import oauth, registry
from worker.providers.errors import (
    BadResponse,
    GrantRevoked,
    RateLimited,
    Unavailable,
    UnknownOutcome,
)
from worker.storage.models import utcnow

TOKEN_URLS = {
    "close": "https://api.close.test/oauth2/token/",
    "calendly": "https://auth.calendly.test/oauth/token",
    "savvycal": "https://savvycal.test/oauth/token",
}
CALENDLY_REVOKE = "https://auth.calendly.test/oauth/revoke"
CALENDLY_INTROSPECT = "https://auth.calendly.test/oauth/introspect"
OLD_REFRESH = "old-refresh-token-value"
PROVIDERS = ["close", "calendly", "savvycal"]


def provider(settings, name: str) -> oauth.OAuthProvider:
    return registry.oauth_provider(settings, name)


def refused_connection(url: str) -> requests.exceptions.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")
    return requests.exceptions.ConnectionError(MaxRetryError(None, url, reason))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- refresh: what is sent -------------------------------------------------------------------


def test_close_refresh_sends_the_client_credentials_in_the_form_body(http, settings):
    http.post(TOKEN_URLS["close"], json=recorded("close", "token"))

    grant = oauth.refresh(provider(settings, "close"), OLD_REFRESH)

    (call,) = http.calls
    assert call.request.method == "POST"
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in call.request.headers
    assert sent_form(call) == {
        "client_id": "close-client-id",
        "client_secret": "close-client-secret-value",
        "grant_type": "refresh_token",
        "refresh_token": OLD_REFRESH,
    }
    assert grant.access_token == "close-new-access-token"
    assert grant.refresh_token == "close-new-refresh-token"
    expected = utcnow() + timedelta(seconds=3600)
    assert abs((grant.expires_at - expected).total_seconds()) < 60
    assert grant.extra["user_id"].startswith("user_") and grant.extra["organization_id"]
    assert "access_token" not in grant.extra and "refresh_token" not in grant.extra


def test_calendly_refresh_sends_the_client_credentials_as_http_basic(http, settings):
    http.post(TOKEN_URLS["calendly"], json=recorded("calendly", "token"))

    grant = oauth.refresh(provider(settings, "calendly"), OLD_REFRESH)

    (call,) = http.calls
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.request.headers["Authorization"] == basic(
        "calendly-client-id", "calendly-client-secret-value"
    )
    assert sent_form(call) == {"grant_type": "refresh_token", "refresh_token": OLD_REFRESH}
    assert grant.refresh_token == "calendly-new-refresh-token"
    assert grant.extra["owner"] == "https://api.calendly.com/users/AAAAAAAAAAAAAAAA"


def test_savvycal_refresh_sends_the_client_credentials_in_the_form_body(http, settings):
    answer = recorded("savvycal", "token")
    del answer["refresh_token"]  # SavvyCal does not say it rotates: the old one is kept
    http.post(TOKEN_URLS["savvycal"], json=answer)

    grant = oauth.refresh(provider(settings, "savvycal"), OLD_REFRESH)

    (call,) = http.calls
    assert "Authorization" not in call.request.headers
    assert sent_form(call) == {
        "client_id": "savvycal-client-id",
        "client_secret": "savvycal-client-secret-value",
        "grant_type": "refresh_token",
        "refresh_token": OLD_REFRESH,
    }
    assert grant.access_token == "savvycal-new-access-token"
    assert grant.refresh_token is None


# --- refresh: how it fails -------------------------------------------------------------------


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("status", [400, 401])
def test_a_refused_refresh_token_is_grant_revoked(http, settings, name, status):
    http.post(
        TOKEN_URLS[name],
        status=status,
        json={"error": "invalid_grant", "error_description": f"{OLD_REFRESH} was used"},
    )

    with pytest.raises(GrantRevoked) as raised:
        oauth.refresh(provider(settings, name), OLD_REFRESH)

    assert "invalid_grant" in str(raised.value)
    for secret in (OLD_REFRESH, f"{name}-client-secret-value"):
        assert secret not in str(raised.value)
    assert len(http.calls) == 1


FAILURES = [
    pytest.param({"status": 503}, Unavailable, id="503"),
    pytest.param({"status": 502, "body": "<html>bad gateway</html>"}, Unavailable, id="502"),
    pytest.param(
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        UnknownOutcome,
        id="read-timeout-after-sending",
    ),
    pytest.param(
        {"body": requests.exceptions.ConnectionError("Remote end closed connection")},
        UnknownOutcome,
        id="dropped-after-sending",
    ),
    pytest.param(
        {"body": requests.exceptions.ChunkedEncodingError("connection broken mid-answer")},
        UnknownOutcome,
        id="answer-cut-off",
    ),
    pytest.param(
        {"body": requests.exceptions.ConnectTimeout("connect timed out")},
        Unavailable,
        id="connect-timeout",
    ),
    pytest.param({"refused": True}, Unavailable, id="connection-refused"),
    pytest.param({"json": {"token_type": "Bearer"}}, BadResponse, id="no-access-token"),
    pytest.param({"body": "access_token=x"}, BadResponse, id="not-json"),
    pytest.param({"json": ["access_token"]}, BadResponse, id="json-array"),
    pytest.param(
        {"json": {"access_token": "a", "expires_in": "soon"}}, BadResponse, id="expires-in-word"
    ),
    pytest.param(
        {"json": {"access_token": "a", "expires_in": 1e20}}, BadResponse, id="expires-in-huge"
    ),
]


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize(("answer", "error"), FAILURES)
def test_every_failed_refresh_is_a_typed_error(http, settings, name, answer, error):
    answer = dict(answer)
    if answer.pop("refused", False):
        answer["body"] = refused_connection(TOKEN_URLS[name])
    http.post(TOKEN_URLS[name], **answer)

    with pytest.raises(error) as raised:
        oauth.refresh(provider(settings, name), OLD_REFRESH)

    assert type(raised.value) is error
    assert raised.value.provider == name
    assert len(http.calls) == 1  # never retried here: the token layer decides


@pytest.mark.parametrize(
    ("name", "headers", "wait"),
    [
        ("calendly", {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "42"}, 42.0),
        ("close", {"RateLimit": "limit=5, remaining=0, reset=3", "Retry-After": "3"}, 3.0),
        ("savvycal", {"Retry-After": "9"}, 9.0),
    ],
)
def test_a_rate_limited_refresh_says_how_long_to_wait(http, settings, name, headers, wait):
    http.post(TOKEN_URLS[name], status=429, headers=headers)

    with pytest.raises(RateLimited) as raised:
        oauth.refresh(provider(settings, name), OLD_REFRESH)

    assert raised.value.retry_after == wait


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "soon", ""])
def test_a_rate_limited_refresh_with_a_nonsense_wait_still_gives_a_finite_one(
    http, settings, value
):
    http.post(TOKEN_URLS["calendly"], status=429, headers={"X-RateLimit-Reset": value})

    with pytest.raises(RateLimited) as raised:
        oauth.refresh(provider(settings, "calendly"), OLD_REFRESH)

    assert 0 <= raised.value.retry_after <= 24 * 3600


# --- revoke and introspect -------------------------------------------------------------------


def test_calendly_revoke_sends_the_client_credentials_and_the_token_in_the_form(http, settings):
    http.post(CALENDLY_REVOKE, status=200, json={})

    oauth.revoke(provider(settings, "calendly"), "token-to-revoke")

    (call,) = http.calls
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent_form(call) == {
        "client_id": "calendly-client-id",
        "client_secret": "calendly-client-secret-value",
        "token": "token-to-revoke",
    }


def test_close_revoke_sends_the_client_credentials_and_the_token_in_the_form(http, settings):
    http.post("https://api.close.test/oauth2/revoke/", status=200, json={})

    oauth.revoke(provider(settings, "close"), "token-to-revoke")

    assert sent_form(http.calls[0]) == {
        "client_id": "close-client-id",
        "client_secret": "close-client-secret-value",
        "token": "token-to-revoke",
    }


def test_savvycal_has_no_revoke_endpoint_so_nothing_is_sent(http, settings):
    oauth.revoke(provider(settings, "savvycal"), "token-to-forget")

    assert len(http.calls) == 0


def test_a_revoke_refused_as_already_invalid_is_not_an_error(http, settings):
    http.post(CALENDLY_REVOKE, status=400, json={"error": "invalid_request"})

    oauth.revoke(provider(settings, "calendly"), "already-dead-token")

    assert len(http.calls) == 1


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"status": 503}, id="503"),
        pytest.param({"refused": True}, id="connection-refused"),
        pytest.param({"body": requests.exceptions.ReadTimeout("timed out")}, id="read-timeout"),
    ],
)
def test_a_revoke_that_did_not_get_through_is_unavailable(http, settings, answer):
    answer = dict(answer)
    if answer.pop("refused", False):
        answer["body"] = refused_connection(CALENDLY_REVOKE)
    http.post(CALENDLY_REVOKE, **answer)

    with pytest.raises(Unavailable):
        oauth.revoke(provider(settings, "calendly"), "token-to-revoke")


@pytest.mark.parametrize("active", [True, False])
def test_introspect_answers_whether_the_token_is_still_active(http, settings, active):
    http.post(
        CALENDLY_INTROSPECT,
        json={"active": active, "scope": "default", "client_id": "calendly-client-id"},
    )

    assert oauth.introspect(provider(settings, "calendly"), OLD_REFRESH) is active

    (call,) = http.calls
    assert sent_form(call) == {
        "client_id": "calendly-client-id",
        "client_secret": "calendly-client-secret-value",
        "token": OLD_REFRESH,
    }


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        pytest.param({"json": {"active": "yes"}}, BadResponse, id="active-not-boolean"),
        pytest.param({"json": {}}, BadResponse, id="no-active"),
        pytest.param({"body": "<html>"}, BadResponse, id="not-json"),
        pytest.param({"status": 503}, Unavailable, id="503"),
        pytest.param({"refused": True}, Unavailable, id="connection-refused"),
        pytest.param({"body": requests.exceptions.ReadTimeout("t")}, Unavailable, id="timeout"),
    ],
)
def test_an_introspection_that_cannot_be_read_is_a_typed_error(http, settings, answer, error):
    answer = dict(answer)
    if answer.pop("refused", False):
        answer["body"] = refused_connection(CALENDLY_INTROSPECT)
    http.post(CALENDLY_INTROSPECT, **answer)

    with pytest.raises(error):
        oauth.introspect(provider(settings, "calendly"), OLD_REFRESH)


@pytest.mark.parametrize(
    ("status", "error"), [(503, Unavailable), (500, Unavailable), (429, RateLimited)]
)
def test_code_exchange_failing_on_the_providers_side_is_not_a_refusal(
    http, settings, status, error
):
    http.post(
        TOKEN_URLS["close"],
        status=status,
        json={"error": "server_error"},
        headers={"Retry-After": "3"},
    )
    with pytest.raises(error):
        oauth.exchange_code(
            provider(settings, "close"), "the-code", "http://localhost:5000/oauth/close/callback"
        )


def test_code_exchange_refused_by_the_provider_is_grant_revoked(http, settings):
    http.post(TOKEN_URLS["close"], status=400, json={"error": "invalid_grant"})
    with pytest.raises(GrantRevoked):
        oauth.exchange_code(
            provider(settings, "close"), "the-code", "http://localhost:5000/oauth/close/callback"
        )
