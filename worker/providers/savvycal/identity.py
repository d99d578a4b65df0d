"""Who a SavvyCal token (OAuth or personal) acts as: `/me`; Unauthorized when it is refused."""

from __future__ import annotations

from typing import Any

from worker import runtime
from worker.providers.clients import GrantToken, build_client
from worker.providers.savvycal.client import SavvyCalClient
from worker.providers.spec import Identity


def identity(token: str, _extra: dict[str, Any]) -> Identity:
    api = runtime.settings().savvycal_api_url
    me = build_client(SavvyCalClient, api, GrantToken(token), None).me()
    return Identity(me["id"], None, me.get("email"))
