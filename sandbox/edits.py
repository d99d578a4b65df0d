"""Changes a person makes in a provider's own UI, driven here by the control API and the page.

Calendly event-type changes fire the `event_type.*` webhooks; SavvyCal has no link webhooks and
Close's links are only read by schedsync, so those edits just change the data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .ids import calendly_uuid, close_id, prefixed_ulid
from .store import CalendlyUser, CloseLink, CloseUser, EventType, SavvyLink, SavvyUser, Store

# Called as notify(event_name, event_type, affected host uuids) once an event type has changed.
Notify = Callable[[str, EventType, set[str]], None]


class EditError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


_OPTIONAL_STR = (str, type(None))
EVENT_TYPE_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "slug": (str,),
    "active": (bool,),
    "duration": (int,),
    "kind": (str,),
    "pooling_type": _OPTIONAL_STR,
    "type": (str,),
    "color": (str,),
    "description": _OPTIONAL_STR,
    "description_plain": _OPTIONAL_STR,
    "internal_note": _OPTIONAL_STR,
    "secret": (bool,),
    "booking_method": (str,),
    "admin_managed": (bool,),
    "position": (int,),
    "custom_questions": (list,),
}
_CHOICES = {
    "kind": {"solo", "group"},
    "pooling_type": {"round_robin", "collective", "multi_pool", None},
    "type": {"StandardEventType", "AdhocEventType"},
    "booking_method": {"instant", "poll"},
    "state": {"active", "disabled"},
    "source": {"MANUAL", "CALENDLY", "THIRD_PARTY"},
}


def checked_fields(data: Mapping[str, Any], spec: Mapping[str, tuple[type, ...]]) -> dict[str, Any]:
    """The known fields of `data`, type-checked; unknown keys are ignored."""
    out: dict[str, Any] = {}
    for name, types in spec.items():
        if name not in data:
            continue
        value = data[name]
        # bool is an int in Python; a duration of `true` is still a mistake.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise EditError(f"{name} has the wrong type")
        if name in _CHOICES and value not in _CHOICES[name]:
            raise EditError(f"{name} must be one of {sorted(map(str, _CHOICES[name]))}")
        out[name] = value
    return out


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "link"


# Calendly ------------------------------------------------------------------------------------


def build_event_type(
    store: Store, hosts: list[CalendlyUser], data: Mapping[str, Any], at: float | None = None
) -> EventType:
    """A new event type record, not yet stored; several hosts or a pooling type make it a team's."""
    if not hosts:
        raise EditError("an event type needs at least one host (user or users)")
    fields = checked_fields(data, EVENT_TYPE_FIELDS)
    name = fields.pop("name", None)
    if not name:
        raise EditError("name is required")
    description = fields.pop("description", fields.pop("description_plain", None))
    org = store.calendly_orgs[hosts[0].organization_uuid]
    now = store.now() if at is None else at
    team = len(hosts) > 1 or fields.get("pooling_type") is not None
    if team and fields.get("pooling_type") is None:
        fields["pooling_type"] = "round_robin"
    event_type = EventType(
        uuid=calendly_uuid(store.rng),
        name=name,
        slug=fields.pop("slug", None) or slugify(name),
        owner_slug=slugify(org.name) if team else hosts[0].slug,
        organization_uuid=org.uuid,
        hosts=[h.uuid for h in hosts],
        profile_type="Team" if team else "User",
        profile_name=f"{org.name} Team" if team else hosts[0].name,
        profile_owner_path=f"organizations/{org.uuid}" if team else f"users/{hosts[0].uuid}",
        description_plain=description,
        created_at=now,
        updated_at=now,
        **fields,
    )
    return event_type


def create_event_type(
    store: Store, hosts: list[CalendlyUser], data: Mapping[str, Any], notify: Notify
) -> EventType:
    with store.lock:
        event_type = store.add_event_type(build_event_type(store, hosts, data))
    notify("event_type.created", event_type, set(event_type.hosts))
    return event_type


def update_event_type(
    store: Store, event_type: EventType, data: Mapping[str, Any], notify: Notify
) -> EventType:
    fields = checked_fields(data, EVENT_TYPE_FIELDS)
    with store.lock:
        if event_type.deleted_at is not None:
            raise EditError("this event type was deleted", status=409)
        affected = set(event_type.hosts)
        new_hosts = hosts_from(store, data) if ("users" in data or "user" in data) else None
        if "description" in fields:
            fields["description_plain"] = fields.pop("description")
        if fields.get("name") == "":
            raise EditError("name cannot be empty")
        for name, value in fields.items():
            setattr(event_type, name, value)
        if new_hosts is not None:
            store.set_hosts(event_type, [h.uuid for h in new_hosts])
            affected |= set(event_type.hosts)
        event_type.updated_at = store.now()
    notify("event_type.updated", event_type, affected)
    return event_type


def delete_event_type(store: Store, event_type: EventType, notify: Notify) -> EventType:
    """A soft delete: Calendly keeps the record (with `deleted_at`) for past bookings."""
    with store.lock:
        if event_type.deleted_at is not None:
            raise EditError("this event type was already deleted", status=409)
        event_type.deleted_at = event_type.updated_at = store.now()
    notify("event_type.deleted", event_type, set(event_type.hosts))
    return event_type


def hosts_from(store: Store, data: Mapping[str, Any]) -> list[CalendlyUser]:
    """The Calendly users named by `user` (one) or `users` (several): uuid, URI or email."""
    refs = data.get("users") if "users" in data else [data.get("user")]
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise EditError("user must be a string, users a list of strings")
    hosts = []
    for ref in refs:
        host = store.calendly_user_by_ref(ref)
        if host is None:
            raise EditError(f"unknown Calendly user {ref!r}", status=404)
        hosts.append(host)
    return hosts


# SavvyCal ------------------------------------------------------------------------------------

SAVVY_LINK_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "slug": (str,),
    "state": (str,),
    "private_name": _OPTIONAL_STR,
    "description": _OPTIONAL_STR,
    "durations": (list,),
    "default_duration": (int, type(None)),
    "fields": (list,),
}


def create_savvy_link(
    store: Store, owner: SavvyUser, data: Mapping[str, Any], at: float | None = None
) -> SavvyLink:
    """`scope` in `data`: omitted or "personal" = the owner's scope, a team slug, or null."""
    fields = checked_fields(data, SAVVY_LINK_FIELDS)
    if not fields.get("name"):
        raise EditError("name is required")
    with store.lock:
        scope_id = _scope_for(store, owner, data.get("scope", "personal"))
        durations = fields.pop("durations", None) or [fields.get("default_duration") or 30]
        if not all(isinstance(d, int) and not isinstance(d, bool) for d in durations):
            raise EditError("durations must be integers")
        now = store.now() if at is None else at
        link = SavvyLink(
            id=prefixed_ulid(store.rng, "link", now),
            seq=store.next_seq(),
            owner_id=owner.id,
            scope_id=scope_id,
            slug=fields.pop("slug", None) or slugify(fields["name"]),
            name=fields.pop("name"),
            durations=durations,
            default_duration=fields.pop("default_duration", durations[0]),
            **fields,
        )
        return store.add_savvy_link(link)


def update_savvy_link(store: Store, link: SavvyLink, data: Mapping[str, Any]) -> SavvyLink:
    fields = checked_fields(data, SAVVY_LINK_FIELDS)
    if fields.get("name") == "":
        raise EditError("name cannot be empty")
    with store.lock:
        if "scope" in data:
            owner = store.savvy_users[link.owner_id]
            store.remove_savvy_link(link.id)
            link.scope_id = _scope_for(store, owner, data["scope"])
            store.add_savvy_link(link)
        for name, value in fields.items():
            setattr(link, name, value)
    return link


def _scope_for(store: Store, owner: SavvyUser, ref: Any) -> str | None:
    if ref is None:
        return None
    if ref == "personal":
        return owner.scope_id
    scope = next((s for s in store.savvy_scopes.values() if ref in (s.id, s.slug)), None)
    if scope is None:
        raise EditError(f"unknown SavvyCal scope {ref!r}", status=404)
    return scope.id


# Close ---------------------------------------------------------------------------------------

CLOSE_LINK_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "url": _OPTIONAL_STR,
    "description": _OPTIONAL_STR,
    "source": (str,),
    "source_id": _OPTIONAL_STR,
    "source_type": _OPTIONAL_STR,
    "duration_in_minutes": (int, type(None)),
    "oauth_client_id": _OPTIONAL_STR,
}


def add_close_link(store: Store, user: CloseUser, data: Mapping[str, Any]) -> CloseLink:
    """A link made in Close's UI (MANUAL), by Close's Calendly integration, or by another app."""
    fields = checked_fields(data, CLOSE_LINK_FIELDS)
    if not fields.get("name"):
        raise EditError("name is required")
    if fields.get("source") == "THIRD_PARTY":
        fields.setdefault("oauth_client_id", "oa2client_otherapp")
    with store.lock:
        link = CloseLink(
            id=close_id(store.rng, "schlnk"),
            user_id=user.id,
            organization_id=user.organization_id,
            **{"url": None, **fields},
        )
        return store.add_close_link(link)


def update_close_link(store: Store, link: CloseLink, data: Mapping[str, Any]) -> CloseLink:
    """A hand edit in Close, e.g. to check that schedsync repairs drift on its own links."""
    fields = checked_fields(data, CLOSE_LINK_FIELDS)
    with store.lock:
        key = (link.oauth_client_id or "", link.source_id or "")
        if store.close_integration_index.get(key) == link.id:
            del store.close_integration_index[key]
        for name, value in fields.items():
            setattr(link, name, value)
        store.add_close_link(link)  # re-indexes it; the user's list keeps its order
    return link
