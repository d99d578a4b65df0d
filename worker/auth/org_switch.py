"""The sign-in's side of a rep moving to another Close organization (issue 9.13): in the
sign-in's own transaction, no provider call. worker/auth/retired_grants.py does the rest.

The account's Close grant and what the mappings knew of its organization move into a
`RetiredGrant` row, due for clean-up at once; the mappings themselves go, since they describe
links in the old organization and the new one starts from none (its first full sync pushes
everything there).
"""

from __future__ import annotations

import json

from sqlalchemy import select, update

from worker.auth import pending_pairs
from worker.storage.models import (
    Account,
    Connection,
    LinkMapping,
    RetiredGrant,
    TeamLink,
    TeamLinkMapping,
    utcnow,
)


def moves(account: Account, close: Connection | None, organization_id: str | None) -> bool:
    """Does this sign-in take a grant that is still stored to another organization?"""
    return (
        close is not None
        and bool(organization_id)
        and bool(account.organization_id)
        and organization_id != account.organization_id
        and bool(close.access_token or close.refresh_token)
    )


def back_to(session, account: Account, organization_id: str) -> None:  # noqa: ANN001
    """A rep back in an organization they left: a clean-up still pending there must only
    revoke that old grant, not delete the links the account is about to push there again."""
    session.execute(
        update(RetiredGrant)
        .where(
            RetiredGrant.account_id == account.id,
            RetiredGrant.organization_id == organization_id,
        )
        .values(delete_links=False)
        .execution_options(synchronize_session=False)
    )


def retire(session, account: Account, close: Connection) -> RetiredGrant:  # noqa: ANN001
    """Move the account's Close grant into a retired row. The caller stores the new grant on
    `close` in the same transaction."""
    access, refresh, expires = close.access_token, close.refresh_token, close.token_expires_at
    kept = pending_pairs.find(close.id, close.provider)
    if kept is not None and kept.generation == close.token_generation:
        # A refresh whose pair never reached the database: the stored tokens are spent.
        access, refresh, expires = kept.access_token, kept.refresh_token, kept.expires_at
    mappings = list(
        session.scalars(select(LinkMapping).where(LinkMapping.account_id == account.id))
    )
    team_mappings = session.execute(
        select(TeamLinkMapping, TeamLink.close_shared_link_id)
        .join(TeamLink, TeamLink.id == TeamLinkMapping.team_link_id)
        .where(
            TeamLinkMapping.account_id == account.id,
            TeamLink.organization_id == account.organization_id,
        )
    ).all()
    retired = RetiredGrant(
        account_id=account.id,
        close_user_id=account.close_user_id,
        organization_id=account.organization_id,
        close_oauth_client_id=account.close_oauth_client_id,
        access_token=access,
        refresh_token=refresh or close.refresh_token,
        token_expires_at=expires,
        token_generation=0,
        source_ids_json=json.dumps(sorted(m.source_id for m in mappings)),
        shared_link_ids_json=json.dumps(
            sorted({shared for m, shared in team_mappings if shared and m.close_link_id})
        ),
        delete_links=True,
        next_attempt_at=utcnow(),
        attempts=0,
    )
    session.add(retired)
    for mapping in mappings:
        session.delete(mapping)
    for mapping, _ in team_mappings:
        session.delete(mapping)
    session.flush()
    return retired
