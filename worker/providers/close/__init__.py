"""Close: where the links go. Reps sign in with it; its grant writes their links."""

from __future__ import annotations

from worker.providers.close import identity, oauth
from worker.providers.close.client import CloseClient
from worker.providers.spec import ProviderSpec

NAME = "close"

SPEC = ProviderSpec(
    name=NAME,
    display_name="Close",
    item_noun="scheduling link",
    oauth=oauth.dialect,
    client_class=CloseClient,
    api_url=lambda settings: settings.close_api_url,
    identity=identity.identity,
)
