"""Close API: the user's identity and its scheduling links (CONTRACT §4; reference/close-api.md)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

import requests

from worker.providers.errors import BadResponse, NotFound
from worker.providers.http import HttpClient, json_object
from worker.providers.schemas import CloseLinkSchema, load, load_many

PAGE_SIZE = 100
_links = CloseLinkSchema()


def parse_ratelimit(value: str | None) -> dict[str, float]:
    """`RateLimit: limit=100, remaining=50, reset=5` (reset is decimal seconds)."""
    fields: dict[str, float] = {}
    for part in (value or "").split(","):
        name, sep, number = part.partition("=")
        if not sep:
            continue
        try:
            parsed = float(number.strip())
        except ValueError:
            continue
        if math.isfinite(parsed):
            fields[name.strip().lower()] = parsed
    return fields


class CloseClient(HttpClient):
    provider = "close"

    def rate_limit_state(self, response: requests.Response) -> tuple[int | None, float | None]:
        fields = parse_ratelimit(response.headers.get("RateLimit"))
        remaining = fields.get("remaining")
        return (None if remaining is None else int(remaining)), fields.get("reset")

    def retry_after(self, response: requests.Response) -> float:
        # Close: prefer the precise decimal reset of `RateLimit`, then `Retry-After`.
        reset = parse_ratelimit(response.headers.get("RateLimit")).get("reset")
        if reset is not None:
            return max(reset, 0.0)
        return super().retry_after(response)

    def rate_key(self, group: str) -> str:
        # Close limits per organization and endpoint group (method + path).
        return f"close:{self.rate_owner}:{group}"

    def me(self) -> dict[str, Any]:
        return self.get_json("/me/", group="GET /me/")

    def scheduling_links(self) -> list[dict[str, Any]]:
        """Every link the token can see, following `_skip`/`_limit` while `has_more`."""
        links: list[dict[str, Any]] = []
        seen: set[str] = set()
        skip = 0
        while True:
            body = self.get_json(
                "/scheduling_link/",
                params={"_skip": skip, "_limit": PAGE_SIZE},
                group="GET /scheduling_link/",
            )
            page = load_many(_links, body.get("data"), "close", "scheduling link")
            if "has_more" not in body:
                raise BadResponse("close sent a page without has_more", provider="close")
            fresh = [link for link in page if link["id"] not in seen]
            # A server that ignores _skip would repeat the first page forever.
            if page and not fresh:
                break
            seen.update(link["id"] for link in fresh)
            links.extend(fresh)
            if not body["has_more"] or not page:
                break
            skip += len(page)
        return links

    def upsert_link(self, payload: dict[str, Any]) -> dict[str, Any]:
        # An upsert keyed by source_id: repeating it is harmless, so it may be retried.
        response = self.request(
            "POST",
            "/scheduling_link/integration/",
            json=payload,
            idempotent=True,
            group="POST /scheduling_link/integration/",
        )
        return load(_links, json_object(response, "close"), "close", "scheduling link")

    def delete_link(self, source_id: str) -> bool:
        """Delete our link by source_id; False when Close says it is already gone."""
        try:
            self.request(
                "DELETE",
                f"/scheduling_link/integration/{quote(source_id, safe='')}/",
                group="DELETE /scheduling_link/integration/",
            )
        except NotFound:
            return False
        return True
