"""Starting data: the small "demo" world a newcomer clicks through, and `scale` for benchmarks.

The demo is built from a fixed random seed and fixed times, so its ids are the same after every
reset and the README and tests can rely on them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .edits import add_close_link, build_event_type, create_savvy_link
from .ids import calendly_uuid, close_id, prefixed_ulid
from .store import (
    BASE_PLACEHOLDER,
    CalendlyOrg,
    CalendlyUser,
    CloseOrg,
    CloseUser,
    SavvyScope,
    SavvyUser,
    Store,
)

DEMO_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z

# (first, last, calendly plan or None, savvycal plan or None)
DEMO_PEOPLE = [
    ("Alice", "Anders", "standard", "premium"),
    ("Bob", "Brown", "free", "basic"),  # free Calendly plan: webhook subscriptions answer 403
    ("Carol", "Chen", "teams", None),  # no SavvyCal account
]

# Per person: (name, fields). Variety on purpose: inactive, secret, ad hoc, empty description,
# a group event; the team types shared between two people come after.
DEMO_EVENT_TYPES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "alice": [
        ("30 Minute Meeting", {"slug": "30min", "description": "A quick intro call."}),
        ("Discovery Call", {"duration": 45, "description": ""}),
        ("Partner Sync", {"duration": 60, "secret": True, "description": "Partners only."}),
        ("Old Demo", {"active": False, "description": "Retired demo slot."}),
        ("Meeting with Dana", {"type": "AdhocEventType", "duration": 20}),
    ],
    "bob": [
        ("Quick Chat", {"duration": 15, "description": "Fifteen minutes, no agenda."}),
        ("Product Demo", {"duration": 60, "kind": "group", "description": "Up to 10 guests."}),
        ("Weekly Office Hours", {"active": False}),
    ],
    "carol": [
        ("Intro Call", {"description": "Let's meet!"}),
        ("Deep Dive", {"duration": 90, "secret": True}),
        ("Board Prep", {"duration": 120, "description": "Quarterly board prep."}),
        ("Cancelled Series", {"description": "Soft-deleted: not listed."}),
    ],
}


def seed_demo(store: Store) -> None:
    at = DEMO_EPOCH
    close_org = CloseOrg(id=close_id(store.rng, "orga", 43), name="Acme Sandbox Inc.")
    store.close_orgs[close_org.id] = close_org
    cal_org = CalendlyOrg(uuid=calendly_uuid(store.rng), name="Acme Sandbox")
    store.calendly_orgs[cal_org.uuid] = cal_org
    team = SavvyScope(
        id=prefixed_ulid(store.rng, "scope", at),
        name="Acme Sales",
        slug="acme-sales",
        member_ids=[],
        team=True,
    )
    store.savvy_scopes[team.id] = team
    people: dict[str, tuple[CloseUser, CalendlyUser, SavvyUser | None]] = {}
    for first, last, cal_plan, savvy_plan in DEMO_PEOPLE:
        slug = first.lower()
        email = f"{slug}@example.com"
        close_user = _close_user(store, close_org, first, last, email, at)
        cal_user = _calendly_user(store, cal_org, f"{first} {last}", slug, email, at, cal_plan)
        savvy_user = None
        if savvy_plan:
            savvy_user = _savvy_user(store, first, last, email, slug, at, savvy_plan)
            if slug in ("alice", "bob"):
                team.member_ids.append(savvy_user.id)
        people[slug] = (close_user, cal_user, savvy_user)

    for slug, types in DEMO_EVENT_TYPES.items():
        host = people[slug][1]
        for position, (name, fields) in enumerate(types):
            et = build_event_type(store, [host], {"name": name, "position": position, **fields}, at)
            store.add_event_type(et)
    shared = [
        ("Sales Round Robin", ["alice", "bob"], {"pooling_type": "round_robin"}),
        ("Panel Interview", ["alice", "carol"], {"pooling_type": "collective", "duration": 60}),
    ]
    for name, slugs, fields in shared:
        hosts = [people[s][1] for s in slugs]
        fields = {"name": name, "description": f"Shared by {' and '.join(slugs)}.", **fields}
        store.add_event_type(build_event_type(store, hosts, fields, at))
    cancelled = next(e for e in store.event_types.values() if e.name == "Cancelled Series")
    cancelled.deleted_at = at + 3600

    _demo_savvycal_links(store, people, at)
    _demo_close_links(store, people)
    # A Close admin (Manage Customizations) with no scheduling accounts: the only demo user
    # Close lets create team links (shared scheduling links). Made last, so the ids above stay.
    admin = _close_user(store, close_org, "Dana", "Diaz", "dana@example.com", at)
    admin.manage_customizations = True


def _demo_savvycal_links(store: Store, people: dict[str, Any], at: float) -> None:
    alice, bob = people["alice"][2], people["bob"][2]
    links = [
        (
            alice,
            {
                "name": "Chat with Alice",
                "slug": "chat",
                "durations": [15, 30, 45],
                "default_duration": 30,
                "description": "Let's find a time to meet!",
                "private_name": "Generic link",
            },
        ),
        (alice, {"name": "Paused Link", "state": "disabled", "durations": [30]}),
        (
            alice,
            {
                "name": "Acme Sales Demo",
                "slug": "demo",
                "scope": "acme-sales",
                "durations": [60],
                "default_duration": None,
                "description": "",
            },
        ),
        (alice, {"name": "Unscoped Link", "scope": None, "durations": [25]}),
        (bob, {"name": "Coffee with Bob", "slug": "coffee", "durations": [30]}),
        (bob, {"name": "Bob's Long Session", "durations": [90, 120], "default_duration": None}),
    ]
    for offset, (owner, fields) in enumerate(links):
        create_savvy_link(store, owner, fields, at=at + offset)


def _demo_close_links(store: Store, people: dict[str, Any]) -> None:
    alice_close, alice_cal, _ = people["alice"]
    thirty = next(e for e in store.event_types.values() if e.slug == "30min")
    add_close_link(
        store,
        alice_close,
        {
            "name": "Book with Alice",
            "url": "https://example.com/alice/meet",
            "description": "Made by hand in Close.",
            "source": "MANUAL",
        },
    )
    # Close's own Calendly integration already holds this event type: schedsync must not push a
    # second link with the same URL (CONTRACT §4).
    add_close_link(
        store,
        alice_close,
        {
            "name": thirty.name,
            "url": f"{BASE_PLACEHOLDER}/calendly/book/alice/30min",
            "source": "CALENDLY",
            "source_id": "fe722374-9993-45f7-8c4c-c2004ec78940",
            "source_type": "Solo",
            "duration_in_minutes": 30,
        },
    )
    # Another OAuth app's link whose source_id looks like schedsync's: never schedsync's to touch.
    add_close_link(
        store,
        alice_close,
        {
            "name": "Other App Link",
            "url": "https://other.example.com/alice",
            "source": "THIRD_PARTY",
            "source_id": f"calendly:{thirty.uuid}:{alice_close.id}",
            "source_type": "Other App",
            "oauth_client_id": "oa2client_otherapp",
        },
    )
    add_close_link(
        store,
        people["bob"][0],
        {
            "name": "Bob's Calendar",
            "url": "https://example.com/bob",
            "source": "MANUAL",
        },
    )


def seed_scale(
    store: Store, users: int, event_types_per_user: int = 10, savvycal_links_per_user: int = 10
) -> list[dict[str, Any]]:
    """`users` new people, each with a Close, Calendly and SavvyCal account under one email."""
    with store.lock:
        at = store.now()
        batch = len(store.close_orgs) + 1
        close_org = CloseOrg(id=close_id(store.rng, "orga", 43), name=f"Scale Org {batch}")
        store.close_orgs[close_org.id] = close_org
        cal_org = CalendlyOrg(uuid=calendly_uuid(store.rng), name=f"Scale Org {batch}")
        store.calendly_orgs[cal_org.uuid] = cal_org
        created = []
        for n in range(users):
            slug = f"scale{batch}-{n:05d}"
            email = f"{slug}@example.com"
            close_user = _close_user(store, close_org, "Scale", f"User {n}", email, at)
            cal_user = _calendly_user(store, cal_org, f"Scale User {n}", slug, email, at, "teams")
            savvy_user = _savvy_user(store, "Scale", f"User {n}", email, slug, at, "premium")
            for i in range(event_types_per_user):
                fields = {
                    "name": f"Meeting {i + 1}",
                    "slug": f"m{i + 1}",
                    "position": i,
                    "duration": 15 * (1 + i % 4),
                    "description": f"Scale meeting {i + 1}",
                }
                store.add_event_type(build_event_type(store, [cal_user], fields, at))
            for i in range(savvycal_links_per_user):
                create_savvy_link(
                    store,
                    savvy_user,
                    {"name": f"Link {i + 1}", "slug": f"l{i + 1}", "durations": [30]},
                    at=at,
                )
            created.append(
                {
                    "email": email,
                    "close_user_id": close_user.id,
                    "close_organization_id": close_org.id,
                    "calendly_user_uuid": cal_user.uuid,
                    "savvycal_user_id": savvy_user.id,
                    "savvycal_personal_token": savvy_user.personal_token,
                }
            )
        return created


def _close_user(
    store: Store, org: CloseOrg, first: str, last: str, email: str, at: float
) -> CloseUser:
    user = CloseUser(close_id(store.rng, "user", 43), email, first, last, org.id, at)
    store.close_users[user.id] = user
    return user


def _calendly_user(
    store: Store, org: CalendlyOrg, name: str, slug: str, email: str, at: float, plan: str
) -> CalendlyUser:
    user = CalendlyUser(
        uuid=calendly_uuid(store.rng),
        name=name,
        slug=slug,
        email=email,
        organization_uuid=org.uuid,
        plan=plan,
        created_at=at,
        updated_at=at,
    )
    store.calendly_users[user.uuid] = user
    return user


def _savvy_user(
    store: Store, first: str, last: str, email: str, slug: str, at: float, plan: str
) -> SavvyUser:
    scope = SavvyScope(prefixed_ulid(store.rng, "scope", at), f"{first} {last}", slug, [])
    # Fixed per email, so the token printed on the page keeps working across resets.
    token = "pt_secret_" + hashlib.sha256(f"sandbox:{email}".encode()).hexdigest()[:32]
    user = SavvyUser(
        id=prefixed_ulid(store.rng, "user", at),
        email=email,
        first_name=first,
        last_name=last,
        personal_token=token,
        scope_id=scope.id,
        plan=plan,
    )
    scope.member_ids.append(user.id)
    store.savvy_scopes[scope.id] = scope
    store.savvy_users[user.id] = user
    store.savvy_pats[token] = user.id
    return user
