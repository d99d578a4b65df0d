"""Does a worker keep pace when the providers are far away? The no-op resync of N accounts (5
Calendly event types and 5 SavvyCal links each) with 0 ms and with 100 ms added to every
provider call, side by side in one run, with one worker started exactly as the Procfile says
(`celery -A worker worker`); the threads pool against the prefork baseline; first syncs and
webhook-targeted tasks the same way; the worker's process tree's peak RSS.

    .venv/bin/python bench/latency.py [--sizes 300,1000,5000] [--baseline-sizes 300]
                                      [--latency-ms 100] [--first 50] [--out F.md]

Everything runs on 127.0.0.1 and is started here: a private redis-server, the provider
stand-in (bench/standin.py) in a process of its own, the worker; each is stopped by its pid at
the end, and every wait is bounded (--timeout per phase). Accounts are written straight into the
database (bench/seeding.py); each pool and size gets accounts of its own, so every first sync
is a real first sync.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale_measure import CpuClock, MemorySampler, machine  # noqa: E402
from tests.conftest import TEST_KEY, RedisServer  # noqa: E402
from tests.processes import BIN, Proc, Stack  # noqa: E402

EVENT_TYPES = LINKS = 5
NOOP_BOUND = 3  # Calendly, SavvyCal and Close: one page each
FIRST_BOUND = 3 + EVENT_TYPES + LINKS  # the same pages, and every link written once
TARGETED_BOUND = 2  # the event type by uuid, Close's links
TARGET_RATIO = 1.5
TARGET_MB = 300


@dataclass
class Phase:
    pool: str
    accounts: int
    what: str
    latency_ms: int
    seconds: float
    requests: int
    bound: int
    ok: int
    cpu: float  # the worker's CPU seconds (its process tree)
    leaks: int

    def line(self) -> str:
        return (
            f"{self.pool:8} {self.accounts:>5} {self.what:9} {self.latency_ms:>4} ms "
            f"{self.seconds:8.1f} s  requests/account {self.requests / self.accounts:5.2f} "
            f"(bound {self.bound})  ok {self.ok}/{self.accounts}  worker CPU "
            f"{1000 * self.cpu / self.accounts:5.1f} ms/account  leaks {self.leaks}"
        )


@dataclass
class Run:
    tmp: Path
    args: argparse.Namespace
    next_account: int = 0
    phases: list[Phase] = field(default_factory=list)
    memory: dict[str, int] = field(default_factory=dict)  # "pool N" -> peak RSS kB (tree)
    processes: dict[str, int] = field(default_factory=dict)

    def start(self, total_accounts: int) -> None:
        self.redis = RedisServer(self.tmp)
        self.redis.start()
        self.stack = Stack(self.tmp, self.redis.url)
        self.standin = self.stack.spawn(
            "standin",
            *(sys.executable, "-m", "bench.standin", "--accounts", str(total_accounts)),
        )
        self.base = self.wait_standin(self.standin)
        self.stack.env_overrides.update(
            {
                "CLOSE_API_URL": f"{self.base}/close",
                "CALENDLY_API_URL": f"{self.base}/calendly",
                "SAVVYCAL_API_URL": f"{self.base}/savvycal",
                "SAVVYCAL_BOOKING_URL": "https://savvycal.example",
                "LOG_FORMAT": "text",
            }
        )
        self.stack.migrate()
        # This process records triggers and enqueues like the web does, on the same database.
        os.environ.update(
            {
                "DATABASE_URL": f"sqlite:///{self.tmp / 'schedsync.db'}",
                "REDIS_URL": self.redis.url,
                "ENCRYPTION_KEYS": TEST_KEY,
                "SECRET_KEY": "bench",
                **self.stack.env_overrides,
            }
        )
        from worker import runtime
        from worker.celery_app import apply_settings, celery_app
        from worker.config import load_settings

        settings = load_settings(dotenv=False)
        runtime.configure(settings)
        apply_settings(celery_app, settings)
        self.db = self.tmp / "schedsync.db"

    def wait_standin(self, proc: Proc) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for line in proc.log.read_text().splitlines():
                if line.startswith("standin "):
                    return line.split()[1]
            time.sleep(0.1)
        raise RuntimeError(f"the stand-in did not start:\n{proc.tail()}")

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        answer = requests.request(method, f"{self.base}/_standin/{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def stop(self) -> None:
        self.stack.stop_all()
        self.redis.stop()

    def seed(self, count: int, synced: bool = False) -> tuple[list[int], list[int]]:
        """(account ids, stand-in account numbers) of `count` fresh accounts; `synced`: with
        their links already in the stand-in's Close, as a first sync leaves them."""
        from bench.seeding import seed_accounts_from, synced_links

        numbers = list(range(self.next_account, self.next_account + count))
        self.next_account += count
        ids = seed_accounts_from(self.base, numbers, synced=synced)
        if synced:
            for start in range(0, count, 500):
                chunk = numbers[start : start + 500]
                self.control("POST", "close_links", {"accounts": synced_links(self.base, chunk)})
        return ids, numbers

    def worker(self, pool: str) -> Proc:
        # Exactly the Procfile's command; the baseline pool is chosen by WORKER_POOL (a -P on the
        # command line would lose to the app's configured pool).
        env = {}
        if pool != "threads":
            # What `celery -A worker worker` ran before the threads pool: prefork, one process
            # per core.
            env = {"WORKER_POOL": pool, "WORKER_CONCURRENCY": str(self.args.baseline_concurrency)}
        proc = self.stack.spawn(
            f"worker-{pool}",
            str(BIN / "celery"),
            "-A",
            "worker",
            "worker",
            "--loglevel",
            "WARNING",
            env=env,
        )
        deadline = time.monotonic() + 60
        while "ready." not in proc.log.read_text(errors="replace"):
            if time.monotonic() > deadline or not proc.alive():
                raise RuntimeError(f"the worker did not start:\n{proc.tail()}")
            time.sleep(0.1)
        return proc

    def finished(self, ids: list[int], since: str) -> tuple[int, int, str | None]:
        """(accounts whose newest full sync started at/after `since` and ended, of them ok,
        the last finish)."""
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            row = db.execute(
                "SELECT count(*), sum(outcome = 'ok'), max(finished_at) FROM sync_runs "
                "WHERE account_id BETWEEN ? AND ? AND started_at >= ? AND outcome != 'running'",
                (min(ids), max(ids), since),
            ).fetchone()
        finally:
            db.close()
        return row[0], row[1] or 0, row[2]

    def full_syncs(self, pool: str, worker: Proc, ids: list[int], what: str, ms: int) -> Phase:
        from worker.sync import triggers

        self.control("POST", "latency", {"ms": ms})
        self.control("DELETE", "stats")
        clock = CpuClock({"worker": worker.pid})
        since = datetime.now(UTC).replace(tzinfo=None)
        since_text = since.isoformat(sep=" ", timespec="microseconds")
        started = time.monotonic()
        triggers.request_full_syncs(ids)
        deadline = started + self.args.timeout
        done = ok = 0
        last = None
        while time.monotonic() < deadline:
            done, ok, last = self.finished(ids, since_text)
            if done >= len(ids):
                break
            time.sleep(0.2)
        seconds = (datetime.fromisoformat(last) - since).total_seconds() if last else float("nan")
        stats = self.control("GET", "stats")
        bound = NOOP_BOUND if what == "no-op" else FIRST_BOUND
        phase = Phase(
            pool,
            len(ids),
            what,
            ms,
            seconds,
            sum(stats["requests"].values()),
            bound,
            ok,
            clock.elapsed()["worker"],
            len(stats["leaks"]),
        )
        print(phase.line(), flush=True)
        self.phases.append(phase)
        return phase

    def targeted(self, pool: str, worker: Proc, ids: list[int], numbers: list[int], ms: int):
        """One webhook-targeted task per account (an event type that did not change), timed from
        the enqueue to the last task's last call (Close's listing) plus the tasks' ends."""
        from bench.standin import event_type_uuid
        from worker import queue

        self.control("POST", "latency", {"ms": ms})
        self.control("DELETE", "stats")
        clock = CpuClock({"worker": worker.pid})
        started = time.monotonic()
        for account_id, n in zip(ids, numbers, strict=True):
            queue.send(queue.SYNC_EVENT_TYPE, account_id, event_type_uuid(n, 0))
        deadline = started + self.args.timeout
        stats: dict = {"requests": {}}
        while time.monotonic() < deadline:
            stats = self.control("GET", "stats")
            if stats["requests"].get("GET /close/scheduling_link/", 0) >= len(ids):
                break
            time.sleep(0.1)
        seconds = time.monotonic() - started
        listed = stats["requests"].get("GET /close/scheduling_link/", 0)
        phase = Phase(
            pool,
            len(ids),
            "targeted",
            ms,
            seconds,
            sum(stats["requests"].values()),
            TARGETED_BOUND,
            listed,
            clock.elapsed()["worker"],
            len(stats.get("leaks", [])),
        )
        print(phase.line(), flush=True)
        self.phases.append(phase)

    def measure_pool(self, pool: str, size: int, with_first: bool, with_targeted: bool) -> None:
        worker = self.worker(pool)
        sampler = MemorySampler({"worker": worker.pid})
        sampler.start()
        try:
            if with_first:
                ids, numbers = self.seed(self.args.first)
                self.full_syncs(pool, worker, ids, "first", 0)
                ids, numbers = self.seed(self.args.first)
                self.full_syncs(pool, worker, ids, "first", self.args.latency_ms)
            if size >= self.args.short_from:
                ids, numbers = self.seed(size, synced=True)
            else:
                ids, numbers = self.seed(size)
                self.full_syncs(pool, worker, ids, "first", 0)  # their links, not measured twice
                self.phases.pop()
            for ms in (0, self.args.latency_ms):
                self.full_syncs(pool, worker, ids, "no-op", ms)
            if with_targeted:
                for ms in (0, self.args.latency_ms):
                    self.targeted(pool, worker, ids, numbers, ms)
        finally:
            sampler.stop()
            worker.stop(grace=30)
        self.memory[f"{pool} {size}"] = sampler.peak_rss_kb["worker"]
        self.processes[f"{pool} {size}"] = sampler.processes["worker"]
        print(
            f"{pool} {size}: worker peak RSS {sampler.peak_rss_kb['worker'] / 1024:.0f} MB over "
            f"{sampler.processes['worker']} processes",
            flush=True,
        )


def describe(host: dict[str, str]) -> str:
    return (
        f"{host['nproc']} cores ({host['cpu']}), {host['memory']}, Python {host['python']}, "
        f"{host['date']}"
    )


def report(run: Run, args: argparse.Namespace, host: dict[str, str], wall: float) -> str:
    load_now = " ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"Command: `python bench/latency.py {' '.join(sys.argv[1:])}` on {describe(host)}; the "
        f"whole run took {wall:.0f} s; load average (1, 5, 15 min) {host['load']} at the start, "
        f"{load_now} at the end.",
        "",
        "| pool | accounts | sync | added latency | seconds | requests/account (bound) | ok "
        "| worker CPU ms/account | leaks |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in run.phases:
        lines.append(
            f"| {p.pool} | {p.accounts} | {p.what} | {p.latency_ms} ms | {p.seconds:.1f} | "
            f"{p.requests / p.accounts:.2f} ({p.bound}) | {p.ok} | "
            f"{1000 * p.cpu / p.accounts:.1f} | {p.leaks} |"
        )
    lines += ["", "| pool | accounts | sync | seconds at 0 ms → at added latency | ratio |"]
    lines.append("|---|---:|---|---|---:|")
    by_key = {(p.pool, p.accounts, p.what, p.latency_ms): p for p in run.phases}
    for (pool, accounts, what, ms), p in by_key.items():
        if ms == 0 and (pool, accounts, what, args.latency_ms) in by_key:
            q = by_key[(pool, accounts, what, args.latency_ms)]
            ratio = q.seconds / p.seconds if p.seconds else float("nan")
            mark = " ✓" if what == "no-op" and ratio <= TARGET_RATIO else ""
            lines.append(
                f"| {pool} | {accounts} | {what} | {p.seconds:.1f} → {q.seconds:.1f} | "
                f"{ratio:.2f}×{mark} |"
            )
    lines += ["", "| worker | peak RSS of its processes together | processes |", "|---|---:|---:|"]
    for key, kb in run.memory.items():
        lines.append(f"| {key} | {kb / 1024:.0f} MB | {run.processes[key]} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300,1000,5000")
    parser.add_argument("--baseline-sizes", default="300", help="prefork runs (slow at 100 ms)")
    parser.add_argument("--targeted-sizes", default="300")
    parser.add_argument(
        "--baseline-concurrency",
        type=int,
        default=os.cpu_count() or 1,
        help="prefork processes (Celery's default: one per core)",
    )
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--first", type=int, default=50, help="accounts per first-sync phase")
    parser.add_argument("--timeout", type=float, default=600, help="per phase, seconds")
    parser.add_argument(
        "--short-from",
        type=int,
        default=5000,
        help="from this size on, accounts start as synced (no unmeasured first sync)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    baseline = [int(s) for s in args.baseline_sizes.split(",") if s]
    targeted = [int(s) for s in args.targeted_sizes.split(",") if s]
    runs = [("threads", s) for s in sizes] + [("prefork", s) for s in baseline]
    total = sum(s + 2 * args.first for _, s in runs)
    host = machine()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="schedsync-latency-") as tmp:
        run = Run(Path(tmp), args)
        try:
            run.start(total)
            # The baseline first at the smallest size, then the threads pool at every size.
            order = [r for r in runs if r[0] == "prefork"] + [r for r in runs if r[0] != "prefork"]
            firsts_done: set[str] = set()
            for pool, size in order:
                run.measure_pool(pool, size, pool not in firsts_done, size in targeted)
                firsts_done.add(pool)
        except BaseException:
            print(run.stack.logs(), file=sys.stderr)
            raise
        finally:
            run.stop()
    text = report(run, args, host, time.monotonic() - started)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
