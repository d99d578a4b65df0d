"""The rep's "Recent changes": every write schedsync made to Close of their links, newest first,
in words ("Calendly link renamed from “Intro Call” to “Discovery Call”", "2 min ago", "by a
Calendly webhook"), from the sync history (worker/sync/history.py).

The words are made here once, so the page (_history.html) and its live updates
(web/static/live.js) only place them; nothing about a change is phrased twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from web.status import iso
from worker.providers import registry
from worker.sync import history, runs, triggers

SHOWN = 20

# Why a run ran, as the end of a sentence ("…, by a Calendly webhook"). A disconnect, an
# organization switch and an operator's team-link change say so instead (`_by`).
BY = {
    triggers.WEBHOOK: "by a Calendly webhook",
    triggers.SCHEDULE: "by the periodic sync",
    triggers.CONNECT: "by the first sync after connecting",
    triggers.SYNC_NOW: "after Sync now was pressed",
    triggers.ADMIN: "by an operator's resync",
    triggers.RETRY: "by a retry of a sync that had failed",
}


def _quoted(value: Any) -> str:
    return f"“{value}”" if value not in (None, "") else "none"


def _minutes(value: Any) -> str:
    return f"{value} min" if value not in (None, "") else "none"


def _field_words(field_name: str, old: Any, new: Any) -> str:
    if field_name == "duration_in_minutes":
        return f"duration changed from {_minutes(old)} to {_minutes(new)}"
    if field_name == "url":
        return f"booking URL changed to {new}" if new else "booking URL removed"
    if field_name == "description":
        return "description changed"
    if field_name == "source_type":
        return f"type changed from {_quoted(old)} to {_quoted(new)}"
    return f"{field_name.replace('_', ' ')} changed"


def team_link_text(change: dict[str, Any], elsewhere: bool = False) -> str:
    """A rep's mapping of a team link (CONTRACT §6): which of their links it opens."""
    subject = f"Team link {_quoted(change.get('name'))}"
    if elsewhere:
        subject += " of your previous Close organization"
    old, new = (change.get("changed") or {}).get("link", [None, None])
    if change["action"] == history.DELETED:
        return f"{subject} no longer opens " + (f"your {_quoted(old)}" if old else "your link")
    text = f"{subject} now opens " + (f"your {_quoted(new)}" if new else "another of your links")
    return text + (
        f" instead of {_quoted(old)}" if old and change["action"] != history.CREATED else ""
    )


def change_text(change: dict[str, Any]) -> str:
    """One change in words, without its time or cause."""
    kind = change.get("run_kind")
    if change["provider"] == history.SHARED_LINK:
        return team_link_text(change, elsewhere=kind == runs.ORG_SWITCH)
    provider = registry.display_name(change["provider"])
    changed = change.get("changed") or {}
    subject = f"{provider} link {_quoted(change.get('name'))}"
    action = change["action"]
    if action == history.CREATED:
        return f"{subject} added to Close"
    if action == history.DELETED:
        where = "your previous Close organization" if kind == runs.ORG_SWITCH else "Close"
        return f"{subject} removed from {where}"
    rest = [
        _field_words(name, *changed[name])
        for name in history.FIELDS
        if name != "name" and name in changed
    ]
    if "name" in changed:
        old, new = changed["name"]
        text = f"{provider} link renamed from {_quoted(old)} to {_quoted(new)}"
        return ", ".join([text, *rest])
    if rest:
        return f"{subject}: {', '.join(rest)}"
    return f"{subject} written to Close again"


def _by(change: dict[str, Any]) -> str:
    kind, trigger = change["run_kind"], change["trigger"]
    if kind == runs.DISCONNECT:
        return f"because {registry.display_name(change['provider'])} was disconnected"
    if kind == runs.ORG_SWITCH:
        return "because you signed in with Close under another organization"
    if kind == runs.TEAM_LINK and trigger == runs.DISCONNECT:
        return "because a scheduling provider was disconnected"
    if kind == runs.TEAM_LINK and trigger == triggers.ADMIN:
        return "by an operator's change to the team links"
    return BY.get(trigger, "by schedsync")


def history_json(db: Session, account_id: int, limit: int = SHOWN) -> list[dict[str, Any]]:
    """The account's newest changes as the page shows them, newest first."""
    return [
        {
            "at": iso(change["at"]),
            "provider": change["provider"],
            "name": change["name"],
            "action": change["action"],
            "text": change_text(change),
            "by": _by(change),
        }
        for change in history.recent_changes(account_id, limit, db)
    ]
