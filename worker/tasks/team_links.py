"""Team-link tasks: map one rep, map every rep of a new team link, delete a team link."""

from __future__ import annotations

import logging

from celery import shared_task

from worker.auth.tokens import NeedsReauth
from worker.providers.errors import ProviderError, RateLimited
from worker.sync import rep_mappings, team_link_lifecycle
from worker.sync.team_link_grants import NoPermittedUser

log = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 2


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=8)
def map_rep_links(self, account_id: int, held: list[str] | None = None) -> str:
    """Make the rep's team-link mappings agree with the rule (`held`: providers whose listing
    just failed, whose links decide nothing)."""
    try:
        sent = rep_mappings.map_rep(account_id, held or ())
    except rep_mappings.RepBusy as exc:
        # The holder may have read the rep's links before the change that enqueued this task.
        raise self.retry(countdown=BUSY_RETRY_SECONDS, exc=exc) from exc
    except RateLimited as exc:
        raise self.retry(countdown=exc.retry_after, exc=exc) from exc
    log.info("team links of account %s: %d change(s)", account_id, sent)
    return "ok"


@shared_task(ignore_result=True)
def map_team_link_reps(team_link_id: int) -> int:
    """A new team link: map every rep of its organization, one task each."""
    reps = team_link_lifecycle.reps_of(team_link_id)
    for account_id in reps:
        map_rep_links.apply_async((account_id, []))
    return len(reps)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=12)
def delete_team_link(self, team_link_id: int) -> str:
    try:
        team_link_lifecycle.delete_team_link(team_link_id)
    except rep_mappings.RepBusy as exc:
        raise self.retry(countdown=BUSY_RETRY_SECONDS, exc=exc) from exc
    except RateLimited as exc:
        raise self.retry(countdown=exc.retry_after, exc=exc) from exc
    except (ProviderError, NeedsReauth, NoPermittedUser) as exc:
        log.warning("team link %s not deleted yet: %s", team_link_id, exc)
        raise self.retry(countdown=min(30 * 2**self.request.retries, 1800), exc=exc) from exc
    return "ok"
