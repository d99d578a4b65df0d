"""Calendly's OAuth dialect: PKCE, client credentials as HTTP Basic on the token endpoint, a
revoke endpoint that takes them in the form body, and introspection (reference/calendly-api.md)."""

from __future__ import annotations

from worker.config import Settings
from worker.providers.oauth import OAuthProvider


def dialect(settings: Settings) -> OAuthProvider:
    auth = settings.calendly_auth_url.rstrip("/")
    return OAuthProvider(
        name="calendly",
        client_id=settings.calendly_client_id,
        client_secret=settings.calendly_client_secret,
        authorize_url=f"{auth}/oauth/authorize",
        token_url=f"{auth}/oauth/token",
        revoke_url=f"{auth}/oauth/revoke",
        introspect_url=f"{auth}/oauth/introspect",
        basic_auth=True,
        # Calendly's revoke takes client_id and client_secret in the form body (its docs page).
        revoke_credentials_in_body=True,
        pkce=True,
        timeout=settings.http_timeout_seconds,
    )
