"""A rep who signs in under another Close organization (issue 9.13): the old grant's clean-up.

A Close grant belongs to one organization, and our links live in that organization's Close. When
the same Close user signs in under a different organization, the account moves to the new one
(the rep chose it on Close's consent page, and the next full sync pushes their links there), and
the old grant is retired on purpose, never dropped: in the sign-in's own transaction it becomes a
`RetiredGrant` row with what the mappings knew of that organization (worker/auth/org_switch.py),
and that row is its clean-up's record. The clean-up, run by the worker and retried through the
clean-up sweep until it is done like a disconnect's (CONTRACT §5 "Durable clean-up"), speaks with
the old grant: it unmaps the rep from that organization's team links, deletes our links there,
then revokes the grant. So no link is left behind in the old organization and no forgotten grant
stays alive. A grant Close already refuses can do neither: the row is dropped, with a warning.

Each unmap and deletion Close carries out there is a change of an `org_switch` run in the
account's history (CONTRACT §3), stored as soon as Close has answered, so a clean-up that stops
half-way keeps what it did; its retry finds those gone (404) and records them no second time.
The run's trigger is `connect`: the rep's Close sign-in under the other organization.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import delete, select

from worker import queue, runtime
from worker.auth.errors import NeedsReauth
from worker.auth.retired_tokens import RetiredGrantToken, stored_tokens
from worker.celery_app import VISIBILITY_TIMEOUT
from worker.locks import RenewingLock
from worker.providers import oauth, registry
from worker.providers.clients import build_client
from worker.providers.close.client import CloseClient, IncompleteListing
from worker.providers.close.shared_links import SharedLinks
from worker.providers.errors import Forbidden, GrantRevoked, Unauthorized
from worker.storage.models import RetiredGrant, TeamLink, utcnow
from worker.sync import history, runs, triggers
from worker.sync.reconcile import is_ours

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 60.0
MAX_RETRY_SECONDS = 3600.0
RUN_LEASE_SECONDS = 600.0
LOCK_SECONDS = 60.0  # renewed while the clean-up runs


class Busy(Exception):
    """Another worker is cleaning up this grant right now."""

    retry_after = 15.0


@dataclass(frozen=True)
class Target:
    id: int
    account_id: int
    close_user_id: str
    organization_id: str | None
    our_client_id: str | None
    source_ids: tuple[str, ...]
    shared_link_ids: tuple[str, ...]
    delete_links: bool


def _marker(retired_id: int) -> str:
    return f"retired-grant:queued:{retired_id}"


def enqueue(retired_id: int) -> bool:
    """Send the clean-up unless a message for it is waiting already (at most one per grant in
    the broker); False when the broker is down: the sweep sends it later."""
    client = runtime.redis_client()
    try:
        if not client.set(_marker(retired_id), 1, nx=True, ex=VISIBILITY_TIMEOUT):
            return True
    except redis.RedisError as exc:
        log.warning("could not enqueue the clean-up of retired grant %s: %s", retired_id, exc)
        return False
    if queue.try_send(queue.RETIRE_CLOSE_GRANT, retired_id):
        return True
    with contextlib.suppress(redis.RedisError):
        client.delete(_marker(retired_id))
    return False


def enqueue_due(now: datetime) -> int:
    with runtime.session_scope() as session:
        due = list(
            session.scalars(
                select(RetiredGrant.id)
                .where(RetiredGrant.next_attempt_at <= now)
                .order_by(RetiredGrant.next_attempt_at)
                .limit(500)
            )
        )
    sent = 0
    for retired_id in due:
        if not enqueue(retired_id):
            break
        sent += 1
    return sent


# --- the worker's side ------------------------------------------------------------------------


def _take_up(retired_id: int) -> Target | None:
    with contextlib.suppress(redis.RedisError):  # else the marker expires
        runtime.redis_client().delete(_marker(retired_id))
    with runtime.session_scope() as session:
        row = session.get(RetiredGrant, retired_id)
        if row is None:
            return None
        # Due again after a lease, should this worker die half-way.
        row.next_attempt_at = utcnow() + timedelta(seconds=RUN_LEASE_SECONDS)
        return Target(
            row.id,
            row.account_id,
            row.close_user_id,
            row.organization_id,
            row.close_oauth_client_id,
            tuple(json.loads(row.source_ids_json or "[]")),
            tuple(json.loads(row.shared_link_ids_json or "[]")),
            row.delete_links,
        )


def failed(retired_id: int, retry_after: float | None = None) -> datetime:
    with runtime.session_scope() as session:
        row = session.get(RetiredGrant, retired_id)
        if row is None:
            return utcnow()
        row.attempts = (row.attempts or 0) + 1
        backoff = min(FIRST_RETRY_SECONDS * 2 ** (row.attempts - 1), MAX_RETRY_SECONDS)
        row.next_attempt_at = utcnow() + timedelta(seconds=max(backoff, retry_after or 0.0))
        return row.next_attempt_at


def clean_up(retired_id: int) -> str:
    """Unmap, delete our links in the old organization, revoke the old grant, drop the row.
    Returns "done", "done_already" or "grant_dead"; raises what is worth trying again."""
    lock = RenewingLock(
        runtime.redis_client(), f"lock:retired-grant:{retired_id}", ttl=LOCK_SECONDS
    )
    if not lock.acquire():
        raise Busy(f"retired grant {retired_id} is being cleaned up")
    try:
        target = _take_up(retired_id)
        if target is None:
            return "done_already"
        settings = runtime.settings()
        client = build_client(
            CloseClient,
            settings.close_api_url,
            RetiredGrantToken(retired_id),
            target.organization_id,
        )
        run = runs.OpenRun(target.account_id, kind=runs.ORG_SWITCH, trigger=triggers.CONNECT)
        try:
            deleted = 0
            if target.delete_links:
                _unmap_team_links(client, target, run)
                deleted = _delete_links(client, target, run)
            _revoke(retired_id)
        except BaseException as exc:
            run.finish("error", f"the clean-up stopped ({type(exc).__name__}: {exc})"[:500])
            if not isinstance(exc, NeedsReauth | GrantRevoked | Unauthorized):
                raise
            # Close refuses the old grant already (a 401 that a refresh could not cure): it is
            # as good as revoked, and nothing can reach that organization's links with it.
            log.warning(
                "retired Close grant of %s in %s is dead already (%s); its links there, if any, "
                "cannot be deleted with it",
                target.close_user_id,
                target.organization_id,
                exc,
            )
            _drop(retired_id)
            return "grant_dead"
        run.finish("ok")
        _drop(retired_id)
        if deleted:
            # Close is assumed to keep source ids unique across the OAuth application (CONTRACT
            # §4): should a delete there have reached a link the new organization holds under
            # the same source id, the account's next full sync puts it back at once.
            triggers.request_full_sync(target.account_id)
        log.info(
            "%s left Close organization %s: %d links deleted there, the old grant revoked",
            target.close_user_id,
            target.organization_id,
            deleted,
        )
        return "done"
    finally:
        lock.release()


def _unmap_team_links(client: CloseClient, target: Target, run: runs.OpenRun) -> None:
    if not target.organization_id or not target.shared_link_ids:
        return
    with runtime.session_scope() as session:
        names = dict(
            session.execute(
                select(TeamLink.close_shared_link_id, TeamLink.name).where(
                    TeamLink.close_shared_link_id.in_(target.shared_link_ids)
                )
            ).all()
        )
    shared = SharedLinks(client)
    for shared_link_id in target.shared_link_ids:
        try:
            unmapped = shared.unmap(target.organization_id, shared_link_id, target.close_user_id)
        except Forbidden:
            # Deleting the user link below leaves the mapping pointing at nothing.
            log.info("close refused to unmap %s from %s", target.close_user_id, shared_link_id)
            continue
        if unmapped:
            # What it was mapped to went with the account's mappings at the switch.
            change = history.remapped(
                names.get(shared_link_id), shared_link_id, (None, None), (None, None)
            )
            with runtime.session_scope() as session:
                run.add(session, change)


def _delete_links(client: CloseClient, target: Target, run: runs.OpenRun) -> int:
    known = set(target.source_ids)
    try:
        listed = client.scheduling_links()
    except IncompleteListing as exc:
        listed = exc.links  # what was read, plus what the mappings knew, still goes
    ours = {
        link["source_id"]: link
        for link in listed
        if link.get("user_id") == target.close_user_id
        and is_ours(link, target.our_client_id, known)
    }
    for source_id in sorted(set(ours) | known):
        if client.delete_link(source_id):  # False: 404, gone already
            with runtime.session_scope() as session:
                run.add(session, history.deleted(source_id, ours.get(source_id)))
    return len(set(ours) | known)


def _revoke(retired_id: int) -> None:
    tokens = stored_tokens(retired_id)
    provider = registry.oauth_provider(runtime.settings(), registry.CLOSE.name)
    for token in (tokens.refresh_token, tokens.access_token):
        if token:
            oauth.revoke(provider, token)


def _drop(retired_id: int) -> None:
    with runtime.session_scope() as session:
        session.execute(delete(RetiredGrant).where(RetiredGrant.id == retired_id))
