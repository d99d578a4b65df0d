"""A link as Close should hold it, and what one provider's listing asks of Close (CONTRACT §4).

How each provider's items become these is in its own package: worker/providers/<name>/links.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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


# Why an item that exists at a provider is not a link in Close, in the words the rep's page uses
# ("Why isn't my link here?"). The codes are stored with each full run.
NOT_SYNCED_REASONS = {
    "inactive": "turned off (inactive) in {provider}",
    "deleted": "deleted in {provider}",
    "ad_hoc": "a one-off (ad-hoc) meeting, not a scheduling link",
    "disabled": "disabled in {provider}",
    "no_name": "it has no name",
    "no_url": "it has no booking URL",
    "no_scope": "it has no booking URL (no scope or slug in SavvyCal)",
    "close_native": "Close already shows it through Close's own {provider} integration",
}


@dataclass(frozen=True)
class NotSynced:
    """An item the provider lists that is not (and should not be) a link in Close, and why."""

    provider: str
    source_id: str
    name: str | None
    reason: str  # a key of NOT_SYNCED_REASONS

    def as_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "source_id": self.source_id,
            "name": self.name,
            "reason": self.reason,
        }


def reason_text(reason: str, provider_display_name: str) -> str:
    template = NOT_SYNCED_REASONS.get(reason, reason)
    return template.format(provider=provider_display_name)


@dataclass
class Selection:
    """What one provider's listing asks of Close."""

    links: dict[str, DesiredLink] = field(default_factory=dict)
    # source_ids of items that exist but cannot become links (no name or URL): a link already
    # in Close for them is left as it is.
    skipped: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    # Everything listed that is not wanted in Close, with the reason (shown to the rep).
    not_synced: list[NotSynced] = field(default_factory=list)


def source_id(provider: str, external_id: str, close_user_id: str) -> str:
    return f"{provider}:{external_id}:{close_user_id}"


def provider_of(source_id_value: str | None) -> str | None:
    if not source_id_value or ":" not in source_id_value:
        return None
    return source_id_value.split(":", 1)[0]


def blank_to_none(value: str | None) -> str | None:
    return value if value else None
