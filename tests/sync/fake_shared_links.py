"""Close's shared scheduling links on `responses`, with its permission rule: only a user with
Manage Customizations (`admins`) may create or delete one; a mapping may be made by such a user
or by the owner of the user link (reference/close-api.md §1.1, §1.5)."""

from __future__ import annotations

import json
import re

import responses

from tests.conftest import CLOSE_API
from tests.sync.fakes import FakeClose

SHARED_PATH = re.escape(CLOSE_API) + r"/shared_scheduling_link/"


class FakeSharedLinks:
    def __init__(self, rsps: responses.RequestsMock, close: FakeClose, admins: set[str]):
        self.close = close
        self.admins = admins
        self.shared: dict[str, dict] = {}
        self.mappings: dict[tuple[str, str], str] = {}  # (shared id, user) -> user link id
        self.calls: list[tuple[str, str]] = []  # (what, acting user)
        self._n = 0
        rsps.add_callback(responses.POST, f"{CLOSE_API}/shared_scheduling_link/", self._create)
        rsps.add_callback(responses.GET, re.compile(SHARED_PATH + r"([^/]+)/$"), self._get)
        rsps.add_callback(responses.DELETE, re.compile(SHARED_PATH + r"([^/]+)/$"), self._delete)
        rsps.add_callback(
            responses.POST, f"{CLOSE_API}/shared_scheduling_link_association/", self._map
        )
        rsps.add_callback(
            responses.POST, f"{CLOSE_API}/shared_scheduling_link_association/unmap/", self._unmap
        )

    def mapped(self, user: str) -> str | None:
        (shared_id,) = self.shared or [None]
        return self.mappings.get((shared_id, user))

    def _forbidden(self):
        return 403, {}, json.dumps({"error": "You don't have Manage Customizations permission."})

    def _create(self, request):
        user = self.close.user_of(request)
        self.calls.append(("create", user))
        if user not in self.admins:
            return self._forbidden()
        body = json.loads(request.body)
        self._n += 1
        link = {
            "id": f"schlnk_shared{self._n}",
            "name": body["name"],
            "description": body.get("description"),
            "template_tag": body["name"].lower().replace(" ", "_"),
            "type": "SHARED",
            "source": "MANUAL",
            "url": None,
            "user_id": None,
            "organization_id": "orga_1",
        }
        self.shared[link["id"]] = link
        return 201, {}, json.dumps(link)

    def _id(self, request) -> str:
        return request.url.rstrip("/").rsplit("/", 1)[-1]

    def _get(self, request):
        link = self.shared.get(self._id(request))
        return (200, {}, json.dumps(link)) if link else (404, {}, json.dumps({"error": "gone"}))

    def _delete(self, request):
        user = self.close.user_of(request)
        self.calls.append(("delete", user))
        if user not in self.admins:
            return self._forbidden()
        if self.shared.pop(self._id(request), None) is None:
            return 404, {}, json.dumps({"error": "gone"})
        self.mappings = {k: v for k, v in self.mappings.items() if k[0] in self.shared}
        return 204, {}, ""

    def _map(self, request):
        actor = self.close.user_of(request)
        body = json.loads(request.body)
        self.calls.append(("map", actor))
        user_link = self.close.links.get(body["user_scheduling_link_id"])
        if body["shared_scheduling_link_id"] not in self.shared or user_link is None:
            return 404, {}, json.dumps({"error": "Object does not exist."})
        if actor not in self.admins and user_link.get("user_id") != actor:
            return self._forbidden()
        self.mappings[(body["shared_scheduling_link_id"], body["user_id"])] = user_link["id"]
        return 201, {}, json.dumps(body | {"url": None})

    def _unmap(self, request):
        actor = self.close.user_of(request)
        body = json.loads(request.body)
        self.calls.append(("unmap", actor))
        if actor not in self.admins and actor != body["user_id"]:
            return self._forbidden()
        key = (body["shared_scheduling_link_id"], body["user_id"])
        if self.mappings.pop(key, None) is None:
            return 404, {}, json.dumps({"error": "Object does not exist."})
        return 200, {}, json.dumps({})
