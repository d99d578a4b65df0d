"""Close shared scheduling links and their per-user mappings (reference/close-api.md §1.5).

A `SHARED` link gives a team one template tag; each user's mapping decides what the tag resolves
to when that user sends. Only users with Manage Customizations may create, change or delete a
shared link (Close answers 403 otherwise, raised here as `Forbidden`); a mapping may also be
made by the user who owns the user link it points at.
"""

from __future__ import annotations

from typing import Any

from worker.providers.close.client import PAGE_SIZE, CloseClient
from worker.providers.errors import BadResponse, NotFound
from worker.providers.http import json_object
from worker.providers.schemas import CloseSharedLinkSchema, load, load_many

_shared = CloseSharedLinkSchema()


class SharedLinks:
    """The shared-link endpoints, spoken with one Close user's grant."""

    def __init__(self, client: CloseClient):
        self.client = client

    def list(self) -> list[dict[str, Any]]:
        """Every shared link of the organization, following `_skip`/`_limit` while `has_more`."""
        links: list[dict[str, Any]] = []
        seen: set[str] = set()
        skip = 0
        while True:
            body = self.client.get_json(
                "/shared_scheduling_link/",
                params={"_skip": skip, "_limit": PAGE_SIZE},
                group="GET /shared_scheduling_link/",
            )
            page = load_many(_shared, body.get("data"), "close", "shared scheduling link")
            if "has_more" not in body:
                raise BadResponse("close sent a page without has_more", provider="close")
            fresh = [link for link in page if link["id"] not in seen]
            if page and not fresh:
                break  # a server ignoring _skip would repeat its first page forever
            seen.update(link["id"] for link in fresh)
            links.extend(fresh)
            if not body["has_more"] or not page:
                break
            skip += len(page)
        return links

    def get(self, shared_link_id: str) -> dict[str, Any] | None:
        """The shared link, or None when Close no longer has it."""
        try:
            body = self.client.get_json(
                f"/shared_scheduling_link/{shared_link_id}/",
                group="GET /shared_scheduling_link/{id}/",
            )
        except NotFound:
            return None
        return load(_shared, body, "close", "shared scheduling link")

    def create(self, name: str, description: str | None = None) -> dict[str, Any]:
        """201 with the new link and its `template_tag`. Not retried once sent: a second POST
        would make a second link under a second tag."""
        response = self.client.request(
            "POST",
            "/shared_scheduling_link/",
            json={"name": name, "description": description},
            idempotent=False,
            group="POST /shared_scheduling_link/",
        )
        return load(_shared, json_object(response, "close"), "close", "shared scheduling link")

    def update(self, shared_link_id: str, **fields: Any) -> dict[str, Any]:
        """200; Close's PUT behaves as a PATCH, so only the given fields change."""
        response = self.client.request(
            "PUT",
            f"/shared_scheduling_link/{shared_link_id}/",
            json=fields,
            group="PUT /shared_scheduling_link/{id}/",
        )
        return load(_shared, json_object(response, "close"), "close", "shared scheduling link")

    def delete(self, shared_link_id: str) -> bool:
        """Delete the shared link; False when Close says it is already gone. Close's docs give
        both 200 and 204 for this call, so any 2xx is success."""
        try:
            self.client.request(
                "DELETE",
                f"/shared_scheduling_link/{shared_link_id}/",
                group="DELETE /shared_scheduling_link/{id}/",
            )
        except NotFound:
            return False
        return True

    def map(
        self, organization_id: str, shared_link_id: str, user_id: str, user_link_id: str
    ) -> dict[str, Any]:
        """Map the shared link, for `user_id`, to one of that user's links (201, echoed)."""
        # Setting a user's mapping to the same link again leaves it as it was: safe to retry.
        response = self.client.request(
            "POST",
            "/shared_scheduling_link_association/",
            json={
                "organization_id": organization_id,
                "shared_scheduling_link_id": shared_link_id,
                "user_id": user_id,
                "user_scheduling_link_id": user_link_id,
            },
            idempotent=True,
            group="POST /shared_scheduling_link_association/",
        )
        return json_object(response, "close")

    def unmap(self, organization_id: str, shared_link_id: str, user_id: str) -> bool:
        """Remove the user's mapping (200); False when Close answers 404 (already unmapped)."""
        try:
            self.client.request(
                "POST",
                "/shared_scheduling_link_association/unmap/",
                json={
                    "organization_id": organization_id,
                    "shared_scheduling_link_id": shared_link_id,
                    "user_id": user_id,
                },
                idempotent=True,
                group="POST /shared_scheduling_link_association/unmap/",
            )
        except NotFound:
            return False
        return True
