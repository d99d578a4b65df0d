"""Who granted access: the identity look-ups the web process makes while a browser waits
(CONTRACT §1): Close `/me/`, Calendly `/users/me`, SavvyCal `/me`.

Each look-up uses the access token just obtained, before anything is stored. Nothing here
refreshes: a token that is refused a second after it was issued means the grant is unusable.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker import runtime
from worker.providers.calendly.client import CalendlyClient
from worker.providers.close.client import CloseClient
from worker.providers.errors import BadResponse
from worker.providers.oauth import TokenGrant
from worker.providers.pacing import RedisPacer
from worker.providers.savvycal.client import SavvyCalClient


class GrantToken:
    """A TokenSource for a token not stored yet: it has nothing to refresh."""

    def __init__(self, token: str):
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh_after_unauthorized(self, rejected_token: str) -> bool:
        return False


@dataclass(frozen=True)
class Identity:
    user_id: str
    organization_id: str | None = None
    email: str | None = None


def _client_options(token: str, owner: str) -> dict:
    settings = runtime.settings()
    return {
        "auth": GrantToken(token),
        "timeout": settings.http_timeout_seconds,
        "retry_backoff": settings.http_retry_backoff_seconds,
        "pacer": RedisPacer(runtime.redis_client()),
        "rate_owner": owner,
    }


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def close_identity(grant: TokenGrant) -> Identity:
    """user_id and organization_id from the token answer (Close chose the organization on its
    consent screen), the email from /me/, which also fills in a missing user id."""
    org = _text(grant.extra.get("organization_id"))
    me = CloseClient(
        runtime.settings().close_api_url, **_client_options(grant.access_token, org or "-")
    ).me()
    user_id = _text(grant.extra.get("user_id")) or _text(me.get("id"))
    if org is None:
        # Only unambiguous when the user belongs to a single organization.
        memberships = [m for m in me.get("memberships") or [] if isinstance(m, dict)]
        orgs = {m.get("organization_id") for m in memberships}
        org = _text(orgs.pop()) if len(orgs) == 1 else None
    if user_id is None or org is None:
        missing = "user id" if user_id is None else "organization id"
        raise BadResponse(f"close sign-in answer has no {missing}", provider="close")
    return Identity(user_id, org, _text(me.get("email")))


def calendly_identity(grant: TokenGrant) -> Identity:
    """The user and organization URIs of the token answer (`owner`, `organization`); only when
    one is missing is /users/me asked."""
    owner = _text(grant.extra.get("owner"))
    org = _text(grant.extra.get("organization"))
    email = None
    if owner is None or org is None:
        settings = runtime.settings()
        me = CalendlyClient(
            settings.calendly_api_url, **_client_options(grant.access_token, owner or "-")
        ).me()
        owner = owner or me["uri"]
        org = org or _text(me.get("current_organization"))
        email = _text(me.get("email"))
    if org is None:
        raise BadResponse(
            "calendly did not say which organization the user is in", provider="calendly"
        )
    return Identity(owner, org, email)


def savvycal_identity(token: str) -> Identity:
    """The SavvyCal user a token (OAuth or personal) acts as; Unauthorized when it is refused."""
    me = SavvyCalClient(runtime.settings().savvycal_api_url, **_client_options(token, "-")).me()
    return Identity(me["id"], None, me.get("email"))
