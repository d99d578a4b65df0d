"""OAuth round trips against the sandbox, the way schedsync performs them."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from werkzeug.test import Client

REDIRECT = "http://localhost:5000/oauth/{provider}/callback"
CLOSE_CREDS = {"client_id": "sandbox-close-client", "client_secret": "sandbox-close-secret"}
CALENDLY_BASIC = ("sandbox-calendly-client", "sandbox-calendly-secret")
SAVVYCAL_CREDS = {
    "client_id": "sandbox-savvycal-client",
    "client_secret": "sandbox-savvycal-secret",
}


def state_of(client: Client) -> dict[str, Any]:
    return client.get("/_sandbox/state").get_json()


def user_id(client: Client, provider: str, email: str) -> str:
    state = state_of(client)
    users = state[provider]["users"]
    key = {"close": "id", "calendly": "uuid", "savvycal": "id"}[provider]
    return next(u[key] for u in users if u["email"] == email)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def approve(client: Client, path: str, params: dict[str, str], user: str) -> dict[str, str]:
    """POST the consent form (decision=allow) and return the redirect's query."""
    response = client.post(path, data={**params, "user_id": user, "decision": "allow"})
    assert response.status_code == 302, response.data
    return query_of(response.headers["Location"])


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def close_tokens(client: Client, email: str = "alice@example.com") -> dict[str, Any]:
    redirect = REDIRECT.format(provider="close")
    params = {
        "client_id": CLOSE_CREDS["client_id"],
        "response_type": "code",
        "redirect_uri": redirect,
        "scope": "all.full_access offline_access",
        "state": "s1",
    }
    answer = approve(client, "/close/oauth2/authorize/", params, user_id(client, "close", email))
    response = client.post(
        "/close/oauth2/token/",
        data={
            **CLOSE_CREDS,
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": redirect,
        },
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def calendly_tokens(client: Client, email: str = "alice@example.com") -> dict[str, Any]:
    redirect = REDIRECT.format(provider="calendly")
    verifier, challenge = pkce_pair()
    params = {
        "client_id": CALENDLY_BASIC[0],
        "response_type": "code",
        "redirect_uri": redirect,
        "state": "s2",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    uid = user_id(client, "calendly", email)
    answer = approve(client, "/calendly/auth/oauth/authorize", params, uid)
    response = client.post(
        "/calendly/auth/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": redirect,
            "code_verifier": verifier,
        },
        auth=CALENDLY_BASIC,
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def savvycal_tokens(client: Client, email: str = "alice@example.com") -> dict[str, Any]:
    redirect = REDIRECT.format(provider="savvycal")
    params = {
        "client_id": SAVVYCAL_CREDS["client_id"],
        "response_type": "code",
        "redirect_uri": redirect,
        "state": "s3",
    }
    uid = user_id(client, "savvycal", email)
    answer = approve(client, "/savvycal/oauth/authorize", params, uid)
    response = client.post(
        "/savvycal/oauth/token",
        data={
            **SAVVYCAL_CREDS,
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": redirect,
        },
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
