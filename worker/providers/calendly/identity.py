"""Who connected Calendly: the user and organization URIs of the token answer (`owner`,
`organization`), and `/users/me` for the account's email, so the rep's page can say which
Calendly account is connected (a token answer names no email)."""

from __future__ import annotations

from typing import Any

from worker import runtime
from worker.providers.calendly.client import CalendlyClient
from worker.providers.clients import GrantToken, build_client
from worker.providers.errors import BadResponse
from worker.providers.spec import Identity


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def identity(token: str, extra: dict[str, Any]) -> Identity:
    owner = _text(extra.get("owner"))
    org = _text(extra.get("organization"))
    api = runtime.settings().calendly_api_url
    me = build_client(CalendlyClient, api, GrantToken(token), owner).me()
    owner = owner or me["uri"]
    org = org or _text(me.get("current_organization"))
    email = _text(me.get("email"))
    if org is None:
        raise BadResponse(
            "calendly did not say which organization the user is in", provider="calendly"
        )
    return Identity(owner, org, email)
