"""Failures of our own stored grants, as opposed to a provider's answer
(worker/providers/errors.py).

The task layer (worker/tasks/policy.py) is the one place that decides what each means.
"""

from __future__ import annotations

from worker.providers.errors import GrantRevoked, Unavailable


class NeedsReauth(GrantRevoked):
    """The connection is not usable until the user connects again."""


class RefreshBusy(Unavailable):
    """Another process held the connection's refresh lock for longer than a refresh can take:
    nothing was spent, so trying again later is safe."""


class StoreFailed(Unavailable):
    """The provider issued a new token pair but the database did not take it. The pair is kept
    (worker/auth/pending_pairs.py) and the next refresh stores it: trying again later is safe."""


class NoCloseGrant(Exception):
    """The account has no active Close grant, so nothing can be written to Close for it."""
