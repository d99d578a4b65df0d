"""One account's full reconcile: read every provider and Close, plan, write the difference,
record it as a sync run.

Database sessions are kept short and never held across a provider call, so SQLite's single
writer is never blocked behind the network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from worker import logs
from worker.auth.connected import close_client, connected_client
from worker.auth.errors import NeedsReauth
from worker.providers import registry
from worker.providers.close.client import IncompleteListing
from worker.providers.errors import ProviderError, RateLimited
from worker.storage.models import ACTIVE, NEEDS_REAUTH
from worker.sync import team_link_hooks
from worker.sync.account import AccountView, known_source_ids, load_account
from worker.sync.apply import Tally, apply_plan
from worker.sync.guard import RunGuard, RunStopped
from worker.sync.links import NotSynced
from worker.sync.reconcile import Desired, Plan, plan
from worker.sync.runs import finish_run, start_run

log = logging.getLogger(__name__)


@dataclass
class ProviderReads:
    """What the scheduling providers ask of Close, and what could not be read."""

    desired: Desired = field(default_factory=Desired)
    warnings: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # provider -> why it failed
    not_synced: list[NotSynced] = field(default_factory=list)  # listed, not wanted in Close
    close_incomplete: bool = False  # Close's listing could not be read to its end


def desired_links(view: AccountView, guard: RunGuard) -> ProviderReads:
    """Everything the providers ask of Close; a provider that cannot be read is held."""
    reads = ProviderReads()
    for spec in registry.SCHEDULING:
        conn = view.connections.get(spec.name)
        if conn is None or conn.state not in (ACTIVE, NEEDS_REAUTH):
            continue  # never connected, or disconnected: nothing of it is wanted in Close
        if conn.state == NEEDS_REAUTH:
            reads.desired.held_providers.add(spec.name)
            reads.warnings.append(
                f"{spec.name} needs reconnecting; its links in Close are kept as they are"
            )
            continue
        try:
            client = connected_client(spec.name, conn.id, conn.external_user, guard, conn.token)
            selection = spec.fetch_selection(client, view.close_user_id, conn.external_user)
        except RateLimited:
            raise
        except ProviderError as exc:  # NeedsReauth and DeadlineExceeded included
            reads.desired.held_providers.add(spec.name)
            reads.failures[spec.name] = str(exc)
            log.warning(
                "%s could not be read; its links are kept: %s",
                spec.name,
                exc,
                extra={"provider": spec.name},
            )
            continue
        reads.desired.links.update(selection.links)
        reads.desired.skipped |= selection.skipped
        reads.warnings.extend(selection.warnings)
        reads.not_synced.extend(selection.not_synced)
    return reads


def natively_shown(desired: Desired, the_plan: Plan) -> list[NotSynced]:
    """Desired links the plan leaves to Close's own integration (CONTRACT §4), as not-synced."""
    return [
        NotSynced(desired.links[sid].provider, sid, desired.links[sid].name, "close_native")
        for sid in the_plan.native
    ]


def outcome_of(view: AccountView, reads: ProviderReads, tally: Tally) -> str:
    active = [p for p, c in view.connections.items() if c.state == ACTIVE]
    if reads.failures and len(reads.failures) >= len(active):
        return "error"
    if reads.failures or tally.failed or reads.close_incomplete:
        return "partial"
    return "ok"


def close_listing(view: AccountView, reads: ProviderReads, guard: RunGuard) -> list[dict]:
    """Close's links; a listing Close would not let us read to its end is used as far as it
    goes, with a warning, and the plan then deletes nothing."""
    client = close_client(view.close_connection_id, view.organization_id, guard, view.close_token)
    try:
        return client.scheduling_links()
    except IncompleteListing as exc:
        reads.close_incomplete = True
        reads.warnings.append(f"{exc}; nothing was deleted from Close in this sync")
        log.warning("%s", exc, extra={"provider": "close"})
        return exc.links


def full_sync(account_id: int, guard: RunGuard | None = None, trigger: str | None = None) -> int:
    """Reconcile every link of the account; returns the SyncRun id. Raises RateLimited (after
    recording the run) when the task should be retried after the provider's reset. `guard`
    (the account's lock and the run's deadline) stops the run between calls; `trigger` is what
    asked for it, as its history shows (worker/sync/triggers.py)."""
    guard = guard or RunGuard()
    view = load_account(account_id)
    logs.bind(account=view.close_user_id)
    run_id = start_run(account_id, trigger)
    tally, reads = Tally(), ProviderReads()
    try:
        reads, the_plan = full_plan(view, guard)
        reads.not_synced.extend(natively_shown(reads.desired, the_plan))
        apply_plan(view, the_plan, tally, guard)
        team_link_hooks.after_full_sync(account_id, reads.desired, trigger)  # §6; never raises
    except RunStopped as exc:
        finish_run(run_id, "error", tally, reads.warnings, f"stopped: {exc}")
        log.warning("full sync of %s stopped: %s", view.close_user_id, exc)
        return run_id
    except RateLimited as exc:
        error = f"rate limited by {exc.provider}; retrying"
        finish_run(run_id, "error", tally, reads.warnings, error)
        raise
    except (ProviderError, NeedsReauth) as exc:
        # Reading the providers holds their failures; what reaches here is Close's.
        finish_run(run_id, "error", tally, reads.warnings, f"{exc.provider or 'close'}: {exc}")
        return run_id
    except Exception as exc:
        # Unexpected: record it so an operator sees it, then let the task layer log the trace.
        error = f"internal error: {type(exc).__name__}"
        finish_run(run_id, "error", tally, reads.warnings, error)
        raise
    outcome = outcome_of(view, reads, tally)
    error_parts = [f"{p}: {msg}" for p, msg in reads.failures.items()] + tally.errors[:5]
    finish_run(
        run_id,
        outcome,
        tally,
        reads.warnings,
        "; ".join(error_parts) or None,
        not_synced=[item.as_json() for item in reads.not_synced],
        held=reads.desired.held_providers,
    )
    log.info(
        "full sync of %s: %s (created=%d updated=%d deleted=%d unchanged=%d failed=%d)",
        view.close_user_id,
        outcome,
        tally.created,
        tally.updated,
        tally.deleted,
        tally.unchanged,
        tally.failed,
        extra={"outcome": outcome},
    )
    return run_id


def full_plan(view: AccountView, guard: RunGuard) -> tuple[ProviderReads, Plan]:
    """Every provider's reads and the pure plan from them: what a full sync applies and what a
    dry run prints (worker/sync/preview.py), so the two never differ."""
    reads = desired_links(view, guard)
    close_links = close_listing(view, reads, guard)
    the_plan = plan(
        reads.desired,
        close_links,
        close_user_id=view.close_user_id,
        our_client_id=view.our_client_id,
        known_source_ids=known_source_ids(view.id),
        complete=not reads.close_incomplete,
    )
    return reads, the_plan
