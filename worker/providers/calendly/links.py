"""How a Calendly event type becomes a Close scheduling link (CONTRACT §4)."""

from __future__ import annotations

from typing import Any

from worker.providers.calendly.client import CalendlyClient, uuid_of
from worker.sync.links import DesiredLink, Selection, blank_to_none, source_id

CALENDLY_POOLING_TYPES = {
    "round_robin": "Calendly · Round Robin",
    "collective": "Calendly · Collective",
    "multi_pool": "Calendly · Multi-Pool",
}


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
        description=blank_to_none(event_type.get("description_plain")),
        duration_in_minutes=event_type.get("duration"),
        source_type=calendly_source_type(event_type),
        slug=event_type.get("slug"),
    )


def calendly_selection(event_types: list[dict[str, Any]], close_user_id: str) -> Selection:
    selection = Selection()
    for event_type in event_types:
        add_calendly(selection, event_type, close_user_id)
    return selection


def fetch_selection(client: CalendlyClient, close_user_id: str, user_uri: str | None) -> Selection:
    """Every event type the user's own listing shows (personal, team and organization ones)."""
    return calendly_selection(client.event_types(user_uri or ""), close_user_id)


def in_users_listing(
    client: CalendlyClient, event_type: dict[str, Any], user_uri: str | None
) -> bool:
    """Would the user's own `GET /event_types?user=` listing show this event type (CONTRACT §4)?

    A personal type whose profile owner is the user always is, so the common case costs no extra
    call. Anything else (a team type, a colleague's type, no profile) is looked for in the
    listing: a team type the user no longer hosts is still readable by uuid but is not theirs.
    """
    profile = event_type.get("profile") or {}
    owner = profile.get("owner")
    if user_uri and owner and profile.get("type") == "User" and uuid_of(owner) == uuid_of(user_uri):
        return True
    wanted = uuid_of(event_type["uri"])
    return any(uuid_of(item["uri"]) == wanted for item in client.event_types(user_uri or ""))
