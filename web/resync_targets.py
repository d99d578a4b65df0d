"""Which accounts a resync from the command line takes, and why the others are left out, in words
an operator can act on (`flask --app web resync`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from worker import runtime
from worker.providers import registry
from worker.storage.models import ACTIVE, NEEDS_REAUTH, Account


@dataclass(frozen=True)
class Target:
    id: int
    close_user_id: str
    email: str | None

    @property
    def label(self) -> str:
        return f"{self.close_user_id} ({self.email})" if self.email else self.close_user_id


class NoSuchAccount(LookupError):
    """No account, or more than one, answers to what the operator typed."""


def close_grant_problem(account: Account) -> str | None:
    """Why a sync of this account cannot write to Close; None when it can."""
    close = account.connection(registry.CLOSE.name)
    if close is None or close.state == ACTIVE:
        return None if close is not None else "it has no Close grant"
    if close.state == NEEDS_REAUTH:
        return "its Close grant needs re-authorization (the rep must sign in with Close again)"
    return f"its Close grant is {close.state} (the rep must sign in with Close again)"


def provider_problem(account: Account) -> str | None:
    """Why a resync of every account leaves this one out although Close would take it."""
    states = {
        c.provider: c.state for c in account.connections if registry.is_scheduling(c.provider)
    }
    if any(state == ACTIVE for state in states.values()):
        return None
    if not states:
        return "nothing connected (no Calendly or SavvyCal connection)"
    listed = ", ".join(f"{p} {s}" for p, s in sorted(states.items()))
    return f"no active provider connection ({listed}; the rep must reconnect)"


def _target(account: Account) -> Target:
    return Target(account.id, account.close_user_id, account.email)


def find(who: str) -> Account:
    """By Close user id, or by e-mail (case-insensitive) when it has an @."""
    with runtime.session_scope() as session:
        query = select(Account).options(selectinload(Account.connections))
        if "@" in who:
            found = list(session.scalars(query.where(func.lower(Account.email) == who.lower())))
        else:
            found = list(session.scalars(query.where(Account.close_user_id == who)))
        if not found:
            raise NoSuchAccount(f"no account has the Close user id or e-mail {who!r}")
        if len(found) > 1:
            users = ", ".join(sorted(a.close_user_id for a in found))
            raise NoSuchAccount(f"{who!r} is the e-mail of several accounts: {users}; name one")
        return found[0]


def choose(who: str | None) -> tuple[list[Target], list[tuple[Target, str]]]:
    """The accounts to resync, and the ones left out with their reason. One named account is
    taken whenever Close would take its writes (as POST /admin/resync does); every account means
    those with an active Close grant and at least one active provider connection."""
    if who is not None:
        account = find(who)
        problem = close_grant_problem(account)
        return ([], [(_target(account), problem)]) if problem else ([_target(account)], [])
    chosen: list[Target] = []
    left_out: list[tuple[Target, str]] = []
    with runtime.session_scope() as session:
        accounts = session.scalars(
            select(Account)
            .options(selectinload(Account.connections))
            .order_by(Account.close_user_id)
        )
        for account in accounts:
            problem = close_grant_problem(account) or provider_problem(account)
            if problem:
                left_out.append((_target(account), problem))
            else:
                chosen.append(_target(account))
    return chosen, left_out
