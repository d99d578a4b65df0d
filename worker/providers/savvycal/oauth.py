"""SavvyCal's OAuth dialect: client credentials in the form body; no revoke endpoint is
documented (reference/savvycal-api.md)."""

from __future__ import annotations

from worker.config import Settings
from worker.providers.oauth import OAuthProvider


def dialect(settings: Settings) -> OAuthProvider:
    auth = settings.savvycal_auth_url.rstrip("/")
    return OAuthProvider(
        name="savvycal",
        client_id=settings.savvycal_client_id,
        client_secret=settings.savvycal_client_secret,
        authorize_url=f"{auth}/authorize",
        token_url=f"{auth}/token",
        timeout=settings.http_timeout_seconds,
    )
