"""Every provider schedsync talks to, registered once.

Adding a scheduling provider is one package under worker/providers/<name>/ that builds a
`ProviderSpec` (worker/providers/spec.py), plus its line in `SCHEDULING` below; everything else
asks the spec. tests/unit/test_registry.py names whatever a registered provider is missing.
"""

from __future__ import annotations

from worker.config import Settings
from worker.providers import calendly, close, savvycal
from worker.providers.oauth import OAuthProvider
from worker.providers.spec import ProviderSpec

CLOSE: ProviderSpec = close.SPEC
# The providers whose items become Close links, in the order pages and tables show them.
SCHEDULING: tuple[ProviderSpec, ...] = (calendly.SPEC, savvycal.SPEC)

_BY_NAME = {spec.name: spec for spec in (CLOSE, *SCHEDULING)}


def spec(name: str) -> ProviderSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}") from None


def scheduling_names() -> tuple[str, ...]:
    return tuple(s.name for s in SCHEDULING)


def is_scheduling(name: str | None) -> bool:
    return name in scheduling_names()


def display_name(name: str | None) -> str:
    known = _BY_NAME.get(name or "")
    return known.display_name if known else (name or "The provider")


def oauth_provider(settings: Settings, name: str) -> OAuthProvider:
    return spec(name).oauth(settings)
