"""Team-link tasks: map one rep, map every rep of a new team link, delete a team link."""

from __future__ import annotations

import logging

from celery import shared_task

from worker import queue
from worker.providers.errors import ProviderError
from worker.sync import rep_mappings, team_link_lifecycle, triggers
from worker.sync.team_link_grants import NoPermittedUser
from worker.tasks.policy import Backoff, PolicyTask

log = logging.getLogger(__name__)


# RepBusy carries its own short retry_after: the holder may have read the rep's links before the
# change that enqueued this task. Any other failure is left to the rep's next full sync.
@shared_task(base=PolicyTask, max_retries=8, retry_on=())
def map_rep_links(
    account_id: int, held: list[str] | None = None, trigger: str | None = None
) -> str:
    """Make the rep's team-link mappings agree with the rule (`held`: providers whose listing
    just failed, whose links decide nothing; `trigger`: what asked for it, for the history)."""
    sent = rep_mappings.map_rep(account_id, held or (), trigger)
    log.info("team links of account %s: %d change(s)", account_id, sent)
    return "ok"


@shared_task(ignore_result=True)
def map_team_link_reps(team_link_id: int) -> int:
    """A new team link: map every rep of its organization, one task each (an operator's doing)."""
    reps = team_link_lifecycle.reps_of(team_link_id)
    for account_id in reps:
        queue.send(queue.MAP_REP_LINKS, account_id, [], triggers.ADMIN)
    return len(reps)


@shared_task(
    base=PolicyTask,
    max_retries=12,
    backoff=Backoff(30, 1800),
    retry_on=(ProviderError, NoPermittedUser),
    retry_needs_reauth=True,
)
def delete_team_link(team_link_id: int) -> str:
    team_link_lifecycle.delete_team_link(team_link_id)
    return "ok"
