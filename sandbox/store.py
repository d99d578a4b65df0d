"""The sandbox's in-memory state: one `Store`, guarded by one lock, holding all three providers.

Records keep only what the provider would store; the JSON each API answers is built from them in
`resources.py`, so one record can be rendered with whatever base URL the request arrived on.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# Close links added by the seed or by hand may point at the sandbox itself (e.g. the CALENDLY link
# that mirrors a Calendly event type); the host is only known per request, so it is filled in then.
BASE_PLACEHOLDER = "{sandbox}"


@dataclass
class CloseOrg:
    id: str
    name: str


@dataclass
class CloseUser:
    id: str
    email: str
    first_name: str
    last_name: str
    organization_id: str
    created_at: float
    # Close's "Manage Customizations" permission: needed to create, change or delete a shared
    # link, and to map one for another user.
    manage_customizations: bool = False


@dataclass
class CloseSharedLink:
    """A `SHARED` scheduling link: one template tag, resolved per user through its mappings."""

    id: str
    organization_id: str
    name: str
    template_tag: str
    description: str | None = None
    # user id -> the user link id it resolves to for that user
    mappings: dict[str, str] = field(default_factory=dict)


@dataclass
class CloseLink:
    id: str
    user_id: str
    organization_id: str
    name: str
    url: str | None
    description: str | None = None
    source: str = "MANUAL"
    source_id: str | None = None
    source_type: str | None = None
    duration_in_minutes: int | None = None
    oauth_client_id: str | None = None


@dataclass
class CalendlyOrg:
    uuid: str
    name: str


@dataclass
class CalendlyUser:
    uuid: str
    name: str
    slug: str
    email: str
    organization_uuid: str
    plan: str = "standard"  # "free" users cannot create webhook subscriptions
    timezone: str = "America/New_York"
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class EventType:
    uuid: str
    name: str | None
    slug: str | None
    owner_slug: str  # first path segment of scheduling_url: the user's or the team's slug
    organization_uuid: str
    hosts: list[str]  # Calendly user uuids; one for personal types, several for team types
    profile_type: str = "User"  # "User" or "Team"
    profile_name: str = ""
    profile_owner_path: str = ""  # "users/<uuid>" or "organizations/<uuid>", below the API root
    active: bool = True
    duration: int = 30
    kind: str = "solo"
    pooling_type: str | None = None
    type: str = "StandardEventType"
    color: str = "#0069ff"
    description_plain: str | None = None
    internal_note: str | None = None
    secret: bool = False
    booking_method: str = "instant"
    admin_managed: bool = False
    position: int = 0
    custom_questions: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    deleted_at: float | None = None


@dataclass
class WebhookSubscription:
    uuid: str
    callback_url: str
    events: list[str]
    scope: str
    organization_uuid: str
    user_uuid: str | None
    creator_uuid: str
    signing_key: str | None
    created_at: float
    updated_at: float
    state: str = "active"
    retry_started_at: float | None = None


@dataclass
class SavvyUser:
    id: str
    email: str
    first_name: str
    last_name: str
    personal_token: str
    scope_id: str  # the user's personal scope
    plan: str = "premium"
    time_zone: str = "America/New_York"
    first_day_of_week: int = 0
    time_format: str = "12hr"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class SavvyScope:
    id: str
    name: str
    slug: str
    member_ids: list[str]
    team: bool = False


@dataclass
class SavvyLink:
    id: str
    seq: int  # creation order, what list cursors are built on
    owner_id: str
    scope_id: str | None  # None: a link with no scope, so it has no booking URL
    slug: str
    name: str
    state: str = "active"
    private_name: str | None = None
    description: str | None = None
    durations: list[int] = field(default_factory=lambda: [30])
    default_duration: int | None = 30
    fields: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AuthCode:
    code: str
    provider: str
    client_id: str
    user_id: str
    redirect_uri: str
    expires_at: float
    code_challenge: str | None = None
    used: bool = False


@dataclass
class AccessToken:
    token: str
    provider: str
    client_id: str
    user_id: str
    grant_id: str
    issued_at: float
    expires_at: float
    revoked: bool = False


@dataclass
class RefreshToken:
    token: str
    provider: str
    client_id: str
    user_id: str
    grant_id: str
    issued_at: float
    used: bool = False
    revoked: bool = False


class Store:
    """All provider data and OAuth grants. Callers hold `lock` while reading or changing it."""

    def __init__(self, clock: Callable[[], float] = time.time, rng_seed: int = 20261122) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.rng = random.Random(rng_seed)
        self.seq = 0
        self.close_orgs: dict[str, CloseOrg] = {}
        self.close_users: dict[str, CloseUser] = {}
        self.close_links: dict[str, CloseLink] = {}
        self.close_links_by_user: dict[str, dict[str, CloseLink]] = {}
        # (oauth client object id, source_id) -> link id: Close's upsert key for integrations.
        self.close_integration_index: dict[tuple[str, str], str] = {}
        self.close_shared_links: dict[str, CloseSharedLink] = {}
        self.calendly_orgs: dict[str, CalendlyOrg] = {}
        self.calendly_users: dict[str, CalendlyUser] = {}
        self.event_types: dict[str, EventType] = {}
        self.event_types_by_host: dict[str, list[str]] = {}
        self.webhook_subscriptions: dict[str, WebhookSubscription] = {}
        self.savvy_users: dict[str, SavvyUser] = {}
        self.savvy_scopes: dict[str, SavvyScope] = {}
        self.savvy_links: dict[str, SavvyLink] = {}
        self.savvy_links_by_owner: dict[str, dict[str, SavvyLink]] = {}
        self.savvy_links_by_scope: dict[str, dict[str, SavvyLink]] = {}
        self.savvy_pats: dict[str, str] = {}
        self.codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}

    def now(self) -> float:
        return self.clock()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # Close -----------------------------------------------------------------------------------

    def add_close_link(self, link: CloseLink) -> CloseLink:
        self.close_links[link.id] = link
        self.close_links_by_user.setdefault(link.user_id, {})[link.id] = link
        if link.source == "THIRD_PARTY" and link.oauth_client_id and link.source_id:
            self.close_integration_index[(link.oauth_client_id, link.source_id)] = link.id
        return link

    def remove_close_link(self, link_id: str) -> CloseLink | None:
        link = self.close_links.pop(link_id, None)
        if link is None:
            return None
        self.close_links_by_user.get(link.user_id, {}).pop(link_id, None)
        key = (link.oauth_client_id or "", link.source_id or "")
        if self.close_integration_index.get(key) == link_id:
            del self.close_integration_index[key]
        # Mappings to it are kept: Close documents no cascade, so the sandbox assumes none and an
        # integration must unmap (or re-map) explicitly.
        return link

    def move_close_link(self, link: CloseLink, user: CloseUser) -> None:
        self.close_links_by_user.get(link.user_id, {}).pop(link.id, None)
        link.user_id, link.organization_id = user.id, user.organization_id
        self.close_links_by_user.setdefault(user.id, {})[link.id] = link

    def close_user_by_ref(self, ref: str) -> CloseUser | None:
        return self.close_users.get(ref) or _by_email(self.close_users.values(), ref)

    # Calendly --------------------------------------------------------------------------------

    def add_event_type(self, event_type: EventType) -> EventType:
        self.event_types[event_type.uuid] = event_type
        for host in event_type.hosts:
            self.event_types_by_host.setdefault(host, []).append(event_type.uuid)
        return event_type

    def set_hosts(self, event_type: EventType, hosts: list[str]) -> None:
        for host in event_type.hosts:
            self.event_types_by_host.get(host, []).remove(event_type.uuid)
        event_type.hosts = list(hosts)
        for host in hosts:
            self.event_types_by_host.setdefault(host, []).append(event_type.uuid)

    def calendly_user_by_ref(self, ref: str) -> CalendlyUser | None:
        """A Calendly user by uuid, URI (any host) or email."""
        uuid = ref.rstrip("/").rsplit("/", 1)[-1]
        return self.calendly_users.get(uuid) or _by_email(self.calendly_users.values(), ref)

    # SavvyCal --------------------------------------------------------------------------------

    def savvy_user_by_ref(self, ref: str) -> SavvyUser | None:
        return self.savvy_users.get(ref) or _by_email(self.savvy_users.values(), ref)

    def add_savvy_link(self, link: SavvyLink) -> SavvyLink:
        self.savvy_links[link.id] = link
        self.savvy_links_by_owner.setdefault(link.owner_id, {})[link.id] = link
        if link.scope_id:
            self.savvy_links_by_scope.setdefault(link.scope_id, {})[link.id] = link
        return link

    def remove_savvy_link(self, link_id: str) -> SavvyLink | None:
        link = self.savvy_links.pop(link_id, None)
        if link is not None:
            self.savvy_links_by_owner.get(link.owner_id, {}).pop(link_id, None)
            self.savvy_links_by_scope.get(link.scope_id or "", {}).pop(link_id, None)
        return link

    def savvy_links_visible_to(self, user: SavvyUser) -> list[SavvyLink]:
        """Personal links (with or without a scope) and the links of every team the user is in."""
        visible = dict(self.savvy_links_by_owner.get(user.id, {}))
        for scope in self.savvy_scopes.values():
            if scope.team and user.id in scope.member_ids:
                visible.update(self.savvy_links_by_scope.get(scope.id, {}))
        return sorted(visible.values(), key=lambda link: link.seq)


def _by_email(records: Iterable[Any], email: str) -> Any:
    wanted = email.strip().lower()
    return next((r for r in records if r.email.lower() == wanted), None)
