"""What the sandbox's providers hold, read through its control API, and what Close should hold
for one rep according to CONTRACT §4, worked out here independently of worker/sync/links.py so the
end-to-end tests check the service against the contract rather than against itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

TIMEOUT = 10
COMPARED = ("name", "url", "description", "duration_in_minutes", "source_type")
POOLING = {
    "round_robin": "Calendly · Round Robin",
    "collective": "Calendly · Collective",
    "multi_pool": "Calendly · Multi-Pool",
}


@dataclass(frozen=True)
class Person:
    """One person in the sandbox: the same email at Close, Calendly and SavvyCal."""

    email: str
    close_user_id: str
    calendly_uuid: str
    savvycal_user_id: str | None
    savvycal_personal_token: str | None


class Sandbox:
    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def get(self, path: str, **params: str) -> Any:
        answer = self.http.get(f"{self.base}/_sandbox{path}", params=params, timeout=TIMEOUT)
        answer.raise_for_status()
        return answer.json()

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.request(
            method, f"{self.base}/_sandbox{path}", json=body or {}, timeout=TIMEOUT
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def env(self) -> dict[str, str]:
        return self.get("/env")

    def state(self) -> dict[str, Any]:
        return self.get("/state")

    def person(self, email: str) -> Person:
        world = self.state()
        close = next(u for u in world["close"]["users"] if u["email"] == email)
        calendly = next(u for u in world["calendly"]["users"] if u["email"] == email)
        savvy = next((u for u in world["savvycal"]["users"] if u["email"] == email), None)
        return Person(
            email,
            close["id"],
            calendly["uuid"],
            savvy["id"] if savvy else None,
            savvy["personal_token"] if savvy else None,
        )

    def close_links(self, person: Person) -> list[dict[str, Any]]:
        return self.get("/close/links", user_id=person.close_user_id)["data"]

    def event_types(self, person: Person) -> list[dict[str, Any]]:
        return self.get("/calendly/event_types", user=person.calendly_uuid)["event_types"]

    def savvycal_links(self, person: Person) -> list[dict[str, Any]]:
        if person.savvycal_user_id is None:
            return []
        return self.get("/savvycal/links", user=person.savvycal_user_id)["links"]

    def our_client_id(self) -> str:
        return self.state()["close"]["oauth_client_id"]

    def hooks(self) -> list[dict[str, Any]]:
        return self.state()["calendly"]["webhook_subscriptions"]

    def requests_seen(self) -> dict[str, Any]:
        return self.get("/requests")


def normalize_url(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def uuid_of(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def calendly_link(event_type: dict[str, Any]) -> dict[str, Any] | None:
    synced = (
        event_type["active"]
        and not event_type.get("deleted_at")
        and event_type["type"] == "StandardEventType"
    )
    if not synced or not event_type.get("name") or not event_type.get("scheduling_url"):
        return None
    pooling = event_type.get("pooling_type")
    solo = "Calendly · Solo" if event_type.get("kind") == "solo" else "Calendly · Group"
    return {
        "name": event_type["name"],
        "url": event_type["scheduling_url"],
        "description": event_type.get("description_plain") or None,
        "duration_in_minutes": event_type.get("duration"),
        "source_type": POOLING.get(pooling, solo) if pooling else solo,
    }


def savvycal_link(link: dict[str, Any], booking_base: str) -> dict[str, Any] | None:
    scope = link.get("scope") or {}
    if link["state"] != "active" or not link.get("name") or not scope.get("slug"):
        return None
    durations = link.get("durations") or []
    default = link.get("default_duration")
    return {
        "name": link["name"],
        "url": f"{booking_base.rstrip('/')}/{scope['slug']}/{link['slug']}",
        "description": link.get("description") or None,
        "duration_in_minutes": default if default is not None else (durations or [None])[0],
        "source_type": "SavvyCal",
    }


def desired(
    sandbox: Sandbox, person: Person, *, calendly: bool = True, savvycal: bool = True
) -> dict[str, dict[str, Any]]:
    """source_id → the compared fields of every link schedsync should hold in Close for them."""
    booking = sandbox.env()["SAVVYCAL_BOOKING_URL"]
    native = {
        normalize_url(link["url"])
        for link in sandbox.close_links(person)
        if link["source"] == "CALENDLY"
    }
    wanted: dict[str, dict[str, Any]] = {}
    if calendly:
        for event_type in sandbox.event_types(person):
            link = calendly_link(event_type)
            if link and normalize_url(link["url"]) not in native:
                sid = f"calendly:{uuid_of(event_type['uri'])}:{person.close_user_id}"
                wanted[sid] = link
    if savvycal:
        for item in sandbox.savvycal_links(person):
            link = savvycal_link(item, booking)
            if link:
                wanted[f"savvycal:{item['id']}:{person.close_user_id}"] = link
    return wanted


def ours_in_close(sandbox: Sandbox, person: Person) -> dict[str, dict[str, Any]]:
    """source_id → the compared fields of the links schedsync's OAuth app holds for them."""
    client_id = sandbox.our_client_id()
    return {
        link["source_id"]: {name: link[name] for name in COMPARED}
        for link in sandbox.close_links(person)
        if link["source"] == "THIRD_PARTY" and link["oauth_client_id"] == client_id
    }


def not_ours(sandbox: Sandbox, person: Person) -> list[dict[str, Any]]:
    client_id = sandbox.our_client_id()
    return sorted(
        (
            link
            for link in sandbox.close_links(person)
            if not (link["source"] == "THIRD_PARTY" and link["oauth_client_id"] == client_id)
        ),
        key=lambda link: link["id"],
    )


def in_step(sandbox: Sandbox, person: Person, **providers: bool) -> bool:
    return ours_in_close(sandbox, person) == desired(sandbox, person, **providers)
