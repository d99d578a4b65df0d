"""Storing what a rep connects, and marking what they disconnect. Called by the web process's
OAuth callbacks; no provider calls here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from worker import runtime
from worker.auth import cleanups, org_switch
from worker.providers.oauth import TokenGrant
from worker.storage.models import ACTIVE, DISCONNECTED, Account, Connection, utcnow


@dataclass(frozen=True)
class Connected:
    account_id: int
    connection_id: int
    connect_count: int
    # A sign-in under another Close organization: the old grant's clean-up to enqueue, and
    # the organization it leaves (worker/auth/retired_grants.py).
    retired_grant_id: int | None = None
    left_organization_id: str | None = None


def store_close_account(
    *, close_user_id: str, organization_id: str | None, email: str | None, grant: TokenGrant
) -> Connected:
    with runtime.session_scope() as session:
        account = session.scalars(
            select(Account).where(Account.close_user_id == close_user_id)
        ).first()
        if account is None:
            account = Account(close_user_id=close_user_id)
            session.add(account)
        retired, left = None, None
        old = account.connection("close") if account.id is not None else None
        if org_switch.moves(account, old, organization_id):
            left = account.organization_id
            org_switch.back_to(session, account, organization_id)
            retired = org_switch.retire(session, account, old)
        account.organization_id = organization_id or account.organization_id
        account.email = email or account.email
        session.flush()
        conn = _store(
            session,
            account,
            "close",
            grant=grant,
            external_user_id=close_user_id,
            external_org_id=organization_id,
            external_email=email,
        )
        return Connected(
            account.id,
            conn.id,
            conn.connect_count,
            retired.id if retired is not None else None,
            left,
        )


def store_connection(
    account_id: int,
    provider: str,
    *,
    grant: TokenGrant | None = None,
    personal_token: str | None = None,
    external_user_id: str | None = None,
    external_org_id: str | None = None,
    external_email: str | None = None,
) -> Connected:
    with runtime.session_scope() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise LookupError(f"account {account_id} does not exist")
        conn = _store(
            session,
            account,
            provider,
            grant=grant,
            personal_token=personal_token,
            external_user_id=external_user_id,
            external_org_id=external_org_id,
            external_email=external_email,
        )
        return Connected(account.id, conn.id, conn.connect_count)


def _store(
    session,
    account: Account,
    provider: str,
    *,
    grant: TokenGrant | None = None,
    personal_token: str | None = None,
    **identity: str | None,
) -> Connection:
    conn = account.connection(provider)
    if conn is None:
        conn = Connection(provider=provider, connect_count=0, token_generation=0)
        account.connections.append(conn)
    conn.state = ACTIVE
    conn.state_reason = None
    # A reconnect takes the row over: an earlier disconnect's clean-up is no longer pending (its
    # message, if one still waits, finds the connect count changed and touches nothing).
    conn.cleanup_next_at = None
    conn.cleanup_attempts = 0
    for name, value in identity.items():
        setattr(conn, name, value)
    if personal_token is not None:
        conn.auth_kind = "personal_token"
        conn.access_token = personal_token
        conn.refresh_token = None
        conn.token_expires_at = None
    elif grant is not None:
        conn.auth_kind = "oauth"
        conn.access_token = grant.access_token
        conn.refresh_token = grant.refresh_token
        conn.token_expires_at = grant.expires_at
    conn.token_generation = (conn.token_generation or 0) + 1
    conn.connect_count = (conn.connect_count or 0) + 1
    conn.updated_at = utcnow()
    session.flush()
    return conn


def mark_disconnected(account_id: int, provider: str) -> Connected | None:
    """Mark the connection disconnected at once and record its clean-up in the same
    transaction, so it is never lost (worker/auth/cleanups.py); None when there is nothing to
    disconnect."""
    with runtime.session_scope() as session:
        conn = session.scalars(
            select(Connection).where(
                Connection.account_id == account_id, Connection.provider == provider
            )
        ).first()
        if conn is None or conn.state == DISCONNECTED:
            return None
        conn.state = DISCONNECTED
        conn.state_reason = "disconnected by the user"
        conn.updated_at = utcnow()
        cleanups.record(conn)
        return Connected(account_id, conn.id, conn.connect_count)
