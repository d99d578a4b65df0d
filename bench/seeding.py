"""Accounts for bench/standin.py written straight into the database: account n with its Close,
Calendly and SavvyCal grants (tokens valid for a day, encrypted as the service stores them), so
a benchmark of 5,000 accounts does not spend minutes in OAuth flows it does not measure."""

from __future__ import annotations

from datetime import timedelta

from bench.standin import OUR_CLIENT, World, calendly_user_uri, close_user
from worker import runtime
from worker.providers.calendly.links import calendly_selection
from worker.providers.savvycal.links import savvycal_selection
from worker.storage.models import Account, Connection, LinkMapping, utcnow

ORGANIZATION = "orga_standin"
BATCH = 500


def seed_accounts(base: str, count: int) -> list[int]:
    """Account ids of accounts 0..count-1 of the stand-in at `base` (runtime configured)."""
    return seed_accounts_from(base, list(range(count)))


def seed_accounts_from(base: str, numbers: list[int], *, synced: bool = False) -> list[int]:
    """Account ids (in order) of the stand-in's accounts `numbers`. `synced`: as a first sync
    leaves them (what we pushed is recorded; the same links go to the stand-in's Close with
    `synced_links`), so a benchmark of thousands can skip first syncs it does not measure."""
    expires = utcnow() + timedelta(days=1)
    ids: list[int] = []
    for start in range(0, len(numbers), BATCH):
        with runtime.session_scope() as session:
            accounts = []
            for n in numbers[start : start + BATCH]:
                account = Account(close_user_id=close_user(n), organization_id=ORGANIZATION)
                if synced:
                    account.close_oauth_client_id = OUR_CLIENT
                users = {
                    "close": close_user(n),
                    "calendly": calendly_user_uri(base, n),
                    "savvycal": f"savvy_{n:05d}",
                }
                for provider, user in users.items():
                    account.connections.append(
                        Connection(
                            provider=provider,
                            external_user_id=user,
                            access_token=f"{provider}-tok-{n}",
                            refresh_token=f"{provider}-refresh-{n}",
                            token_expires_at=expires,
                        )
                    )
                accounts.append(account)
            session.add_all(accounts)
            session.flush()
            ids.extend(a.id for a in accounts)
            if synced:
                for account, n in zip(accounts, numbers[start : start + BATCH], strict=True):
                    session.add_all(
                        LinkMapping(
                            account_id=account.id,
                            provider=link.provider,
                            source_id=link.source_id,
                            name=link.name,
                            url=link.url,
                            slug=link.slug,
                            pushed_at=utcnow(),
                        )
                        for link in desired(base, n)
                    )
    return ids


def desired(base: str, n: int) -> list:
    """Account n's links as the sync maps them (the stand-in's data is the same for a base)."""
    world = World(base)
    world.seed_one(n, 5, 5)
    close_user_id = close_user(n)
    calendly = calendly_selection(world.event_types[n], close_user_id)
    booking = runtime.settings().savvycal_booking_url
    savvycal = savvycal_selection(world.savvycal_links[n], close_user_id, booking)
    return [*calendly.links.values(), *savvycal.links.values()]


def synced_links(base: str, numbers: list[int]) -> dict[str, list[dict]]:
    """The body of the stand-in's `POST /_standin/close_links` for these accounts."""
    return {str(n): [link.payload() for link in desired(base, n)] for n in numbers}
