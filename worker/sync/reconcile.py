"""The reconcile as a pure function: what Close should hold and what it holds in, actions out.

No HTTP and no database here; `worker.sync.runs` fetches the inputs and applies the plan. The rules
are CONTRACT §4: only our links are ever changed, a link is written only when a field differs
after normalizing, a provider that failed loses nothing, Close's own Calendly links win.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from worker.providers import registry
from worker.sync.links import DesiredLink, provider_of


@dataclass
class Desired:
    """The links an account should have, by source_id, and what must not be touched."""

    links: dict[str, DesiredLink] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    # Providers whose listing failed (or whose grant needs reconnecting): their links in Close
    # stay exactly as they are, neither updated from stale data nor deleted.
    held_providers: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Upsert:
    link: DesiredLink
    create: bool


@dataclass
class Plan:
    upserts: list[Upsert] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    unchanged: int = 0
    # Desired links Close already shows through its own integration: not pushed (the rep's page
    # says why).
    native: list[str] = field(default_factory=list)
    # Close's link as it is now, by source_id, for every update and delete: the "old" side of
    # each change the history records (worker/sync/history.py).
    before: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)

    @property
    def writes(self) -> int:
        return len(self.upserts) + len(self.deletes)


def normalize_url(url: str | None) -> str | None:
    """Scheme and host lower-cased, trailing slash dropped (CONTRACT §4 'Comparing')."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def comparable(values: dict[str, Any]) -> tuple:
    return (
        values.get("name"),
        normalize_url(values.get("url")),
        values.get("description") or None,
        values.get("duration_in_minutes"),
        values.get("source_type"),
    )


def is_ours(link: dict[str, Any], our_client_id: str | None, known_source_ids: set[str]) -> bool:
    if link.get("source") != "THIRD_PARTY" or not link.get("source_id"):
        return False
    by_client = our_client_id is not None and link.get("oauth_client_id") == our_client_id
    return by_client or link["source_id"] in known_source_ids


def plan(
    desired: Desired,
    close_links: list[dict[str, Any]],
    *,
    close_user_id: str,
    our_client_id: str | None,
    known_source_ids: set[str],
    complete: bool = True,
) -> Plan:
    """`complete=False`: `close_links` is only part of what Close holds (its listing could not be
    read to its end). What differs among them is still written, and a desired link not among
    them is upserted (an upsert by source_id is harmless if it exists), but nothing is deleted:
    what was not seen cannot be known to be unwanted."""
    mine = [link for link in close_links if link.get("user_id") == close_user_id]
    # Links Close holds from its own first-party integrations, by (source, normalized URL).
    native = {(link.get("source"), normalize_url(link.get("url"))) for link in mine}
    ours: dict[str, dict[str, Any]] = {}
    for link in mine:
        if is_ours(link, our_client_id, known_source_ids):
            ours.setdefault(link["source_id"], link)

    result = Plan()
    for sid, want in desired.links.items():
        if want.provider in desired.held_providers:
            continue
        have = ours.get(sid)
        native_source = registry.spec(want.provider).close_native_source
        if native_source and (native_source, normalize_url(want.url)) in native:
            # Close already shows this item through its own integration (Calendly's).
            result.native.append(sid)
            if have is not None and complete:
                result.deletes.append(sid)
                result.before[sid] = have
            else:
                result.unchanged += 1
            continue
        if have is None:
            result.upserts.append(Upsert(want, create=True))
        elif comparable(have) != comparable(want.payload()):
            result.upserts.append(Upsert(want, create=False))
            result.before[sid] = have
        else:
            result.unchanged += 1

    for sid in ours if complete else ():
        if sid in desired.links or sid in desired.skipped:
            continue
        provider = provider_of(sid)
        if provider in desired.held_providers:
            continue
        if not registry.is_scheduling(provider) and desired.held_providers:
            # Ours, but of no provider we can name: delete only when no provider failed.
            continue
        result.deletes.append(sid)
        result.before[sid] = ours[sid]
    return result


def plan_one(
    source_id: str,
    want: DesiredLink | None,
    close_links: list[dict[str, Any]],
    *,
    close_user_id: str,
    our_client_id: str | None,
    known_source_ids: set[str],
    skipped: bool = False,
) -> Plan:
    """The same rules for a single external link (a webhook's targeted task)."""
    desired = Desired()
    if want is not None:
        desired.links[source_id] = want
    if skipped:
        desired.skipped.add(source_id)
    native_source = registry.spec(provider_of(source_id) or "").close_native_source
    relevant = [
        link
        for link in close_links
        if link.get("source_id") == source_id
        or (native_source and link.get("source") == native_source)
    ]
    return plan(
        desired,
        relevant,
        close_user_id=close_user_id,
        our_client_id=our_client_id,
        known_source_ids=known_source_ids,
    )
