"""OAuth token endpoints of Close, Calendly and SavvyCal, each in its own dialect.

Close and SavvyCal take the client credentials in the form body; Calendly takes them as HTTP
Basic (reference/*.md). Authorization URLs and code exchanges go through requests-oauthlib; the
refresh is a plain form POST so that every way it can fail maps to a typed error precisely.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from oauthlib.oauth2 import OAuth2Error
from oauthlib.oauth2.rfc6749.errors import MissingTokenError, MissingTokenTypeError
from requests.auth import HTTPBasicAuth
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout
from requests_oauthlib import OAuth2Session

from worker.providers.errors import (
    BadResponse,
    GrantRevoked,
    ProviderError,
    RateLimited,
    Unavailable,
    UnknownOutcome,
)
from worker.providers.http import TRANSPORT_FAILURES, bounded_wait, header_number, was_sent
from worker.storage.models import utcnow

# Providers may answer a scope other than the one asked; that is not an error for us.
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")

REFUSALS = {"invalid_grant", "invalid_client", "invalid_request", "unauthorized_client"}


@dataclass(frozen=True)
class OAuthProvider:
    name: str
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    revoke_url: str | None = None
    introspect_url: str | None = None
    basic_auth: bool = False
    # The revoke call takes the client credentials in the form body even where the token call
    # takes them as HTTP Basic.
    revoke_credentials_in_body: bool = False
    pkce: bool = False
    scope: str | None = None
    timeout: float = 15.0


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    extra: dict[str, Any]  # the rest of the token answer (user ids, owner URIs), no secrets


def grant_from(body: dict[str, Any], provider: str) -> TokenGrant:
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise BadResponse(f"{provider} token answer has no access_token", provider=provider)
    expires_in = body.get("expires_in")
    try:
        expires_at = utcnow() + timedelta(seconds=float(expires_in)) if expires_in else None
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadResponse(
            f"{provider} token answer has a bad expires_in", provider=provider
        ) from exc
    refresh = body.get("refresh_token")
    extra = {
        k: v
        for k, v in body.items()
        if k not in ("access_token", "refresh_token", "expires_in", "expires_at", "id_token")
    }
    return TokenGrant(
        access, refresh if isinstance(refresh, str) and refresh else None, expires_at, extra
    )


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(
    p: OAuthProvider, redirect_uri: str, state: str, code_challenge: str | None = None
) -> str:
    session = OAuth2Session(p.client_id, redirect_uri=redirect_uri, scope=p.scope, state=state)
    extra: dict[str, str] = {}
    if code_challenge:
        extra = {"code_challenge": code_challenge, "code_challenge_method": "S256"}
    url, _ = session.authorization_url(p.authorize_url, **extra)
    return url


def exchange_code(
    p: OAuthProvider, code: str, redirect_uri: str, code_verifier: str | None = None
) -> TokenGrant:
    session = OAuth2Session(p.client_id, redirect_uri=redirect_uri, scope=p.scope)
    kwargs: dict[str, Any] = {"code": code, "timeout": p.timeout}
    if code_verifier:
        kwargs["code_verifier"] = code_verifier
    if p.basic_auth:
        kwargs["auth"] = HTTPBasicAuth(p.client_id, p.client_secret)
        kwargs["include_client_id"] = False
    else:
        kwargs["client_secret"] = p.client_secret
        kwargs["include_client_id"] = True
    # oauthlib reads any error body as an OAuth refusal; an overloaded or rate-limiting provider
    # is not a refusal, so the status is looked at first.
    session.register_compliance_hook("access_token_response", _raise_for_unavailable(p))
    try:
        token = session.fetch_token(p.token_url, **kwargs)
    except (MissingTokenError, MissingTokenTypeError) as exc:
        # oauthlib reports an answer without access_token as an OAuth error; it is not a refusal.
        raise BadResponse(
            f"{p.name} token answer is incomplete ({exc.error})", provider=p.name
        ) from exc
    except OAuth2Error as exc:
        raise GrantRevoked(
            f"{p.name} refused the authorization code ({exc.error})", provider=p.name
        ) from exc
    except (RequestsConnectionError, Timeout) as exc:
        raise Unavailable(f"{p.name} token endpoint unreachable", provider=p.name) from exc
    except ValueError as exc:  # oauthlib: missing access_token / token_type
        raise BadResponse(f"{p.name} token answer cannot be read", provider=p.name) from exc
    return grant_from(dict(token), p.name)


def _retry_after(response: requests.Response) -> float:
    retry = response.headers.get("X-RateLimit-Reset") or response.headers.get("Retry-After")
    wait = header_number(retry)
    return 60.0 if wait is None else bounded_wait(wait)


def _raise_for_unavailable(p: OAuthProvider):
    def hook(response: requests.Response) -> requests.Response:
        if response.status_code == 429:
            raise RateLimited(_retry_after(response), provider=p.name)
        if response.status_code >= 500:
            raise Unavailable(
                f"{p.name} token endpoint answered {response.status_code}",
                provider=p.name,
                status=response.status_code,
            )
        return response

    return hook


def _form_post(p: OAuthProvider, url: str, data: dict[str, str]) -> requests.Response:
    auth = None
    if p.basic_auth:
        auth = HTTPBasicAuth(p.client_id, p.client_secret)
    else:
        data = {**data, "client_id": p.client_id, "client_secret": p.client_secret}
    return requests.post(
        url, data=data, auth=auth, timeout=p.timeout, headers={"Accept": "application/json"}
    )


def refresh(p: OAuthProvider, refresh_token: str) -> TokenGrant:
    """Spend `refresh_token` for a new pair. Raises GrantRevoked on a refusal, Unavailable when
    the request certainly did not reach the provider (or it failed with 5xx), UnknownOutcome when
    it was sent but no answer came back, RateLimited on 429."""
    try:
        response = _form_post(
            p, p.token_url, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
    except TRANSPORT_FAILURES as exc:
        if was_sent(exc):
            raise UnknownOutcome(f"{p.name} token call sent, no answer", provider=p.name) from exc
        raise Unavailable(f"{p.name} token endpoint unreachable", provider=p.name) from exc
    status = response.status_code
    if status == 429:
        raise RateLimited(_retry_after(response), provider=p.name)
    if status >= 500:
        raise Unavailable(
            f"{p.name} token endpoint answered {status}", provider=p.name, status=status
        )
    body = _json_or_empty(response)
    if status >= 400:
        error = body.get("error") if isinstance(body.get("error"), str) else None
        if status in (400, 401, 403) and (error in REFUSALS or error is None):
            raise GrantRevoked(
                f"{p.name} refused the refresh token ({error or status})",
                provider=p.name,
                status=status,
            )
        raise ProviderError(
            f"{p.name} token endpoint answered {status} ({error})", provider=p.name, status=status
        )
    return grant_from(body, p.name)


def revoke(p: OAuthProvider, token: str) -> None:
    if not p.revoke_url:
        return
    data = {"token": token}
    try:
        if p.revoke_credentials_in_body:
            data = {**data, "client_id": p.client_id, "client_secret": p.client_secret}
            response = requests.post(p.revoke_url, data=data, timeout=p.timeout)
        else:
            response = _form_post(p, p.revoke_url, data)
    except TRANSPORT_FAILURES as exc:
        # Revoking twice is harmless, so any transport failure is worth trying again.
        raise Unavailable(f"{p.name} revoke endpoint unreachable", provider=p.name) from exc
    if response.status_code >= 500:
        raise Unavailable(f"{p.name} revoke answered {response.status_code}", provider=p.name)
    # A 4xx means the token is already unusable: nothing more to revoke.


def introspect(p: OAuthProvider, token: str) -> bool:
    """Calendly only: is this (refresh) token still active?"""
    if not p.introspect_url:
        raise ValueError(f"{p.name} has no introspection endpoint")
    try:
        response = requests.post(
            p.introspect_url,
            data={"client_id": p.client_id, "client_secret": p.client_secret, "token": token},
            timeout=p.timeout,
        )
    except TRANSPORT_FAILURES as exc:
        # Introspection changes nothing at the provider: asking again later is always safe.
        raise Unavailable(f"{p.name} introspect endpoint unreachable", provider=p.name) from exc
    if response.status_code >= 400:
        raise Unavailable(f"{p.name} introspect answered {response.status_code}", provider=p.name)
    body = _json_or_empty(response)
    if not isinstance(body.get("active"), bool):
        raise BadResponse(f"{p.name} introspect answer has no 'active'", provider=p.name)
    return body["active"]


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
