"""Who signed in with Close: user and organization from the token answer (Close chose the
organization on its consent screen), the email from `/me/`, which also fills in a missing
user id."""

from __future__ import annotations

from typing import Any

from worker import runtime
from worker.providers.clients import GrantToken, build_client
from worker.providers.close.client import CloseClient
from worker.providers.errors import BadResponse
from worker.providers.spec import Identity


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def identity(token: str, extra: dict[str, Any]) -> Identity:
    org = _text(extra.get("organization_id"))
    client = build_client(CloseClient, runtime.settings().close_api_url, GrantToken(token), org)
    me = client.me()
    user_id = _text(extra.get("user_id")) or _text(me.get("id"))
    if org is None:
        # Only unambiguous when the user belongs to a single organization.
        memberships = [m for m in me.get("memberships") or [] if isinstance(m, dict)]
        orgs = {m.get("organization_id") for m in memberships}
        org = _text(orgs.pop()) if len(orgs) == 1 else None
    if user_id is None or org is None:
        missing = "user id" if user_id is None else "organization id"
        raise BadResponse(f"close sign-in answer has no {missing}", provider="close")
    return Identity(user_id, org, _text(me.get("email")))
