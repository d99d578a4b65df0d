"""Stateful provider fakes on `responses`, so a sync can run twice against the same world."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, unquote, urlsplit

import responses

from tests.conftest import CALENDLY_API, CLOSE_API, SAVVYCAL_API

OUR_CLIENT = "oa2client_ours"


class FakeClose:
    def __init__(self, rsps: responses.RequestsMock, page_size: int = 100):
        self.links: dict[str, dict] = {}  # id -> link
        self.writes: list[tuple[str, str]] = []
        self.page_size = page_size
        self.fail_next: list[int] = []
        self.honour_skip = True  # False: every page is the first (a Close that ignores _skip)
        self.before_upsert = None  # called with each upsert request before it is answered
        self._n = 0
        rsps.add_callback(responses.GET, f"{CLOSE_API}/scheduling_link/", callback=self._list)
        rsps.add_callback(
            responses.POST, f"{CLOSE_API}/scheduling_link/integration/", callback=self._upsert
        )
        rsps.add_callback(
            responses.DELETE,
            re.compile(re.escape(CLOSE_API) + r"/scheduling_link/integration/(.+)/$"),
            callback=self._delete,
        )

    def user_of(self, request) -> str:
        return request.headers["Authorization"].removeprefix("Bearer close-at-")

    def add(self, **link) -> dict:
        self._n += 1
        link.setdefault("id", f"schlnk_{self._n}")
        link.setdefault("type", "USER")
        self.links[link["id"]] = link
        return link

    def of(self, user: str) -> list[dict]:
        return [link for link in self.links.values() if link.get("user_id") == user]

    def _list(self, request):
        qs = parse_qs(urlsplit(request.url).query)
        skip = int(qs.get("_skip", ["0"])[0]) if self.honour_skip else 0
        limit = int(qs.get("_limit", ["100"])[0])
        visible = self.of(self.user_of(request))
        page = visible[skip : skip + min(limit, self.page_size)]
        has_more = skip + len(page) < len(visible)
        return 200, {}, json.dumps({"data": page, "has_more": has_more})

    def _upsert(self, request):
        if self.before_upsert is not None:
            self.before_upsert(request)
        if self.fail_next:
            return self.fail_next.pop(0), {}, json.dumps({"error": "nope"})
        body = json.loads(request.body)
        user = self.user_of(request)
        self.writes.append(("upsert", body["source_id"]))
        existing = next(
            (
                link
                for link in self.links.values()
                if link.get("source_id") == body["source_id"]
                and link.get("oauth_client_id") == OUR_CLIENT
            ),
            None,
        )
        link = existing or self.add(source="THIRD_PARTY", oauth_client_id=OUR_CLIENT, user_id=user)
        link.update(body)
        return 200, {}, json.dumps(link)

    def _delete(self, request):
        source_id = unquote(urlsplit(request.url).path.rstrip("/").rsplit("/", 1)[-1])
        self.writes.append(("delete", source_id))
        for link_id, link in list(self.links.items()):
            if link.get("source_id") == source_id and link.get("oauth_client_id") == OUR_CLIENT:
                del self.links[link_id]
                return 204, {}, ""
        return 404, {}, json.dumps({"error": "not found"})


class FakeCalendly:
    def __init__(self, rsps: responses.RequestsMock):
        self.event_types: dict[str, dict] = {}
        self.status: int | None = None
        self.raw_body: str | None = None
        rsps.add_callback(responses.GET, f"{CALENDLY_API}/event_types", callback=self._list)
        rsps.add_callback(
            responses.GET,
            re.compile(re.escape(CALENDLY_API) + r"/event_types/([^/?]+)$"),
            callback=self._one,
        )

    def add(self, uuid: str, **fields) -> dict:
        et = {
            "uri": f"{CALENDLY_API}/event_types/{uuid}",
            "name": f"Event {uuid}",
            "active": True,
            "scheduling_url": f"https://calendly.com/acme/{uuid.lower()}",
            "duration": 30,
            "kind": "solo",
            "pooling_type": None,
            "type": "StandardEventType",
            "description_plain": "",
            "deleted_at": None,
            "secret": False,
        }
        et.update(fields)
        self.event_types[uuid] = et
        return et

    def _list(self, request):
        if self.status:
            return self.status, {}, json.dumps({"title": "Internal Server Error", "message": "x"})
        if self.raw_body is not None:
            return 200, {}, self.raw_body
        qs = parse_qs(urlsplit(request.url).query)
        start = int(qs.get("page_token", ["0"])[0])
        count = int(qs.get("count", ["20"])[0])
        items = list(self.event_types.values())
        page = items[start : start + count]
        nxt = str(start + count) if start + count < len(items) else None
        return (
            200,
            {},
            json.dumps(
                {
                    "collection": page,
                    "pagination": {
                        "count": len(page),
                        "next_page": None,
                        "previous_page": None,
                        "next_page_token": nxt,
                        "previous_page_token": None,
                    },
                }
            ),
        )

    def _one(self, request):
        uuid = urlsplit(request.url).path.rsplit("/", 1)[-1]
        if uuid not in self.event_types:
            return 404, {}, json.dumps({"title": "Resource Not Found", "message": "x"})
        return 200, {}, json.dumps({"resource": self.event_types[uuid]})


class FakeSavvyCal:
    def __init__(self, rsps: responses.RequestsMock):
        self.links: dict[str, dict] = {}
        self.status: int | None = None
        self.pages_forever = False  # True: every page names a next one, never seen before
        self.pages_served = 0
        rsps.add_callback(responses.GET, f"{SAVVYCAL_API}/links", callback=self._list)

    def add(self, link_id: str, **fields) -> dict:
        link = {
            "id": link_id,
            "state": "active",
            "slug": link_id.lower(),
            "name": f"Link {link_id}",
            "description": "",
            "durations": [30],
            "default_duration": None,
            "scope": {"id": "scope_1", "name": "A", "slug": "alice"},
        }
        link.update(fields)
        self.links[link_id] = link
        return link

    def _list(self, request):
        if self.status:
            return self.status, {}, "Unavailable"
        qs = parse_qs(urlsplit(request.url).query)
        after_q = qs.get("after", ["0"])[0]
        start = 0 if self.pages_forever else int(after_q)
        limit = int(qs.get("limit", ["20"])[0])
        items = list(self.links.values())
        page = items[start : start + limit]
        after = str(start + limit) if start + limit < len(items) else None
        self.pages_served += 1
        if self.pages_forever:
            page, after = items[:limit], f"{self.pages_served}-more"
        return (
            200,
            {},
            json.dumps(
                {"entries": page, "metadata": {"before": None, "after": after, "limit": limit}}
            ),
        )
