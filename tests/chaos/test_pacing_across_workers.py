"""Four worker processes (2 Celery workers x concurrency 2) syncing one organization against the
sandbox's tight Close limit, which all its accounts share: the shared pacer keeps 429s under 1%
and sends nothing before an announced reset (CONTRACT §5 "Rate limits"). bench/pacing.py runs the
same scenario at full size."""

from __future__ import annotations

import math

import pytest

from bench.pacing import run_pacing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

USERS, EVENT_TYPES, SAVVYCAL_LINKS = 8, 6, 4
LIMIT, WINDOW = 20, 2.0


def test_workers_sharing_one_organizations_close_limit_stay_under_it(stack):
    figures = run_pacing(
        stack,
        users=USERS,
        event_types=EVENT_TYPES,
        savvycal_links=SAVVYCAL_LINKS,
        limit=LIMIT,
        window=WINDOW,
        workers=2,
        concurrency=2,
        timeout=60,
    )

    assert figures.converged
    assert figures.early == 0
    assert figures.rate_limited < 0.01 * figures.calls
    writes = USERS * (EVENT_TYPES + SAVVYCAL_LINKS)
    # The limit really bound the run: the writes needed this many windows, no fewer.
    assert figures.wall_seconds >= (math.ceil(writes / LIMIT) - 1) * WINDOW
    # Nothing was read twice: no run gave up at a window boundary and started over.
    assert figures.calls == writes + 3 * USERS  # one page each of Calendly, SavvyCal, Close
