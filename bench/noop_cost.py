"""What one no-op account costs the worker once the providers' latency is hidden: CPU, database
statements and sessions, Redis round trips, per account, with the reconcile task's own code in
this process against bench/standin.py (0 ms added) and a private redis-server.

    .venv/bin/python bench/noop_cost.py [--accounts 200] [--tree DIR]

`--tree` runs another checkout's `worker` package (e.g. a `git worktree` of an older commit) with
this checkout's stand-in, so before and after are measured the same way. The CPU figure is this
process's, and so includes the stand-in's threads: compare it between trees, not to a worker's.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import tempfile
import time
import types
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--tree", type=Path, default=HERE.parent)
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))
    # bench/ is always this checkout's (an older tree has no stand-in); worker/ is the tree's.
    bench = types.ModuleType("bench")
    bench.__path__ = [str(HERE)]
    sys.modules["bench"] = bench

    from sqlalchemy import event

    from bench.seeding import seed_accounts
    from bench.standin import serve
    from tests.conftest import RedisServer, make_settings
    from worker import logs, runtime
    from worker.storage import migrate
    from worker.sync import triggers
    from worker.tasks.reconcile import reconcile_account

    with tempfile.TemporaryDirectory(prefix="schedsync-noop-") as name:
        tmp = Path(name)
        redis_server = RedisServer(tmp)
        redis_server.start()
        server, world = serve(args.accounts)
        try:
            runtime.configure(
                make_settings(
                    tmp,
                    close_api_url=f"{world.base}/close",
                    calendly_api_url=f"{world.base}/calendly",
                    savvycal_api_url=f"{world.base}/savvycal",
                    redis_url=redis_server.url,
                )
            )
            migrate.upgrade(runtime.engine())
            ids = seed_accounts(world.base, args.accounts)

            def run_all() -> None:
                triggers.record(ids)
                for account_id in ids:
                    logs.begin_task("noop")
                    reconcile_account.run(account_id)
                    logs.end_task()

            run_all()  # the first sync: every link written once
            statements: Counter[str] = Counter()
            event.listen(
                runtime.engine(),
                "before_cursor_execute",
                lambda _c, _k, sql, *_a: statements.update([sql.split()[0]]),
            )
            sessions = Counter()
            scope = runtime.session_scope

            @contextlib.contextmanager
            def counted():
                sessions["sessions"] += 1
                with scope() as session:
                    yield session

            runtime.session_scope = counted
            trips = count_round_trips()
            redis = runtime.redis_client()
            before = redis.info("commandstats")
            cpu, wall = time.process_time(), time.perf_counter()
            run_all()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            after = redis.info("commandstats")
        finally:
            server.shutdown()
            redis_server.stop()
    n = args.accounts
    commands = {
        k.removeprefix("cmdstat_"): after[k]["calls"] - before.get(k, {"calls": 0})["calls"]
        for k in after
        if k != "cmdstat_info"
    }
    print(f"tree: {args.tree.resolve()}; {n} no-op accounts, one at a time, in {wall:.1f} s")
    print(f"CPU per account: {1000 * cpu / n:.1f} ms (this process, stand-in included)")
    print(
        f"database per account: {sessions['sessions'] / n:.1f} sessions, "
        f"{sum(statements.values()) / n:.1f} statements ({dict(statements)})"
    )
    print(
        f"Redis per account: {trips['n'] / n:.1f} round trips; commands Redis ran, scripts' "
        f"included: {sum(v for v in commands.values() if v) / n:.1f} "
        f"({ {k: v for k, v in commands.items() if v} })"
    )
    return 0


def count_round_trips() -> Counter:
    """Count every read of a Redis reply on a socket (a pipeline's batch is one trip)."""
    from redis.connection import Connection

    trips: Counter[str] = Counter()
    original = Connection.send_packed_command

    def send(self, command, check_health=True):  # noqa: ANN001 - redis-py's own signature
        trips["n"] += 1
        return original(self, command, check_health)

    Connection.send_packed_command = send
    return trips


if __name__ == "__main__":
    socket.setdefaulttimeout(60)
    sys.exit(main())
