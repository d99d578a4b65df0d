"""SavvyCal API: the user and their scheduling links (reference/savvycal-api.md)."""

from __future__ import annotations

from typing import Any

from worker.providers.errors import BadResponse
from worker.providers.http import HttpClient, next_cursor
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
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        seen: set[str] = set()
        while True:
            body = self.get_json("/links", params=params)
            items.extend(load_many(_links, body.get("entries"), "savvycal", "link"))
            metadata = body.get("metadata")
            if not isinstance(metadata, dict):
                raise BadResponse("savvycal sent a page without metadata", provider="savvycal")
            cursor = next_cursor(metadata.get("after"), seen, "savvycal")
            if cursor is None:
                return items
            params = {"limit": PAGE_SIZE, "after": cursor}
