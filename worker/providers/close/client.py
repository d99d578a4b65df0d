"""Close API: the user's identity and its scheduling links (CONTRACT §4; reference/close-api.md)."""

from __future__ import annotations

import logging
import math
from typing import Any
from urllib.parse import quote

import requests

from worker.providers.errors import BadResponse, NotFound, ProviderError
from worker.providers.http import MAX_PAGES, HttpClient, json_object
from worker.providers.schemas import CloseLinkSchema, load, load_many

PAGE_SIZE = 100
# The query parameters tried in turn when Close answers 400 to paging parameters.
PAGING_STYLES: tuple[tuple[str, ...], ...] = (("_skip", "_limit"), ("_skip",), ())
_links = CloseLinkSchema()
log = logging.getLogger(__name__)


class IncompleteListing(BadResponse):
    """Close's link listing could not be followed to its end; `links` holds what was read. A
    sync may write what differs among them, but must delete nothing (CONTRACT §4)."""

    def __init__(self, links: list[dict[str, Any]], reason: str = "Close ignored _skip"):
        super().__init__(
            f"close /scheduling_link/ could not be read to its end ({reason}); "
            f"{len(links)} links read",
            provider="close",
        )
        self.links = links


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
        """Every link the token can see, following `_skip`/`_limit` while `has_more`.

        Close documents `_skip`/`_limit` for most lists but not for this one (reference/
        close-api.md §1.4), so: a 400 to them asks again with `_skip` alone, then with neither
        (one page); and a listing that cannot be followed to its end (Close ignored `_skip`
        and repeated a page, or has more than a parameterless page shows) raises
        IncompleteListing with the links it did read.
        """
        for style in PAGING_STYLES:
            try:
                return self._links_paged(style)
            except ProviderError as exc:
                if exc.status != 400 or style is PAGING_STYLES[-1]:
                    raise
                log.warning("close refused %s on /scheduling_link/; asking without", style)
        raise AssertionError("unreachable")

    def _links_paged(self, style: tuple[str, ...]) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = []
        seen: set[str] = set()
        skip = 0
        for _ in range(MAX_PAGES):
            params = {"_skip": skip, "_limit": PAGE_SIZE}
            body = self.get_json(
                "/scheduling_link/",
                params={name: params[name] for name in style},
                group="GET /scheduling_link/",
            )
            page = load_many(_links, body.get("data"), "close", "scheduling link")
            if "has_more" not in body:
                raise BadResponse("close sent a page without has_more", provider="close")
            fresh = [link for link in page if link["id"] not in seen]
            seen.update(link["id"] for link in fresh)
            links.extend(fresh)
            if not body["has_more"] or not page:
                return links
            if not fresh or "_skip" not in style:
                # A server that ignores _skip repeats a page: the rest cannot be read.
                raise IncompleteListing(links)
            skip += len(page)
        raise IncompleteListing(links, reason=f"more than {MAX_PAGES} pages")

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
