"""What the sync history and the metrics add to the hot path: database statements and time of a
no-op full sync and of a webhook's one-link run (a rename each time), against the same code with
history and metrics switched off (the baseline: the code before them), measured in the same run;
and the cost of one metrics count.

    .venv/bin/python bench/history_cost.py [--event-types 200] [--savvycal-links 150] [--runs 25]

Real sync code in-process against bench/stub.py on 127.0.0.1, temporary SQLite, fakeredis. The
two ways are interleaved run by run, so a busy machine's drift is shared by both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from bench.reconcile import setup  # noqa: E402
from bench.stub import World, serve  # noqa: E402
from worker import metrics, runtime  # noqa: E402
from worker.providers import http  # noqa: E402
from worker.sync import apply, full, runs, targeted  # noqa: E402

OFF_METRICS = SimpleNamespace(count=lambda *a, **k: None, observe=lambda *a, **k: None)
OFF_HISTORY = SimpleNamespace(store=lambda *a, **k: None, prune=lambda *a, **k: None)
ON = {
    "metrics": (runs.metrics, apply.metrics, http.metrics),
    "history": runs.history,
    "record": targeted.record_finished_run,
}


def switch(on: bool) -> None:
    m = ON["metrics"] if on else (OFF_METRICS,) * 3
    runs.metrics, apply.metrics, http.metrics = m
    runs.history = ON["history"] if on else OFF_HISTORY
    # Before the history a webhook's run was not recorded at all.
    targeted.record_finished_run = ON["record"] if on else (lambda *a, **k: 0)


class Statements:
    def __init__(self) -> None:
        self.n = 0
        event.listen(runtime.engine(), "before_cursor_execute", self._count)

    def _count(self, *_args: object) -> None:
        self.n += 1


def timed(fn, statements: Statements) -> tuple[float, int]:
    before = statements.n
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000, statements.n - before


def count_cost(calls: int) -> float:
    metrics.discard()
    started = time.perf_counter()
    for _ in range(calls):
        metrics.count("schedsync_link_writes_total", provider="calendly", action="updated")
    per_call = (time.perf_counter() - started) / calls * 1e6
    metrics.discard()
    return per_call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event-types", type=int, default=200)
    parser.add_argument("--savvycal-links", type=int, default=150)
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    world = World()
    server, base = serve(world)
    world.seed(base, args.event_types, args.savvycal_links)
    ways = ("baseline (no history, no metrics)", "history + metrics")
    results = {(w, k): [] for w in ways for k in ("full", "webhook")}
    with tempfile.TemporaryDirectory() as tmp:
        account_id = setup(base, Path(tmp))
        statements = Statements()
        full.full_sync(account_id)  # the first sync pushes everything
        uuid = world.event_types[0]["uri"].rsplit("/", 1)[-1]
        n = 0
        for _ in range(args.runs):
            for on, way in ((False, ways[0]), (True, ways[1])):
                switch(on)
                results[(way, "full")].append(timed(lambda: full.full_sync(account_id), statements))
                n += 1
                world.event_types[0]["name"] = f"Renamed {n}"
                results[(way, "webhook")].append(
                    timed(lambda: targeted.sync_event_type(account_id, uuid), statements)
                )
        switch(True)
        per_count = count_cost(100_000)
    server.shutdown()
    links = args.event_types + args.savvycal_links
    print(f"{links} links; median of {args.runs} runs each, interleaved")
    print(f"{'':<36}{'no-op full sync':>22}{'webhook rename':>22}")
    print(f"{'':<36}{'ms':>11}{'statements':>11}{'ms':>11}{'statements':>11}")
    for way in ways:
        f, w = results[(way, "full")], results[(way, "webhook")]
        print(
            f"{way:<36}{statistics.median(x for x, _ in f):>11.1f}"
            f"{statistics.median(s for _, s in f):>11.0f}"
            f"{statistics.median(x for x, _ in w):>11.1f}"
            f"{statistics.median(s for _, s in w):>11.0f}"
        )
    print(f"metrics.count: {per_count:.2f} µs per call (in-process; Redis once a second)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
