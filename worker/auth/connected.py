"""Provider clients for a stored connection: its tokens (refreshed as needed, never spent
twice), the settings and the shared pacer."""

from __future__ import annotations

from worker import runtime
from worker.auth.tokens import Snapshot, StoredToken
from worker.providers import registry
from worker.providers.calendly.client import CalendlyClient
from worker.providers.clients import build_client
from worker.providers.close.client import CloseClient
from worker.providers.http import Guard, HttpClient


def connected_client(
    provider: str,
    connection_id: int,
    owner: str | None,
    guard: Guard | None = None,
    token: Snapshot | None = None,
) -> HttpClient:
    """`owner` is whose rate limit the calls count against: the provider's user for Calendly
    and SavvyCal, the organization for Close. `token` is the connection's row if the caller has
    read it already (saves a database round trip per client)."""
    spec = registry.spec(provider)
    api = spec.api_url(runtime.settings())
    auth = StoredToken(connection_id, token)
    return build_client(spec.client_class, api, auth, owner, guard)


def close_client(
    connection_id: int,
    organization_id: str | None,
    guard: Guard | None = None,
    token: Snapshot | None = None,
) -> CloseClient:
    api = runtime.settings().close_api_url
    auth = StoredToken(connection_id, token)
    return build_client(CloseClient, api, auth, organization_id, guard)


def calendly_client(
    connection_id: int,
    calendly_user: str | None,
    guard: Guard | None = None,
    token: Snapshot | None = None,
) -> CalendlyClient:
    api = runtime.settings().calendly_api_url
    auth = StoredToken(connection_id, token)
    return build_client(CalendlyClient, api, auth, calendly_user, guard)
