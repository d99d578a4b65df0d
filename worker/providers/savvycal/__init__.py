"""SavvyCal: scheduling links become Close links; no link webhooks, so the resync keeps them
current. A personal access token works as well as OAuth."""

from __future__ import annotations

from worker.providers.savvycal import identity, links, oauth
from worker.providers.savvycal.client import SavvyCalClient
from worker.providers.spec import ProviderSpec

NAME = "savvycal"

SPEC = ProviderSpec(
    name=NAME,
    display_name="SavvyCal",
    item_noun="link",
    oauth=oauth.dialect,
    client_class=SavvyCalClient,
    api_url=lambda settings: settings.savvycal_api_url,
    identity=identity.identity,
    fetch_selection=links.fetch_selection,
    personal_tokens=True,
)
