"""What the team-link hand-over adds to a no-op full sync: requests (must be none) and time,
measured in the same run against the sync without it (the baseline).

    .venv/bin/python bench/team_link_hook.py [--event-types 200] [--savvycal-links 150] [--runs 15]

Three ways, each a no-op full sync of one generated account repeated `--runs` times: without the
hook (the code before team links), with the hook for an organization that has no team link, and
with one (the mapping task is counted instead of sent: its work runs in its own task). Real sync
code in-process against bench/stub.py on 127.0.0.1, temporary SQLite, fakeredis.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reconcile import measure, setup  # noqa: E402
from bench.stub import World, serve  # noqa: E402
from worker import runtime  # noqa: E402
from worker.storage.models import TeamLink  # noqa: E402
from worker.sync import full, team_link_hooks  # noqa: E402


class NoHook:
    """The sync as it was before team links: no hand-over at all."""

    @staticmethod
    def after_full_sync(*_args: object) -> None:
        return None


def set_team_link(team_link_id: int, active: bool) -> None:
    with runtime.session_scope() as session:
        session.get(TeamLink, team_link_id).state = "active" if active else "deleting"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event-types", type=int, default=200)
    parser.add_argument("--savvycal-links", type=int, default=150)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    world = World()
    server, base = serve(world)
    world.seed(base, args.event_types, args.savvycal_links)
    enqueued: list[int] = []
    team_link_hooks.enqueue_rep = lambda account_id, held=(), trigger=None: enqueued.append(
        account_id
    )
    with_hook = full.team_link_hooks
    ways = ("without the hook (baseline)", "hook, no team link", "hook, one team link")
    timings: dict[str, list[float]] = {way: [] for way in ways}
    requests: dict[str, set[int]] = {way: set() for way in ways}
    with tempfile.TemporaryDirectory() as tmp:
        account_id = setup(base, Path(tmp))
        measure(world, account_id)  # the first sync pushes everything
        with runtime.session_scope() as session:
            row = TeamLink(organization_id="orga_bench", name="Intro", calendly_slug="m1")
            session.add(row)
            session.flush()
            team_link_id = row.id
        # Interleaved, so a busy machine's drift is shared by the three ways.
        for _ in range(args.runs):
            for way in ways:
                full.team_link_hooks = NoHook if way == ways[0] else with_hook  # type: ignore[assignment]
                set_team_link(team_link_id, active=way == ways[2])
                total, _, seconds = measure(world, account_id)
                timings[way].append(seconds * 1000)
                requests[way].add(total)
    server.shutdown()
    links = args.event_types + args.savvycal_links
    print(f"no-op full sync of {links} links, median of {args.runs} runs each")
    print(f"{'':<30}{'requests':>10}{'ms':>10}")
    for way in ways:
        counts = "/".join(str(n) for n in sorted(requests[way]))
        print(f"{way:<30}{counts:>10}{statistics.median(timings[way]):>10.1f}")
    print(f"mapping tasks enqueued: {len(enqueued)} (one per sync with a team link)")
    same_requests = len(set().union(*requests.values())) == 1
    print("no extra provider request" if same_requests else "EXTRA provider requests")
    return 0 if same_requests and len(enqueued) == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
