"""Whose Close grant a team-link call is made with.

Creating, changing and deleting a shared link needs a user with Manage Customizations; Close
answers anyone else 403 (reference/close-api.md §1.1). schedsync cannot ask who has it, so it
tries the signed-in users of the organization in turn, the team link's creator first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import select

from worker import runtime
from worker.auth.connected import close_client
from worker.auth.errors import NeedsReauth
from worker.providers.close.shared_links import SharedLinks
from worker.providers.errors import Forbidden
from worker.storage.models import ACTIVE, Account, Connection

T = TypeVar("T")


class NoPermittedUser(Exception):
    """No signed-in user of the organization may do this in Close."""


def signed_in_grants(organization_id: str, prefer: Iterable[int] = ()) -> list[tuple[int, int]]:
    """(account id, Close connection id) of every active Close grant in the organization, the
    preferred accounts first, then oldest first."""
    with runtime.session_scope() as session:
        rows = session.execute(
            select(Account.id, Connection.id)
            .join(Connection, Connection.account_id == Account.id)
            .where(
                Account.organization_id == organization_id,
                Connection.provider == "close",
                Connection.state == ACTIVE,
            )
            .order_by(Account.id)
        ).all()
    first = [p for p in prefer if p is not None]
    return sorted(
        ((row[0], row[1]) for row in rows),
        key=lambda grant: (first.index(grant[0]) if grant[0] in first else len(first), grant[0]),
    )


def shared_links_for(connection_id: int, organization_id: str) -> SharedLinks:
    return SharedLinks(close_client(connection_id, organization_id))


def as_permitted_user(
    organization_id: str,
    call: Callable[[SharedLinks], T],
    prefer: Iterable[int] = (),
    exclude: Iterable[int] = (),
) -> tuple[T, int]:
    """`call` with the first grant Close accepts it from; returns its answer and the account id.

    403 (no Manage Customizations) and a grant that needs reconnecting move on to the next
    user; any other failure is the caller's. NoPermittedUser when nobody may."""
    skipped = set(exclude)
    for account_id, connection_id in signed_in_grants(organization_id, prefer):
        if account_id in skipped:
            continue
        try:
            return call(shared_links_for(connection_id, organization_id)), account_id
        except (Forbidden, NeedsReauth):
            continue
    raise NoPermittedUser(
        f"no signed-in user of {organization_id} may manage shared scheduling links in Close"
    )
