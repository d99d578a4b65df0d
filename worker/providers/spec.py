"""What schedsync needs to know of a provider, in one place per provider.

Each provider package (worker/providers/<name>/) builds one `ProviderSpec` and
worker/providers/registry.py lists them; everything else asks the spec and never compares
provider names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from worker.config import Settings
from worker.providers.http import HttpClient
from worker.providers.oauth import OAuthProvider


@dataclass(frozen=True)
class Identity:
    """Who granted access: the provider's user id (a URI for Calendly), organization, email."""

    user_id: str
    organization_id: str | None = None
    email: str | None = None


# (client, Close user id, the provider's own user id) -> the provider's Selection of links.
FetchSelection = Callable[[Any, str, str | None], Any]


@dataclass(frozen=True)
class ProviderSpec:
    name: str  # as stored in Connection.provider and in a link's source_id
    display_name: str
    item_noun: str  # what one of its items is called: "event type", "link"
    # Its OAuth dialect, built from the settings.
    oauth: Callable[[Settings], OAuthProvider]
    client_class: type[HttpClient]
    api_url: Callable[[Settings], str]
    # Who a fresh access token belongs to: (the token, the token answer's other fields) ->
    # Identity. Called by the web process while the browser waits (CONTRACT §1).
    identity: Callable[[str, dict[str, Any]], Identity]
    # Reads the user's items and maps them to desired Close links. None for Close itself, which
    # is where links go, not where they come from.
    fetch_selection: FetchSelection | None = None
    # Capabilities.
    has_link_webhooks: bool = False  # Calendly: event_type.* webhooks keep Close current
    personal_tokens: bool = False  # SavvyCal: a pasted personal access token works
    # Close's own first-party integration for this provider: links Close holds with this
    # `source` and the same URL are not pushed again (CONTRACT §4).
    close_native_source: str | None = None

    def configured(self, settings: Settings) -> bool:
        return settings.provider_configured(self.name)


REQUIRED = ("name", "display_name", "item_noun", "oauth", "client_class", "api_url", "identity")


def missing_parts(spec: ProviderSpec, *, scheduling: bool) -> list[str]:
    """The parts a spec leaves empty that schedsync needs of it (a scheduling provider needs a
    way to read its items too)."""
    wanted = REQUIRED + (("fetch_selection",) if scheduling else ())
    values = {f.name: getattr(spec, f.name) for f in fields(spec)}
    return [name for name in wanted if not values.get(name)]
