"""Provider clients wired to the stored tokens, the settings and the shared pacer."""

from __future__ import annotations

from worker import runtime
from worker.auth.tokens import StoredToken
from worker.providers.calendly.client import CalendlyClient
from worker.providers.close.client import CloseClient
from worker.providers.pacing import RedisPacer
from worker.providers.savvycal.client import SavvyCalClient


def _common(owner: str, connection_id: int) -> dict:
    settings = runtime.settings()
    return {
        "auth": StoredToken(connection_id),
        "timeout": settings.http_timeout_seconds,
        "retry_backoff": settings.http_retry_backoff_seconds,
        "pacer": RedisPacer(runtime.redis_client()),
        "rate_owner": owner,
    }


def close_client(connection_id: int, organization_id: str | None) -> CloseClient:
    return CloseClient(
        runtime.settings().close_api_url, **_common(organization_id or "-", connection_id)
    )


def calendly_client(connection_id: int, calendly_user: str | None) -> CalendlyClient:
    return CalendlyClient(
        runtime.settings().calendly_api_url, **_common(calendly_user or "-", connection_id)
    )


def savvycal_client(connection_id: int, savvycal_user: str | None) -> SavvyCalClient:
    return SavvyCalClient(
        runtime.settings().savvycal_api_url, **_common(savvycal_user or "-", connection_id)
    )
