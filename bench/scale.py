"""The service at scale against the sandbox: 1,000 reps, each with 10 Calendly event types and 10
SavvyCal links, connected through the real OAuth flows; then the first full sync of every
account, a no-op resync of every account, provider requests per account, CPU per process and the
workers' memory.

    .venv/bin/python bench/scale.py [--users 1000] [--concurrency 1] [--latency-ms 50] [--out F.md]

Everything runs on 127.0.0.1 and is started here: a private redis-server, the sandbox (--quiet),
gunicorn, two Celery workers; each is stopped by its own pid at the end, and every wait is
bounded (--timeout). Close's sandbox limit (600 per 15 s per organization and endpoint group, all
scale reps in one organization) is raised for the first sync and the first no-op resync, so they
measure schedsync; a last no-op resync runs under the default limit (--skip-throttled: not).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale_measure import (  # noqa: E402
    CpuClock,
    MemorySampler,
    Phase,
    machine,
    write_report,
)
from tests.conftest import RedisServer, free_port  # noqa: E402
from tests.e2e.browser import Browser  # noqa: E402
from tests.e2e.operator import Admin  # noqa: E402
from tests.e2e.world import Sandbox  # noqa: E402
from tests.processes import BIN, Proc, Stack, wait_http, wait_log  # noqa: E402

ADMIN_TOKEN = "stack-admin-token"  # what tests.processes.Stack sets
DEFAULT_CLOSE_LIMIT = 600
RAISED_CLOSE_LIMIT = 1_000_000


def newest_runs(db_path: Path) -> dict[int, tuple[datetime, datetime | None, str]]:
    """account id → (started_at, finished_at, outcome) of its newest full sync, naive UTC."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute(
            "SELECT account_id, started_at, finished_at, outcome FROM sync_runs "
            "ORDER BY account_id, started_at, id"
        ).fetchall()
    finally:
        db.close()
    parse = datetime.fromisoformat
    return {a: (parse(s), parse(f) if f else None, o) for a, s, f, o in rows}


def run_errors(db_path: Path, account_ids: list[int]) -> dict[str, int]:
    """The error text of the given accounts' newest full syncs, counted."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        found: dict[str, int] = {}
        for account_id in account_ids:
            row = db.execute(
                "SELECT error FROM sync_runs WHERE account_id = ? "
                "ORDER BY started_at DESC, id DESC",
                (account_id,),
            ).fetchone()
            text = ((row and row[0]) or "no error recorded")[:160]
            found[text] = found.get(text, 0) + 1
        return found
    finally:
        db.close()


def finished_since(db_path: Path, since: str) -> int:
    """Accounts whose newest full sync started at or after `since` and is not running."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute(
            "SELECT count(*) FROM sync_runs r WHERE r.started_at >= ? AND r.outcome != 'running' "
            "AND r.id = (SELECT n.id FROM sync_runs n WHERE n.account_id = r.account_id "
            "ORDER BY n.started_at DESC, n.id DESC LIMIT 1)",
            (since,),
        ).fetchone()[0]
    finally:
        db.close()


def syncable_accounts(db_path: Path) -> int:
    """Accounts with an active Close grant and an active Calendly or SavvyCal connection."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute(
            "SELECT count(*) FROM accounts a WHERE EXISTS (SELECT 1 FROM connections c WHERE "
            "c.account_id = a.id AND c.provider = 'close' AND c.state = 'active') AND EXISTS "
            "(SELECT 1 FROM connections c WHERE c.account_id = a.id AND c.provider != 'close' "
            "AND c.state = 'active')"
        ).fetchone()[0]
    finally:
        db.close()


def active_subscriptions(db_path: Path) -> int:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        query = "SELECT count(*) FROM connections WHERE provider = 'calendly' AND webhook_state = ?"
        return db.execute(query, ("active",)).fetchone()[0]
    finally:
        db.close()


class Run:
    def __init__(self, tmp: Path, args: argparse.Namespace):
        self.args = args
        self.deadline = time.monotonic() + args.timeout
        self.redis = RedisServer(tmp)
        self.stack = Stack(tmp, "")
        self.db = tmp / "schedsync.db"
        self.workers: list[Proc] = []

    def start(self) -> None:
        self.redis.start()
        self.stack.redis_url = self.redis.url
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        sandbox = self.stack.spawn(
            "sandbox",
            *(sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port)),
            *("--public-url", url, "--quiet"),
        )
        wait_http(f"{url}/_sandbox/env", sandbox)
        self.sandbox = Sandbox(url)
        web_port = free_port()
        self.web = f"http://127.0.0.1:{web_port}"
        self.stack.env_overrides.update({**self.sandbox.env(), "PUBLIC_URL": self.web})
        self.stack.migrate()
        self.stack.start_web(port=web_port, workers=self.args.web_workers)
        # Queuing every account's resync is one request: give it the time it needs.
        self.admin = Admin(self.web, ADMIN_TOKEN, timeout=300)

    def stop(self) -> None:
        self.stack.stop_all()
        self.redis.stop()

    def cpu_clock(self) -> CpuClock:
        pids = {p.name: p.pid for p in self.stack.procs}
        pids["redis"] = self.redis.proc.pid
        return CpuClock(pids, alone={"bench": os.getpid()})

    def connect_everyone(self, people: list[dict]) -> list[str]:
        """Close sign-in, Calendly (PKCE) and SavvyCal by OAuth for each rep, as a browser."""
        savvy = {u["email"]: u["id"] for u in self.sandbox.state()["savvycal"]["users"]}

        def connect(person: dict) -> None:
            browser = Browser(self.web)
            browser.sign_in(person["close_user_id"])
            browser.connect("calendly", person["calendly_user_uuid"])
            browser.connect("savvycal", savvy[person["email"]])

        errors: list[str] = []
        with ThreadPoolExecutor(self.args.connect_threads) as pool:
            for future in [pool.submit(connect, p) for p in people]:
                try:
                    future.result(timeout=max(self.deadline - time.monotonic(), 1))
                except Exception as exc:  # counted and reported, not fatal
                    errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        return errors

    def start_workers(self) -> None:
        # The pool and its size are the app's configuration (a -P on the command line would
        # lose to it), so they go in the environment.
        pool = {"WORKER_POOL": self.args.pool, "WORKER_CONCURRENCY": str(self.args.concurrency)}
        self.workers = [
            self.stack.spawn(
                f"worker{i}",
                *(str(BIN / "celery"), "-A", "worker", "worker", "--loglevel", "INFO"),
                *("-n", f"worker{i}@%h"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                env=pool,
            )
            for i in range(self.args.workers)
        ]
        for proc in self.workers:
            wait_log(proc, "ready.", timeout=max(self.deadline - time.monotonic(), 1))

    def wait_all_synced(self, since: datetime, expected: int) -> dict:
        """Every account's newest full sync started at or after `since` and no longer running
        (the contract's rule), or as many as had when the deadline passed. Polled with one
        aggregate query, so the watching takes little of the CPU the service is measured on."""
        since_text = since.isoformat(sep=" ", timespec="microseconds")
        while time.monotonic() < self.deadline and finished_since(self.db, since_text) < expected:
            time.sleep(0.5)
        runs = newest_runs(self.db)
        return {a: r for a, r in runs.items() if r[0] >= since and r[2] != "running"}

    def measure(
        self,
        name: str,
        since: datetime,
        clock: CpuClock,
        expected: int,
        from_first_start: bool,
        queued_seconds: float | None = None,
    ) -> Phase:
        done = self.wait_all_synced(since, expected)
        cpu = clock.elapsed()
        finished = [r[1] for r in done.values() if r[1] is not None]
        start = min((r[0] for r in done.values()), default=since) if from_first_start else since
        seconds = (max(finished) - start).total_seconds() if finished else float("nan")
        outcomes: dict[str, int] = {}
        for run in done.values():
            outcomes[run[2]] = outcomes.get(run[2], 0) + 1
        seen = self.sandbox.requests_seen()
        counts = {f"{p} {g}": n for p, groups in seen["counts"].items() for g, n in groups.items()}
        failed = [a for a, r in done.items() if r[2] != "ok"]
        phase = Phase(
            name,
            len(done),
            expected,
            seconds,
            outcomes,
            counts,
            seen["rate_limited"],
            seen["early_requests_total"],
            cpu,
            queued_seconds,
            run_errors(self.db, failed),
        )
        print(phase.line(), flush=True)
        return phase

    def resync(self, name: str, close_limit: int, latency_ms: int = 0) -> Phase:
        self.sandbox.send("POST", "/ratelimits", {"provider": "close", "limit": close_limit})
        self.sandbox.send("DELETE", "/faults")
        if latency_ms:
            fault = {"provider": "all", "error_rate": 0, "latency_ms": latency_ms}
            self.sandbox.send("POST", "/faults", fault)
        self.sandbox.send("DELETE", "/requests")
        clock = self.cpu_clock()
        started = time.monotonic()
        asked = self.admin.resync()
        queued = time.monotonic() - started
        print(f"{name}: {asked['queued']} accounts queued in {queued:.1f} s", flush=True)
        since = datetime.fromisoformat(asked["requested_at"].rstrip("Z"))
        phase = self.measure(
            name, since, clock, asked["queued"], from_first_start=False, queued_seconds=queued
        )
        self.sandbox.send("DELETE", "/faults")
        return phase


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--event-types", type=int, default=10)
    parser.add_argument("--savvycal-links", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1, help="WORKER_CONCURRENCY")
    parser.add_argument("--pool", default="prefork", choices=("prefork", "threads"))
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--connect-threads", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=1200, help="whole run, seconds")
    parser.add_argument("--skip-throttled", action="store_true")
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="add a no-op resync with this provider latency"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the report here (markdown)")
    args = parser.parse_args()

    host = machine()  # the load average before anything starts
    with tempfile.TemporaryDirectory(prefix="schedsync-scale-") as tmp:
        run = Run(Path(tmp), args)
        sampler: MemorySampler | None = None
        try:
            run.start()
            people = run.sandbox.send(
                "POST",
                "/seed/scale",
                {
                    "users": args.users,
                    "event_types_per_user": args.event_types,
                    "savvycal_links_per_user": args.savvycal_links,
                },
            )["users"]
            run.sandbox.send(
                "POST", "/ratelimits", {"provider": "close", "limit": RAISED_CLOSE_LIMIT}
            )
            print(f"connecting {len(people)} reps through the OAuth flows", flush=True)
            started, clock = time.monotonic(), run.cpu_clock()
            errors = run.connect_everyone(people)
            connect = (time.monotonic() - started, errors, clock.elapsed())
            print(
                f"  {connect[0]:.1f} s, {len(errors)} failed", *errors[:3], sep="\n  ", flush=True
            )

            run.sandbox.send("DELETE", "/requests")
            since = datetime.now(UTC).replace(tzinfo=None)
            run.start_workers()  # the first syncs were queued by the connects
            sampler = MemorySampler({p.name: p.pid for p in run.workers})
            sampler.start()
            # Every account whose connects got through (a failed one is reported, not waited for).
            expected = syncable_accounts(run.db)
            first = run.measure("first sync", since, run.cpu_clock(), expected, True)
            phases = [first]
            phases.append(run.resync("no-op resync", RAISED_CLOSE_LIMIT))
            if not args.skip_throttled:
                phases.append(run.resync("no-op resync, Close 600/15 s", DEFAULT_CLOSE_LIMIT))
            if args.latency_ms:
                name = f"no-op resync, {args.latency_ms} ms per provider call"
                phases.append(run.resync(name, RAISED_CLOSE_LIMIT, args.latency_ms))
            sampler.stop()
            print(
                write_report(
                    args.out,
                    command="python bench/scale.py " + " ".join(sys.argv[1:]),
                    machine=host,
                    args=vars(args),
                    connect=connect,
                    phases=phases,
                    memory=sampler,
                    subscriptions=active_subscriptions(run.db),
                    raised_limit=RAISED_CLOSE_LIMIT,
                )
            )
        except BaseException:
            print(run.stack.logs(), file=sys.stderr)
            raise
        finally:
            if sampler is not None:
                sampler.stop()
            run.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
