"""OAuth 2.0 pieces the three providers share: consent, codes, tokens, rotation, revocation.

What differs per provider (where client credentials go, PKCE, answer fields, error shapes) stays
in that provider's module; this one only keeps the grants and their rules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Response, redirect, render_template, request

from .ids import secret_token
from .store import AccessToken, AuthCode, RefreshToken, Store


class OAuthError(Exception):
    """An OAuth refusal: `error` is the RFC 6749 code (invalid_grant, invalid_client, …)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass(frozen=True)
class ConsentSpec:
    provider: str  # "close", "calendly", "savvycal"
    title: str  # shown on the page
    client_id: str
    code_ttl: float
    users: Callable[[], list[tuple[str, str]]]  # (user id, label) to choose from
    require_pkce: bool = False


def handle_authorize(store: Store, spec: ConsentSpec) -> Response | tuple[str, int]:
    """GET shows the consent page; POST (the page's form, or a test) answers the redirect."""
    params = request.args if request.method == "GET" else request.form
    problem = _authorize_problem(spec, params)
    if problem:
        return render_template(
            "error.html", title=f"{spec.title} authorization", message=problem
        ), 400
    if request.method == "GET":
        hidden = {k: v for k, v in params.items() if k not in ("user_id", "decision")}
        return render_template(
            "consent.html", spec=spec, hidden=hidden, users=spec.users(), action=request.path
        )
    redirect_uri, state = params["redirect_uri"], params.get("state")
    if params.get("decision") != "allow":
        return redirect(with_query(redirect_uri, error="access_denied", state=state))
    user_ids = {uid for uid, _ in spec.users()}
    if params.get("user_id") not in user_ids:
        message = "Choose one of the listed users (user_id)."
        return render_template(
            "error.html", title=f"{spec.title} authorization", message=message
        ), 400
    with store.lock:
        code = AuthCode(
            code=secret_token(24),
            provider=spec.provider,
            client_id=spec.client_id,
            user_id=params["user_id"],
            redirect_uri=redirect_uri,
            expires_at=store.now() + spec.code_ttl,
            code_challenge=params.get("code_challenge"),
        )
        store.codes[code.code] = code
    return redirect(with_query(redirect_uri, code=code.code, state=state))


def _authorize_problem(spec: ConsentSpec, params: dict[str, str]) -> str | None:
    if params.get("client_id") != spec.client_id:
        return "Unknown client_id: this application is not registered."
    if params.get("response_type") != "code":
        return "response_type must be code."
    if urlsplit(params.get("redirect_uri", "")).scheme not in ("http", "https"):
        return "redirect_uri is missing or not an http(s) URL."
    if spec.require_pkce:
        if not params.get("code_challenge"):
            return "code_challenge is required (PKCE)."
        if params.get("code_challenge_method") != "S256":
            return "code_challenge_method must be S256."
    return None


def with_query(url: str, **extra: str | None) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in extra.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def redeem_code(
    store: Store,
    provider: str,
    client_id: str,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None = None,
) -> AuthCode:
    """Spend an authorization code: single use, unexpired, same client and redirect_uri."""
    with store.lock:
        grant = store.codes.get(code or "")
        if grant is None or grant.provider != provider or grant.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "The authorization code is invalid.")
        if grant.used:
            raise OAuthError(400, "invalid_grant", "The authorization code was already used.")
        if store.now() >= grant.expires_at:
            raise OAuthError(400, "invalid_grant", "The authorization code has expired.")
        if redirect_uri != grant.redirect_uri:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match the authorization.")
        if grant.code_challenge is not None:
            if not code_verifier:
                raise OAuthError(400, "invalid_request", "code_verifier is required.")
            if not hmac.compare_digest(s256(code_verifier), grant.code_challenge):
                raise OAuthError(
                    400, "invalid_grant", "code_verifier does not match the challenge."
                )
        grant.used = True
        return grant


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def find_refresh(store: Store, provider: str, client_id: str, token: str | None) -> RefreshToken:
    """The refresh token about to be spent; a used one is refused, since all three rotate."""
    with store.lock:
        refresh = store.refresh_tokens.get(token or "")
        if refresh is None or refresh.provider != provider or refresh.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "The refresh token is invalid.")
        if refresh.revoked:
            raise OAuthError(400, "invalid_grant", "The refresh token was revoked.")
        if refresh.used:
            raise OAuthError(400, "invalid_grant", "The refresh token was already used.")
        return refresh


def issue_tokens(
    store: Store,
    provider: str,
    client_id: str,
    user_id: str,
    ttl: float,
    spent: RefreshToken | None = None,
) -> tuple[AccessToken, RefreshToken]:
    """A new access/refresh pair; `spent` (the refresh token used) can never be used again."""
    with store.lock:
        now = store.now()
        grant_id = spent.grant_id if spent else secret_token(12)
        if spent is not None:
            if spent.used or spent.revoked:  # lost a race with a concurrent refresh
                raise OAuthError(400, "invalid_grant", "The refresh token was already used.")
            spent.used = True
        access = AccessToken(
            secret_token(),
            provider,
            client_id,
            user_id,
            grant_id,
            issued_at=now,
            expires_at=now + ttl,
        )
        refresh = RefreshToken(secret_token(), provider, client_id, user_id, grant_id, now)
        store.access_tokens[access.token] = access
        store.refresh_tokens[refresh.token] = refresh
        return access, refresh


def revoke_token(store: Store, provider: str, client_id: str, token: str) -> None:
    """Revoke one token; revoking a refresh token ends its whole grant (RFC 7009 §2.1 allows it)."""
    with store.lock:
        access = store.access_tokens.get(token)
        if access is not None and access.provider == provider and access.client_id == client_id:
            access.revoked = True
        refresh = store.refresh_tokens.get(token)
        if refresh is not None and refresh.provider == provider and refresh.client_id == client_id:
            for other in store.access_tokens.values():
                if other.grant_id == refresh.grant_id:
                    other.revoked = True
            for other_refresh in store.refresh_tokens.values():
                if other_refresh.grant_id == refresh.grant_id:
                    other_refresh.revoked = True


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def check_access(store: Store, provider: str, token: str | None) -> tuple[AccessToken | None, str]:
    """(token, "") when usable, else (None, why): "missing", "invalid", "expired" or "revoked"."""
    if not token:
        return None, "missing"
    with store.lock:
        access = store.access_tokens.get(token)
        if access is None or access.provider != provider:
            return None, "invalid"
        if access.revoked:
            return None, "revoked"
        if store.now() >= access.expires_at:
            return None, "expired"
        return access, ""


def token_owner(store: Store, provider: str, token: str | None) -> str | None:
    """Whose token this is, usable or not (for pacing records); PATs count for SavvyCal."""
    if not token:
        return None
    access = store.access_tokens.get(token)
    if access is not None and access.provider == provider:
        return access.user_id
    return store.savvy_pats.get(token) if provider == "savvycal" else None


def is_form_post() -> bool:
    return request.mimetype == "application/x-www-form-urlencoded"
