"""An account as a sync reads it: its Close grant and its scheduling connections, loaded in one
short database session and handed around as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from worker import runtime
from worker.auth.tokens import Snapshot, snapshot_of
from worker.providers import registry
from worker.storage.models import ACTIVE, Account, LinkMapping


class AccountNotSyncable(Exception):
    """No active Close grant: nothing can be written for this account."""


@dataclass(frozen=True)
class ConnectionView:
    id: int
    state: str
    external_user: str | None  # the provider's own id of the user (a URI for Calendly)
    # The tokens as loaded with the account, handed to the run's clients (never printed).
    token: Snapshot | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class AccountView:
    id: int
    close_user_id: str
    organization_id: str | None
    our_client_id: str | None
    close_connection_id: int
    connections: dict[str, ConnectionView]  # scheduling provider name -> its connection
    close_token: Snapshot | None = field(default=None, repr=False, compare=False)

    def active(self, provider: str) -> ConnectionView | None:
        conn = self.connections.get(provider)
        return conn if conn is not None and conn.state == ACTIVE else None


def load_account(account_id: int) -> AccountView:
    with runtime.session_scope() as session:
        # The account and its connections in one statement (a lazy load would be a second).
        account = (
            session.execute(
                select(Account)
                .options(joinedload(Account.connections))
                .where(Account.id == account_id)
            )
            .unique()
            .scalar_one_or_none()
        )
        if account is None:
            raise AccountNotSyncable(f"account {account_id} does not exist")
        close = account.connection(registry.CLOSE.name)
        if close is None or close.state != ACTIVE:
            raise AccountNotSyncable(f"account {account.close_user_id} has no active Close grant")
        return AccountView(
            id=account.id,
            close_user_id=account.close_user_id,
            organization_id=account.organization_id,
            our_client_id=account.close_oauth_client_id,
            close_connection_id=close.id,
            connections={
                c.provider: ConnectionView(c.id, c.state, c.external_user_id, snapshot_of(c))
                for c in account.connections
                if registry.is_scheduling(c.provider)
            },
            close_token=snapshot_of(close),
        )


def known_source_ids(account_id: int) -> set[str]:
    """Every source_id we have pushed for the account (CONTRACT §4 "What is ours")."""
    with runtime.session_scope() as session:
        rows = session.scalars(
            select(LinkMapping.source_id).where(LinkMapping.account_id == account_id)
        )
        return set(rows)
