"""How a Calendly event type becomes a Close scheduling link (CONTRACT §4)."""

from __future__ import annotations

from typing import Any

from worker.providers.calendly.client import CalendlyClient, uuid_of
from worker.sync.links import DesiredLink, NotSynced, Selection, blank_to_none, source_id

CALENDLY_POOLING_TYPES = {
    "round_robin": "Calendly · Round Robin",
    "collective": "Calendly · Collective",
    "multi_pool": "Calendly · Multi-Pool",
}


def calendly_unwanted_reason(event_type: dict[str, Any]) -> str | None:
    """Why this event type is not a link (a NOT_SYNCED_REASONS key), None when it is one:
    active, not deleted, a standard event type (ad-hoc meetings are not links)."""
    if event_type.get("deleted_at"):
        return "deleted"
    if event_type.get("type") != "StandardEventType":
        return "ad_hoc"
    if not event_type.get("active"):
        return "inactive"
    return None


def calendly_source_type(event_type: dict[str, Any]) -> str:
    pooling = event_type.get("pooling_type")
    if pooling in CALENDLY_POOLING_TYPES:
        return CALENDLY_POOLING_TYPES[pooling]
    return "Calendly · Solo" if event_type.get("kind") == "solo" else "Calendly · Group"


def add_calendly(selection: Selection, event_type: dict[str, Any], close_user_id: str) -> None:
    external_id = uuid_of(event_type["uri"])
    sid = source_id("calendly", external_id, close_user_id)
    name, url = event_type.get("name"), event_type.get("scheduling_url")
    unwanted = calendly_unwanted_reason(event_type)
    if unwanted is not None:
        selection.not_synced.append(NotSynced("calendly", sid, name, unwanted))
        return
    if not name or not url:
        selection.skipped.add(sid)
        # Named by its name where it has one; an item without a name only has its id.
        what = f"“{name}”" if name else f"{external_id} (no name)"
        selection.warnings.append(
            f"Calendly event type {what} has no {'name' if not name else 'URL'}; skipped"
        )
        selection.not_synced.append(
            NotSynced("calendly", sid, name, "no_name" if not name else "no_url")
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
