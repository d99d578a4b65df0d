"""Access tokens that stay valid, and refresh tokens that are never spent twice (CONTRACT §5).

All three providers rotate refresh tokens: spending one twice kills the grant. So every refresh
of a connection, from any worker process, goes through `refresh_connection`: a Redis lock per
connection, a re-read of the row inside it, the token call, and a compare-and-swap store of the
new pair before anything uses it.

Between the provider's answer and the database commit the new pair is kept elsewhere
(worker/auth/pending_pairs.py), and every refresh looks there first: a database that is down,
locked or restarting at that moment, or a worker that dies then, never makes the rep reconnect.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from worker import logs, metrics, runtime
from worker.auth import pending_pairs
from worker.auth.errors import NeedsReauth, RefreshBusy, StoreFailed
from worker.locks import RenewingLock
from worker.providers import oauth, registry
from worker.providers.errors import GrantRevoked, RateLimited, UnknownOutcome
from worker.storage.models import ACTIVE, DISCONNECTED, NEEDS_REAUTH, Connection, utcnow

# A disconnected connection keeps its tokens until its clean-up (webhook deletion, revoke) ran.
USABLE_STATES = (ACTIVE, DISCONNECTED)

log = logging.getLogger(__name__)

# Every process that handles tokens imports this module: no library's debug echo may print them.

# An API call refreshes first when its token has less than this left (the sweep keeps a wider
# margin; this covers a token that expired while the sweep could not run).
CALL_MARGIN_SECONDS = 60

# Calendly issues at most 8 tokens per user per minute (reference/calendly-api.md §1.2). A token
# refreshed under a minute ago is as fresh as a refresh can make it, so expiry alone never spends
# another (a margin longer than the tokens' lifetime would otherwise refresh on every call); and
# no connection makes more than this many token calls a minute, whatever keeps refusing tokens.
FRESH_SECONDS = 60
MAX_TOKEN_CALLS_PER_MINUTE = 4

REFRESHES = "schedsync_token_refreshes_total"


@dataclass(frozen=True)
class Snapshot:
    id: int
    provider: str
    auth_kind: str
    state: str
    access_token: str | None
    refresh_token: str | None
    token_expires_at: datetime | None
    generation: int


def snapshot(connection_id: int) -> Snapshot | None:
    with runtime.session_scope() as session:
        c = session.get(Connection, connection_id)
        return None if c is None else snapshot_of(c)


def snapshot_of(c: Connection) -> Snapshot:
    """A frozen copy of a loaded row: threads share no ORM object across sessions."""
    return Snapshot(
        c.id,
        c.provider,
        c.auth_kind,
        c.state,
        c.access_token,
        c.refresh_token,
        c.token_expires_at,
        c.token_generation,
    )


def expiring(snap: Snapshot, margin_seconds: float) -> bool:
    if snap.token_expires_at is None:
        return False
    return snap.token_expires_at - utcnow() < timedelta(seconds=margin_seconds)


def lock_ttl() -> float:
    # Longer than twice the token call's timeout (connect + read), and renewed while alive.
    return 2 * 2 * runtime.settings().http_timeout_seconds + 10


def refresh_connection(
    connection_id: int, *, margin_seconds: float, rejected_token: str | None = None
) -> Snapshot:
    """Make sure the stored access token is usable; return the row as stored afterwards.

    Refreshes when the token has less than `margin_seconds` left, or when `rejected_token` (one
    the provider just answered 401 to) is still the stored one. Raises NeedsReauth when the
    grant is gone, Unavailable/UnknownOutcome/RateLimited when it is worth trying later (the
    stored pair is untouched then).
    """
    lock = RenewingLock(runtime.redis_client(), f"lock:refresh:{connection_id}", ttl=lock_ttl())
    if not lock.acquire(blocking=True, timeout=lock_ttl() + 5):
        raise RefreshBusy(
            f"another process holds the refresh lock of connection {connection_id} too long"
        )
    try:
        snap = snapshot(connection_id)
        if snap is None or snap.state not in USABLE_STATES:
            raise NeedsReauth(f"connection {connection_id} is not active")
        logs.bind(provider=snap.provider)
        kept = pending_pairs.find(connection_id, snap.provider)
        if kept is not None:
            if kept.generation == snap.generation:
                # An earlier refresh got this pair but could not store it: its refresh token
                # replaced the stored one, which must never be sent again.
                log.info("connection %s: storing the refreshed pair kept earlier", snap.id)
                return _store(snap, kept.grant())
            pending_pairs.clear(connection_id)  # stored already, or a reconnect came since
        refused = rejected_token is not None and rejected_token == snap.access_token
        if not refused and not expiring(snap, margin_seconds):
            return snap  # fresh, or a sibling refreshed it while we waited for the lock
        if snap.auth_kind == "personal_token" or not snap.refresh_token:
            if refused:
                mark_needs_reauth(snap, "the provider refused the token")
                raise NeedsReauth(f"{snap.provider} refused the token")
            return snap
        if not refused and refreshed_recently(connection_id):
            return snap
        provider = registry.oauth_provider(runtime.settings(), snap.provider)
        try:
            grant = _spend(provider, snap.refresh_token, connection_id)
        except GrantRevoked as exc:
            metrics.count(REFRESHES, provider=snap.provider, outcome="needs_reauth")
            again = snapshot(connection_id)
            if again is not None and again.generation != snap.generation:
                return again  # a reconnect stored a new pair meanwhile
            mark_needs_reauth(snap, str(exc))
            raise NeedsReauth(str(exc)) from exc
        except Exception:
            metrics.count(REFRESHES, provider=snap.provider, outcome="error")
            raise
        # The old refresh token is spent from here on: keep the new pair before the database
        # is asked for anything.
        pending_pairs.keep(snap.id, snap.provider, snap.generation, grant)
        metrics.count(REFRESHES, provider=snap.provider, outcome="ok")
        return _store(snap, grant)
    finally:
        lock.release()


def _calls_key(connection_id: int) -> str:
    return f"tokens:calls:{connection_id}"


def _fresh_key(connection_id: int) -> str:
    return f"tokens:fresh:{connection_id}"


def refreshed_recently(connection_id: int) -> bool:
    return bool(runtime.redis_client().exists(_fresh_key(connection_id)))


def _token_call(
    provider: oauth.OAuthProvider, refresh_token: str, connection_id: int
) -> oauth.TokenGrant:
    """One call to the token endpoint, within the connection's budget of calls a minute."""
    client, key, now = runtime.redis_client(), _calls_key(connection_id), time.time()
    client.zremrangebyscore(key, 0, now - 60)
    oldest = client.zrange(key, 0, 0, withscores=True)
    if client.zcard(key) >= MAX_TOKEN_CALLS_PER_MINUTE and oldest:
        raise RateLimited(max(oldest[0][1] + 60 - now, 1.0), provider=provider.name, status=None)
    client.zadd(key, {f"{now:.6f}:{secrets.token_hex(4)}": now})
    client.expire(key, 120)
    return oauth.refresh(provider, refresh_token)


def _spend(
    provider: oauth.OAuthProvider, refresh_token: str, connection_id: int
) -> oauth.TokenGrant:
    try:
        return _token_call(provider, refresh_token, connection_id)
    except UnknownOutcome:
        if provider.introspect_url:
            # Calendly can tell whether the lost call rotated the token.
            if oauth.introspect(provider, refresh_token):
                return _token_call(provider, refresh_token, connection_id)
            raise GrantRevoked(
                f"{provider.name} rotated the refresh token but the answer was lost",
                provider=provider.name,
            ) from None
        # Elsewhere one retry with the same token decides: it works, or it is refused.
        return _token_call(provider, refresh_token, connection_id)


def _store(snap: Snapshot, grant: oauth.TokenGrant) -> Snapshot:
    """Compare-and-swap the new pair in; the kept copy is cleared only once it is committed."""
    # A provider that sends no new refresh token (SavvyCal does not say it rotates) keeps the old.
    new_refresh = grant.refresh_token or snap.refresh_token
    try:
        with runtime.session_scope() as session:
            result = session.execute(
                update(Connection)
                .where(Connection.id == snap.id, Connection.token_generation == snap.generation)
                .values(
                    access_token=grant.access_token,
                    refresh_token=new_refresh,
                    token_expires_at=grant.expires_at,
                    token_generation=snap.generation + 1,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
    except SQLAlchemyError as exc:
        raise StoreFailed(
            f"the database did not take the refreshed {snap.provider} pair of connection "
            f"{snap.id} ({type(exc).__name__}); it is kept and stored by the next refresh",
            provider=snap.provider,
        ) from exc
    if result.rowcount != 1:
        # Cannot happen while every writer holds the lock; a reconnect does not. Its pair wins.
        log.warning("refresh of connection %s lost a race with a reconnect", snap.id)
    pending_pairs.clear(snap.id)
    try:
        runtime.redis_client().set(_fresh_key(snap.id), "1", ex=FRESH_SECONDS)
    except redis.RedisError as exc:
        log.warning("connection %s: could not note the fresh token in Redis (%s)", snap.id, exc)
    log.info("refreshed %s token of connection %s", snap.provider, snap.id)
    return snapshot(snap.id) or snap


def mark_needs_reauth(snap: Snapshot, reason: str) -> None:
    """Active → needs_reauth. A disconnected connection stays disconnected: its clean-up goes on
    (and checks that state), it only cannot use this grant any more."""
    with runtime.session_scope() as session:
        result = session.execute(
            update(Connection)
            .where(
                Connection.id == snap.id,
                Connection.token_generation == snap.generation,
                Connection.state == ACTIVE,
            )
            .values(state=NEEDS_REAUTH, state_reason=reason[:500], updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    if result.rowcount == 1:
        log.warning("%s connection %s needs reconnecting: %s", snap.provider, snap.id, reason)


class StoredToken:
    """The TokenSource of one connection for the provider clients. `known` is the row as the
    caller already read it (a sync loads its account's connections once): a token that has gone
    stale since is refused with a 401, and the refresh path re-reads the row inside its lock."""

    def __init__(self, connection_id: int, known: Snapshot | None = None):
        self.connection_id = connection_id
        self._snap: Snapshot | None = known

    def access_token(self) -> str:
        snap = self._snap or snapshot(self.connection_id)
        if snap is None or snap.state not in USABLE_STATES:
            raise NeedsReauth(f"connection {self.connection_id} is not active")
        if expiring(snap, CALL_MARGIN_SECONDS):
            snap = refresh_connection(self.connection_id, margin_seconds=CALL_MARGIN_SECONDS)
        self._snap = snap
        if not snap.access_token:
            raise NeedsReauth(f"connection {self.connection_id} has no access token")
        return snap.access_token

    def refresh_after_unauthorized(self, rejected_token: str) -> bool:
        try:
            snap = refresh_connection(
                self.connection_id, margin_seconds=0, rejected_token=rejected_token
            )
        except NeedsReauth:
            return False
        self._snap = snap
        return snap.access_token != rejected_token
