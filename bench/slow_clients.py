"""Slow clients against the web process: /healthz and signed Calendly deliveries, measured while
N slow connections are held open, for this tree and for a baseline revision in the same run.

    .venv/bin/python bench/slow_clients.py [--slow 0,50,200] [--baseline c3e9e17]
        [--workers 2] [--rate 10] [--seconds 5] [--timeout 5] [--markdown FILE]

The slow connections (tests/edge/slow_clients.py) are mixed in turn: a 60 KB form trickled two
bytes every 0.5 s, a request head trickled the same way, a declared 10 GB body that never comes,
and a connection that sends nothing; each is reopened when the server answers or drops it, and
the dropped socket is never closed from this side. While they are held, /healthz and a signed
delivery (a distinct body each) are each sent `--rate` times a second for `--seconds`, open loop
on fresh connections, each given `--timeout` seconds.

Both trees run as the Procfile starts them (`gunicorn "web:create_app()"` from the tree's root,
so its gunicorn.conf.py applies) with `--workers N`, a private redis-server and SQLite, all on
127.0.0.1. The baseline is `git archive REV` unpacked into a temporary directory. Bounded in time
(about 10 s per phase); ends only the processes it started, by pid.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import RedisServer, free_port  # noqa: E402
from tests.edge.conftest import seed_hook, signed_delivery  # noqa: E402
from tests.edge.slow_clients import SlowClients, healthz_request, timed_request  # noqa: E402
from tests.processes import BIN, Stack, wait_http  # noqa: E402


@dataclass
class Probes:
    total: int
    answered: int  # 2xx within the timeout
    seconds: list[float]  # of the answered ones

    def pct(self, q: float) -> float:
        if not self.seconds:
            return float("nan")
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class Phase:
    tree: str
    slow: int
    healthz: Probes
    webhook: Probes
    slow_opened: int
    slow_dropped: int


def export(rev: str, into: Path) -> Path:
    """`git archive rev`, unpacked: the baseline's files without touching any worktree."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def start(tree: Path, tmp: Path, redis_url: str, workers: int) -> tuple[Stack, int]:
    stack = Stack(tmp, redis_url, env_overrides={"PYTHONPATH": str(tree)})
    stack.migrate()
    seed_hook(tmp / "schedsync.db", redis_url)
    port = free_port()
    proc = stack.spawn(
        "web",
        str(BIN / "gunicorn"),
        "web:create_app()",
        *("--bind", f"127.0.0.1:{port}", "--workers", str(workers)),
        cwd=tree,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return stack, port


def probe(port: int, rate: float, seconds: float, timeout: float) -> tuple[Probes, Probes]:
    results: dict[str, list[tuple[int | None, float]]] = {"healthz": [], "webhook": []}
    lock = threading.Lock()
    serial = iter(range(10**9))

    def one(kind: str) -> None:
        if kind == "healthz":
            request = healthz_request(port)
        else:
            request = signed_delivery(port, created_at=f"bench-{time.time()}-{next(serial)}")
        outcome = timed_request(port, request, timeout)
        with lock:
            results[kind].append(outcome)

    count = int(rate * seconds)
    started = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        for i in range(count):
            pause = started + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            pool.submit(one, "healthz")
            pool.submit(one, "webhook")

    def summary(outcomes: list[tuple[int | None, float]]) -> Probes:
        ok = [s for status, s in outcomes if status is not None and 200 <= status < 300]
        return Probes(len(outcomes), len(ok), ok)

    return summary(results["healthz"]), summary(results["webhook"])


def run_tree(label: str, tree: Path, args: argparse.Namespace, redis_url: str) -> list[Phase]:
    phases = []
    with tempfile.TemporaryDirectory(prefix=f"slow-clients-{label}-") as tmp:
        stack, port = start(tree, Path(tmp), redis_url, args.workers)
        try:
            for slow in args.slow:
                with SlowClients(port, slow) as held:
                    time.sleep(1.5)  # every slow connection open and mid-request
                    healthz, webhook = probe(port, args.rate, args.seconds, args.timeout)
                    phases.append(
                        Phase(label, slow, healthz, webhook, held.opened, held.dropped_by_server)
                    )
                print(f"{label:>8} slow={slow:<4} healthz {fmt(healthz)}  webhook {fmt(webhook)}")
                time.sleep(2)  # let the server drop what is left before the next phase
        finally:
            stack.stop_all()
    return phases


def fmt(p: Probes) -> str:
    return f"{p.answered}/{p.total} answered, p50 {p.pct(0.5):.1f} ms, p99 {p.pct(0.99):.1f} ms"


def cell(p: Probes) -> str:
    if not p.answered:
        return f"0 / {p.total} answered"
    return f"{p.pct(0.5):.1f} / {p.pct(0.99):.1f} ms ({p.answered} / {p.total})"


def markdown(args: argparse.Namespace, phases: list[Phase]) -> str:
    lines = [
        f"`bench/slow_clients.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{args.workers} workers, probes {args.rate:g}/s each for {args.seconds:g} s, "
        f"timeout {args.timeout:g} s.",
        "",
        "| tree | slow connections held | /healthz p50 / p99 (answered) "
        "| webhook p50 / p99 (answered) | slow connections opened / cut off by the server |",
        "|---|---:|---|---|---:|",
    ]
    for p in phases:
        lines.append(
            f"| {p.tree} | {p.slow} | {cell(p.healthz)} | {cell(p.webhook)} "
            f"| {p.slow_opened} / {p.slow_dropped} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", default="0,50,200", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--baseline", default="c3e9e17", help="git revision to compare with")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="slow-clients-") as tmp:
        redis = RedisServer(Path(tmp))
        redis.start()
        try:
            baseline = export(args.baseline, Path(tmp) / "baseline")
            phases = run_tree(args.baseline, baseline, args, redis.url)
            phases += run_tree("this tree", ROOT, args, redis.url)
        finally:
            redis.stop()
    text = markdown(args, phases)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
