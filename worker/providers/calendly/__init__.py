"""Calendly: event types become Close links; event_type.* webhooks keep them current."""

from __future__ import annotations

from worker.providers.calendly import identity, links, oauth
from worker.providers.calendly.client import CalendlyClient
from worker.providers.spec import ProviderSpec

NAME = "calendly"

SPEC = ProviderSpec(
    name=NAME,
    display_name="Calendly",
    item_noun="event type",
    oauth=oauth.dialect,
    client_class=CalendlyClient,
    api_url=lambda settings: settings.calendly_api_url,
    identity=identity.identity,
    fetch_selection=links.fetch_selection,
    has_link_webhooks=True,
    close_native_source="CALENDLY",
)
