"""How a SavvyCal scheduling link becomes a Close scheduling link (CONTRACT §4)."""

from __future__ import annotations

from typing import Any

from worker import runtime
from worker.providers.savvycal.client import SavvyCalClient
from worker.sync.links import DesiredLink, NotSynced, Selection, blank_to_none, source_id


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
    scope_slug = (link.get("scope") or {}).get("slug")
    name, slug = link.get("name"), link.get("slug")
    if link.get("state") != "active":
        # SavvyCal's other states (`disabled`, ...) all mean the link takes no bookings.
        selection.not_synced.append(NotSynced("savvycal", sid, name, "disabled"))
        return
    if not name or not scope_slug or not slug:
        missing = "name" if not name else "URL (no scope or slug)"
        what = f"“{name}”" if name else f"{external_id} (no name)"
        selection.skipped.add(sid)
        selection.warnings.append(f"SavvyCal link {what} has no {missing}; skipped")
        selection.not_synced.append(
            NotSynced("savvycal", sid, name, "no_name" if not name else "no_scope")
        )
        return
    selection.links[sid] = DesiredLink(
        provider="savvycal",
        external_id=external_id,
        source_id=sid,
        name=name,
        url=f"{booking_base.rstrip('/')}/{scope_slug}/{slug}",
        description=blank_to_none(link.get("description")),
        duration_in_minutes=savvycal_duration(link),
        source_type="SavvyCal",
        slug=slug,
    )


def savvycal_selection(
    links: list[dict[str, Any]], close_user_id: str, booking_base: str
) -> Selection:
    selection = Selection()
    for link in links:
        add_savvycal(selection, link, close_user_id, booking_base)
    return selection


def fetch_selection(client: SavvyCalClient, close_user_id: str, _user: str | None) -> Selection:
    return savvycal_selection(
        client.links(), close_user_id, runtime.settings().savvycal_booking_url
    )
