"""How a Calendly event type or a SavvyCal link becomes a Close scheduling link (CONTRACT §4)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from worker.providers.calendly.client import uuid_of

CALENDLY_POOLING_TYPES = {
    "round_robin": "Calendly · Round Robin",
    "collective": "Calendly · Collective",
    "multi_pool": "Calendly · Multi-Pool",
}


@dataclass(frozen=True)
class DesiredLink:
    """One link as Close should hold it. `source_id` names (provider, external link, Close user)."""

    provider: str
    external_id: str
    source_id: str
    name: str
    url: str
    description: str | None
    duration_in_minutes: int | None
    source_type: str
    # The source's own slug: not sent to Close, only matched by team links (CONTRACT §6).
    slug: str | None = None

    def payload(self) -> dict[str, Any]:
        """The body of `POST /scheduling_link/integration/`."""
        body = asdict(self)
        del body["provider"], body["external_id"], body["slug"]
        return body


@dataclass
class Selection:
    """What one provider's listing asks of Close."""

    links: dict[str, DesiredLink] = field(default_factory=dict)
    # source_ids of items that exist but cannot become links (no name or URL): a link already
    # in Close for them is left as it is.
    skipped: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


def source_id(provider: str, external_id: str, close_user_id: str) -> str:
    return f"{provider}:{external_id}:{close_user_id}"


def provider_of(source_id_value: str | None) -> str | None:
    if not source_id_value or ":" not in source_id_value:
        return None
    return source_id_value.split(":", 1)[0]


def _blank_to_none(value: str | None) -> str | None:
    return value if value else None


def calendly_wanted(event_type: dict[str, Any]) -> bool:
    """Active, not deleted, a standard event type (ad-hoc meetings are not links)."""
    return (
        bool(event_type.get("active"))
        and not event_type.get("deleted_at")
        and event_type.get("type") == "StandardEventType"
    )


def calendly_source_type(event_type: dict[str, Any]) -> str:
    pooling = event_type.get("pooling_type")
    if pooling in CALENDLY_POOLING_TYPES:
        return CALENDLY_POOLING_TYPES[pooling]
    return "Calendly · Solo" if event_type.get("kind") == "solo" else "Calendly · Group"


def add_calendly(selection: Selection, event_type: dict[str, Any], close_user_id: str) -> None:
    external_id = uuid_of(event_type["uri"])
    sid = source_id("calendly", external_id, close_user_id)
    if not calendly_wanted(event_type):
        return
    name, url = event_type.get("name"), event_type.get("scheduling_url")
    if not name or not url:
        selection.skipped.add(sid)
        selection.warnings.append(
            f"Calendly event type {external_id} has no {'name' if not name else 'URL'}; skipped"
        )
        return
    selection.links[sid] = DesiredLink(
        provider="calendly",
        external_id=external_id,
        source_id=sid,
        name=name,
        url=url,
        description=_blank_to_none(event_type.get("description_plain")),
        duration_in_minutes=event_type.get("duration"),
        source_type=calendly_source_type(event_type),
        slug=event_type.get("slug"),
    )


def savvycal_duration(link: dict[str, Any]) -> int | None:
    if link.get("default_duration") is not None:
        return link["default_duration"]
    durations = link.get("durations") or []
    return durations[0] if durations else None


def add_savvycal(
    selection: Selection, link: dict[str, Any], close_user_id: str, booking_base: str
) -> None:
    external_id = link["id"]
    sid = source_id("savvycal", external_id, close_user_id)
    if link.get("state") != "active":
        return
    scope_slug = (link.get("scope") or {}).get("slug")
    name, slug = link.get("name"), link.get("slug")
    if not name or not scope_slug or not slug:
        missing = "name" if not name else "URL (no scope or slug)"
        selection.skipped.add(sid)
        selection.warnings.append(f"SavvyCal link {external_id} has no {missing}; skipped")
        return
    selection.links[sid] = DesiredLink(
        provider="savvycal",
        external_id=external_id,
        source_id=sid,
        name=name,
        url=f"{booking_base.rstrip('/')}/{scope_slug}/{slug}",
        description=_blank_to_none(link.get("description")),
        duration_in_minutes=savvycal_duration(link),
        source_type="SavvyCal",
        slug=slug,
    )


def calendly_selection(event_types: list[dict[str, Any]], close_user_id: str) -> Selection:
    selection = Selection()
    for event_type in event_types:
        add_calendly(selection, event_type, close_user_id)
    return selection


def savvycal_selection(
    links: list[dict[str, Any]], close_user_id: str, booking_base: str
) -> Selection:
    selection = Selection()
    for link in links:
        add_savvycal(selection, link, close_user_id, booking_base)
    return selection
