"""Durable state: accounts, provider connections, webhook subscriptions, link mappings, sync runs.

The Close grant of an account is stored as a `Connection` with provider "close", so one refresh
path serves all three providers; the public account shape lists Calendly and SavvyCal only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from worker import runtime

ACTIVE = "active"
NEEDS_REAUTH = "needs_reauth"
DISCONNECTED = "disconnected"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stored naive-UTC (SQLite keeps no zone), always handed back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class Encrypted(TypeDecorator):
    """Plaintext in Python, Fernet ciphertext in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else runtime.secret_box().encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else runtime.secret_box().decrypt(value)


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    close_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    # The oauth_client_id Close reports on our own upserts: it marks links as ours (CONTRACT §4).
    close_oauth_client_id: Mapped[str | None] = mapped_column(String(128))
    # Triggers: every request for a full sync bumps requested_seq; a run takes up everything up to
    # the value it read. requested_seq > taken_seq means a trigger is waiting (CONTRACT §5).
    sync_requested_seq: Mapped[int] = mapped_column(Integer, default=0)
    sync_taken_seq: Mapped[int] = mapped_column(Integer, default=0)
    sync_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What asked for the newest recorded trigger (connect, sync_now, admin, webhook, schedule,
    # retry): the run that takes it up says so in its history (CONTRACT §3 `run.trigger`).
    sync_requested_trigger: Mapped[str | None] = mapped_column(String(16))
    next_full_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    sync_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    connections: Mapped[list[Connection]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="Connection.provider"
    )

    def connection(self, provider: str) -> Connection | None:
        return next((c for c in self.connections if c.provider == provider), None)

    @property
    def state(self) -> str:
        close = self.connection("close")
        return close.state if close else DISCONNECTED


class Connection(Base):
    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("account_id", "provider"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(16))
    auth_kind: Mapped[str] = mapped_column(String(16), default="oauth")  # or "personal_token"
    external_user_id: Mapped[str | None] = mapped_column(String(255))
    external_org_id: Mapped[str | None] = mapped_column(String(255))
    external_email: Mapped[str | None] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    state_reason: Mapped[str | None] = mapped_column(Text)
    access_token: Mapped[str | None] = mapped_column(Encrypted)
    refresh_token: Mapped[str | None] = mapped_column(Encrypted)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Incremented on every stored token pair: the compare-and-swap key of a refresh. Fernet
    # ciphertexts differ on each encryption, so the old refresh token is named by its generation.
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    webhook_state: Mapped[str] = mapped_column(String(16), default="none")
    # Why Calendly refused a subscription while webhook_state is polling_only, as
    # worker/calendly/refusals.py stores it ("missing_scope webhooks:write", "plan", ...).
    webhook_reason: Mapped[str | None] = mapped_column(String(255))
    # Bumped on every connect (OAuth callback or personal token): a clean-up of an earlier
    # disconnect checks it and never touches a grant made after it.
    connect_count: Mapped[int] = mapped_column(Integer, default=1)
    # A disconnect's clean-up is recorded here before it is enqueued (CONTRACT §5 "Durable
    # clean-up"): set while one is pending (the next attempt is due then), None once it is done.
    # worker/auth/cleanups.py retries it through the sweep with a capped backoff.
    cleanup_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    cleanup_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    account: Mapped[Account] = relationship(back_populates="connections")


class RetiredGrant(Base):
    """A Close grant replaced by a sign-in under another organization (issue 9.13), kept until
    its clean-up is done: our links in that organization deleted and the grant revoked
    (worker/auth/retired_grants.py). The row is deleted when it is."""

    __tablename__ = "retired_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    close_user_id: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str | None] = mapped_column(String(64))
    close_oauth_client_id: Mapped[str | None] = mapped_column(String(128))
    access_token: Mapped[str | None] = mapped_column(Encrypted)
    refresh_token: Mapped[str | None] = mapped_column(Encrypted)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    # What the link mappings and team-link mappings knew of that organization at the switch:
    # JSON lists of source ids and of shared link ids to unmap the rep from.
    source_ids_json: Mapped[str] = mapped_column(Text, default="[]")
    shared_link_ids_json: Mapped[str] = mapped_column(Text, default="[]")
    # False once the rep signed in under that organization again: its links are wanted there
    # again, so the clean-up only revokes the grant.
    delete_links: Mapped[bool] = mapped_column(Boolean, default=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    hook_id: Mapped[str] = mapped_column(String(64), unique=True)
    calendly_uri: Mapped[str | None] = mapped_column(String(512))
    signing_key: Mapped[str] = mapped_column(Encrypted)
    # pending (being created) | active | disabled | retired (being deleted at Calendly)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    connection: Mapped[Connection] = relationship()


class LinkMapping(Base):
    """A link we pushed to Close: source_id names (Close user, provider, external link)."""

    __tablename__ = "link_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(512), unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    close_link_id: Mapped[str | None] = mapped_column(String(64))
    # The source's own slug (Calendly event type `slug`, SavvyCal link `slug`): what a team
    # link's rule matches on (CONTRACT §6).
    slug: Mapped[str | None] = mapped_column(String(255))
    # As pushed: the rep's page shows it beside the name.
    duration_in_minutes: Mapped[int | None] = mapped_column(Integer)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncRun(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    # full | event_type (a webhook's targeted run); `last_sync` shows the newest full one.
    kind: Mapped[str] = mapped_column(String(16), default="full")
    # connect | schedule | webhook | sync_now | admin | retry (CONTRACT §3 `run.trigger`)
    trigger: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    warnings_json: Mapped[str] = mapped_column(Text, default="[]")
    # What the providers listed that is not in Close, and why ({"provider", "source_id", "name",
    # "reason"}): the rep's "why isn't my link here?". Full runs only.
    not_synced_json: Mapped[str] = mapped_column(Text, default="[]")

    @property
    def warnings(self) -> list[str]:
        return json.loads(self.warnings_json or "[]")

    @warnings.setter
    def warnings(self, value: list[str]) -> None:
        self.warnings_json = json.dumps(value)

    @property
    def not_synced(self) -> list[dict]:
        return json.loads(self.not_synced_json or "[]")

    @not_synced.setter
    def not_synced(self, value: list[dict]) -> None:
        self.not_synced_json = json.dumps(value)


class LinkChange(Base):
    """One write schedsync made to Close, as a change of the run that made it (CONTRACT §3
    history): "what happened to my link, and why" always has an answer."""

    __tablename__ = "link_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(512))
    name: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))  # created | updated | deleted
    # {"<field>": [old, new]} as JSON
    changed_json: Mapped[str] = mapped_column(Text, default="{}")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def changed(self) -> dict[str, list[Any]]:
        return json.loads(self.changed_json or "{}")


class TeamLink(Base):
    """A Close shared scheduling link that schedsync created and keeps mapped (CONTRACT §6)."""

    __tablename__ = "team_links"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    calendly_slug: Mapped[str | None] = mapped_column(String(255))
    savvycal_slug: Mapped[str | None] = mapped_column(String(255))
    close_shared_link_id: Mapped[str | None] = mapped_column(String(64))
    template_tag: Mapped[str | None] = mapped_column(String(255))
    # creating (row reserved, Close not yet answered) | active | error (e.g. the shared link
    # was deleted in Close by hand) | deleting (unmapping everyone, then deleting it)
    state: Mapped[str] = mapped_column(String(16), default="creating")
    error: Mapped[str | None] = mapped_column(Text)
    # Whose grant created the shared link: tried first when an admin's grant is needed again.
    created_by_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamLinkMapping(Base):
    """What schedsync last mapped a team link to for one rep: Close has no way to read it back."""

    __tablename__ = "team_link_mappings"
    __table_args__ = (UniqueConstraint("team_link_id", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_link_id: Mapped[int] = mapped_column(
        ForeignKey("team_links.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    # mapped | unmatched | error; no row yet = pending
    state: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(16))
    source_id: Mapped[str | None] = mapped_column(String(512))
    # The Close user link the shared link resolves to for this rep; None = unmapped in Close.
    close_link_id: Mapped[str | None] = mapped_column(String(64))
    # That link's name, for the history of the next change (the link may be gone by then).
    link_name: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
