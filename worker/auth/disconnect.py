"""Clean-up after a rep disconnects a provider (CONTRACT §3), in the contract's order:
the Calendly webhook subscriptions, this provider's links in Close, then the tokens.

The web request already marked the connection `disconnected`, so no reconcile pushes for it
again, and recorded the clean-up: each step is safe to repeat, and worker/auth/cleanups.py retries
the whole clean-up until it is done. A dead Close grant does not stop it: the subscription and the
tokens go all the same, and the links stay in Close until the account's next full sync after the
rep signs in with Close again (a full sync wants nothing of a disconnected provider, and the link
mappings kept here name them as ours).
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update

from worker import logs, runtime
from worker.auth import cleanups, pending_pairs
from worker.auth.cleanups import Superseded
from worker.auth.connected import close_client
from worker.auth.errors import NeedsReauth, NoCloseGrant
from worker.calendly import subscriptions
from worker.providers import oauth, registry
from worker.storage.models import (
    ACTIVE,
    DISCONNECTED,
    Account,
    Connection,
    LinkMapping,
    utcnow,
)
from worker.sync import history, runs, team_link_hooks, triggers
from worker.sync.links import provider_of
from worker.sync.reconcile import is_ours

log = logging.getLogger(__name__)


def _current(connection_id: int, connect_count: int) -> Connection:
    with runtime.session_scope() as session:
        conn = session.get(Connection, connection_id)
        if conn is None or conn.state != DISCONNECTED or conn.connect_count != connect_count:
            raise Superseded(f"connection {connection_id} changed since it was disconnected")
        session.expunge(conn)
        return conn


def delete_links(conn: Connection) -> int:
    with runtime.session_scope() as session:
        account = session.get(Account, conn.account_id)
        close = account.connection("close")
        if close is None or close.state != ACTIVE:
            raise NoCloseGrant(f"account {conn.account_id} has no active Close grant")
        close_id, org, user_id = close.id, account.organization_id, account.close_user_id
        our_client_id = account.close_oauth_client_id
        names = dict(
            session.execute(
                select(LinkMapping.source_id, LinkMapping.name).where(
                    LinkMapping.account_id == account.id, LinkMapping.provider == conn.provider
                )
            ).all()
        )
    known = set(names)
    client = close_client(close_id, org)
    in_close = {
        link["source_id"]: link
        for link in client.scheduling_links()
        if link.get("user_id") == user_id
        and is_ours(link, our_client_id, known)
        and provider_of(link["source_id"]) == conn.provider
    }
    # Each deletion Close carried out is a change of a `disconnect` run of the history (CONTRACT
    # §3: every write to Close is one), stored with the mapping's removal, so a worker dying
    # half-way loses none; a retried clean-up with nothing left records none.
    run = runs.OpenRun(conn.account_id, kind=runs.DISCONNECT, trigger=runs.DISCONNECT)
    try:
        for source_id in sorted(set(in_close) | known):
            removed = client.delete_link(source_id)
            with runtime.session_scope() as session:
                if removed:
                    before = in_close.get(source_id) or {"name": names.get(source_id)}
                    run.add(session, history.deleted(source_id, before))
                session.execute(delete(LinkMapping).where(LinkMapping.source_id == source_id))
    except BaseException:
        run.finish("error", "the clean-up stopped; it is retried")
        raise
    run.finish("ok")
    return len(set(in_close) | known)


def revoke_tokens(conn: Connection) -> None:
    provider = registry.oauth_provider(runtime.settings(), conn.provider)
    tokens = [conn.refresh_token, conn.access_token]
    kept = pending_pairs.find(conn.id, conn.provider)
    if kept is not None and kept.generation == conn.token_generation:
        # A refresh whose pair never reached the database: the stored tokens are spent, the
        # kept ones are the live grant.
        tokens = [kept.refresh_token, kept.access_token]
    if conn.auth_kind == "oauth" and provider.revoke_url:
        for token in tokens:
            if token:
                oauth.revoke(provider, token)
    with runtime.session_scope() as session:
        session.execute(
            update(Connection)
            .where(Connection.id == conn.id, Connection.token_generation == conn.token_generation)
            .values(
                access_token=None,
                refresh_token=None,
                token_expires_at=None,
                webhook_state="none",
                webhook_reason=None,
                updated_at=utcnow(),
                **cleanups.done_values(),
            )
            .execution_options(synchronize_session=False)
        )
    pending_pairs.clear(conn.id)


def clean_up(connection_id: int, connect_count: int) -> None:
    conn = _current(connection_id, connect_count)
    logs.bind(provider=conn.provider)
    if registry.spec(conn.provider).has_link_webhooks:
        subscriptions.delete_all(conn.id, conn.external_user_id, conn.external_org_id)
    team_link_hooks.after_disconnect(conn.account_id)  # CONTRACT §6: re-map or unmap
    try:
        # Under the account's sync lock: a sync that read the connection as active before the
        # disconnect ends first, so it cannot push again the links deleted here (issue 9.8).
        with triggers.holding_sync_lock(conn.account_id):
            deleted = delete_links(_current(connection_id, connect_count))
    except (NoCloseGrant, NeedsReauth) as exc:
        # Nothing can write to Close for this account now, and waiting for a new sign-in must not
        # keep the provider's grant alive (CONTRACT §5 "Durable clean-up").
        log.warning(
            "disconnect of %s (connection %s): Close cannot be written (%s); its links stay in "
            "Close until the account's next full sync after the rep signs in with Close again",
            conn.provider,
            connection_id,
            exc,
        )
        deleted = None
    revoke_tokens(_current(connection_id, connect_count))
    if deleted is not None:
        log.info(
            "disconnected %s of connection %s: %d links removed from Close",
            conn.provider,
            connection_id,
            deleted,
        )
