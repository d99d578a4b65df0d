"""SavvyCal API: the user and their scheduling links (reference/savvycal-api.md)."""

from __future__ import annotations

from typing import Any

from worker.providers.errors import BadResponse
from worker.providers.http import HttpClient
from worker.providers.schemas import SavvyCalLinkSchema, SavvyCalUserSchema, load, load_many

PAGE_SIZE = 100
_links = SavvyCalLinkSchema()
_users = SavvyCalUserSchema()


class SavvyCalClient(HttpClient):
    provider = "savvycal"

    def rate_key(self, group: str) -> str:
        # SavvyCal documents no limits; pace per user as the others.
        return f"savvycal:{self.rate_owner}:api"

    def me(self) -> dict[str, Any]:
        return load(_users, self.get_json("/me"), "savvycal", "user")

    def links(self) -> list[dict[str, Any]]:
        """Every link, following the opaque `after` cursor until it is null."""
        return self.paginate(
            "/links",
            {"limit": PAGE_SIZE},
            items_of=lambda body: load_many(_links, body.get("entries"), "savvycal", "link"),
            cursor_of=_after_cursor,
            cursor_param="after",
        )


def _after_cursor(body: dict[str, Any]) -> Any:
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        raise BadResponse("savvycal sent a page without metadata", provider="savvycal")
    return metadata.get("after")
