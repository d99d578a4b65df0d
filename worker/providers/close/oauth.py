"""Close's OAuth dialect: client credentials in the form body, `all.full_access
offline_access`, a revoke endpoint (reference/close-api.md §2.1)."""

from __future__ import annotations

from worker.config import Settings
from worker.providers.oauth import OAuthProvider


def dialect(settings: Settings) -> OAuthProvider:
    return OAuthProvider(
        name="close",
        client_id=settings.close_client_id,
        client_secret=settings.close_client_secret,
        authorize_url=settings.close_authorize_url,
        token_url=settings.close_token_url,
        revoke_url=settings.close_revoke_url,
        scope="all.full_access offline_access",
        timeout=settings.http_timeout_seconds,
    )
