"""Accounts for bench/standin.py written straight into the database: account n with its Close,
Calendly and SavvyCal grants (tokens valid for a day, encrypted as the service stores them), so
a benchmark of 5,000 accounts does not spend minutes in OAuth flows it does not measure."""

from __future__ import annotations

from datetime import timedelta

from bench.standin import calendly_user_uri, close_user
from worker import runtime
from worker.storage.models import Account, Connection, utcnow

ORGANIZATION = "orga_standin"
BATCH = 500


def seed_accounts(base: str, count: int) -> list[int]:
    """Account ids of accounts 0..count-1 of the stand-in at `base` (runtime configured)."""
    return seed_accounts_from(base, list(range(count)))


def seed_accounts_from(base: str, numbers: list[int]) -> list[int]:
    """Account ids (in order) of the stand-in's accounts `numbers`."""
    expires = utcnow() + timedelta(days=1)
    ids: list[int] = []
    for start in range(0, len(numbers), BATCH):
        with runtime.session_scope() as session:
            accounts = []
            for n in numbers[start : start + BATCH]:
                account = Account(close_user_id=close_user(n), organization_id=ORGANIZATION)
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
    return ids
