"""Team links: which of a rep's own links a Close shared link should resolve to (CONTRACT §6).

A pure function beside the link reconcile: the team links' slug rules, the rep's synced links and
what schedsync last mapped in, the mappings to send out. No HTTP and no database here;
`worker.sync.rep_mappings` fetches the inputs and applies the changes.

The rule: the rep's Calendly event type with `calendly_slug` first, else their SavvyCal link with
`savvycal_slug`, else nothing. Close documents no way to read a mapping back, so a mapping is sent
only when the wanted Close link differs from the one last mapped (a link re-created under a new
id differs too). A provider that could not be read decides nothing: where the answer depends on
it, the mapping stays exactly as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from worker.providers import registry
from worker.providers.calendly import NAME as CALENDLY
from worker.providers.savvycal import NAME as SAVVYCAL

MAPPED = "mapped"
UNMATCHED = "unmatched"
PENDING = "pending"
ERROR = "error"


@dataclass(frozen=True)
class Rule:
    """A team link's slug rule."""

    team_link_id: int
    calendly_slug: str | None
    savvycal_slug: str | None

    def preferences(self) -> list[tuple[str, str]]:
        """(provider, slug) in the order the rule tries them."""
        pairs = [(CALENDLY, self.calendly_slug), (SAVVYCAL, self.savvycal_slug)]
        return [(provider, slug) for provider, slug in pairs if slug]


@dataclass(frozen=True)
class SyncedLink:
    """One of the rep's links as schedsync synced it into Close: a possible mapping target."""

    provider: str
    source_id: str
    slug: str | None
    close_link_id: str
    name: str | None = None


@dataclass(frozen=True)
class LastMapped:
    """What schedsync last told Close for (team link, rep). `close_link_id` None = unmapped."""

    close_link_id: str | None
    state: str


@dataclass(frozen=True)
class Resolution:
    target: SyncedLink | None
    reason: str | None = None  # why there is no target
    held: bool = False  # a provider the answer depends on could not be read


@dataclass(frozen=True)
class MappingChange:
    """`map` to `target`, `unmap`, or `record` (nothing to tell Close: never mapped, still no
    match; only the `unmatched` state is written down)."""

    team_link_id: int
    action: str
    target: SyncedLink | None
    reason: str | None = None


def no_match_reason(rule: Rule) -> str:
    """ "no Calendly event type or SavvyCal link with the slug intro-call" and its variants."""
    prefs = rule.preferences()
    if len(prefs) == 2 and prefs[0][1] == prefs[1][1]:
        return f"no Calendly event type or SavvyCal link with the slug {prefs[0][1]}"
    parts = [
        f"{registry.spec(provider).display_name} {registry.spec(provider).item_noun} "
        f"with the slug {slug}"
        for provider, slug in prefs
    ]
    return "no " + " or ".join(parts)


def resolve(rule: Rule, links: Iterable[SyncedLink], held_providers: set[str]) -> Resolution:
    """The rep's link the rule picks, or why none."""
    links = sorted(links, key=lambda link: link.source_id)  # one answer, whatever the order
    for provider, slug in rule.preferences():
        if provider in held_providers:
            return Resolution(None, f"{provider} could not be read", held=True)
        match = next((k for k in links if k.provider == provider and k.slug == slug), None)
        if match is not None:
            return Resolution(match)
    return Resolution(None, no_match_reason(rule))


def plan_mappings(
    rules: Iterable[Rule],
    links: Iterable[SyncedLink],
    last: Mapping[int, LastMapped],
    held_providers: set[str] | None = None,
) -> list[MappingChange]:
    """The mappings to send so that every team link resolves, for this rep, by its rule.

    `links` holds only links of providers the rep still has connected; `last` is keyed by team
    link id; a team link with no entry was never mapped for this rep.
    """
    links = list(links)
    held = held_providers or set()
    changes: list[MappingChange] = []
    for rule in rules:
        resolution = resolve(rule, links, held)
        if resolution.held:
            continue
        before = last.get(rule.team_link_id)
        wanted = resolution.target.close_link_id if resolution.target else None
        if before is not None and before.state != ERROR and before.close_link_id == wanted:
            continue  # Close already resolves it so
        if wanted is not None:
            changes.append(MappingChange(rule.team_link_id, "map", resolution.target))
        elif before is not None and (before.close_link_id or before.state == ERROR):
            changes.append(MappingChange(rule.team_link_id, "unmap", None, resolution.reason))
        else:
            changes.append(MappingChange(rule.team_link_id, "record", None, resolution.reason))
    return changes
