"""What bench/scale.py measures besides time: CPU seconds per process (with its children) from
/proc, the workers' memory sampled every 0.2 s, and the report that puts them beside the
targets."""

from __future__ import annotations

import os
import platform
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024  # kB per MB
TARGET_NOOP_SECONDS = 60
TARGET_NOOP_REQUESTS = 3
TARGET_WORKER_MB = 250
BEGIN = "<!-- bench/scale.py output -->"
END = "<!-- end of bench/scale.py output -->"


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def family(pid: int) -> list[int]:
    """The process and all its descendants alive now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children(current))
    return found


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


class CpuClock:
    """CPU seconds each named process used since the clock was made: with its descendants,
    or `alone` (this process, whose descendants are the service)."""

    def __init__(self, pids: dict[str, int], alone: dict[str, int] | None = None):
        self.pids = pids
        self.alone = alone or {}
        self.start = {pid: cpu_seconds(pid) for name in self.names for pid in self.members(name)}

    @property
    def names(self) -> list[str]:
        return [*self.pids, *self.alone]

    def members(self, name: str) -> list[int]:
        return [self.alone[name]] if name in self.alone else family(self.pids[name])

    def elapsed(self) -> dict[str, float]:
        return {
            name: sum(cpu_seconds(pid) - self.start.get(pid, 0.0) for pid in self.members(name))
            for name in self.names
        }


def proc_status_kb(pid: int) -> dict[str, int]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {
        key: int(value.split()[0])
        for key, _, value in (line.partition(":") for line in lines)
        if key in ("VmRSS", "VmHWM")
    }


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler(threading.Thread):
    """Every 0.2 s, each worker's RSS (its parent plus pool children) summed; the peak of that
    sum, of the PSS sum (shared pages split among the processes sharing them, once a second), and
    each process's own peak (VmHWM)."""

    def __init__(self, workers: dict[str, int]):
        super().__init__(daemon=True)
        self.workers = workers
        self.peak_rss_kb = dict.fromkeys(workers, 0)
        self.peak_pss_kb = dict.fromkeys(workers, 0)
        self.processes = dict.fromkeys(workers, 0)
        self.hwm_kb: dict[str, int] = dict.fromkeys(workers, 0)
        self.halt = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self.halt.wait(0.2):
            for name, parent in self.workers.items():
                pids = family(parent)
                self.processes[name] = max(self.processes[name], len(pids))
                statuses = [proc_status_kb(pid) for pid in pids]
                rss = sum(s.get("VmRSS", 0) for s in statuses)
                self.peak_rss_kb[name] = max(self.peak_rss_kb[name], rss)
                hwm = max((s.get("VmHWM", 0) for s in statuses), default=0)
                self.hwm_kb[name] = max(self.hwm_kb[name], hwm)
                if tick % 5 == 0:
                    pss = sum(pss_kb(pid) for pid in pids)
                    self.peak_pss_kb[name] = max(self.peak_pss_kb[name], pss)
            tick += 1

    def stop(self) -> None:
        self.halt.set()
        if self.is_alive():
            self.join(timeout=5)


@dataclass
class Phase:
    name: str
    done: int
    accounts: int  # the accounts expected to sync in this phase
    seconds: float  # from the trigger (first sync: the first run's start) to the last finish
    outcomes: dict[str, int]
    counts: dict[str, int]  # "provider METHOD path" → requests the sandbox saw
    rate_limited: int
    early: int  # requests the sandbox saw before a reset a 429 had announced to that owner
    cpu: dict[str, float]  # process name → CPU seconds during the phase
    queued_seconds: float | None  # how long POST /admin/resync took to answer
    errors: dict[str, int]  # error of each account whose run did not end ok, counted

    @property
    def requests_per_account(self) -> float:
        return sum(self.counts.values()) / self.accounts

    def line(self) -> str:
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in self.cpu.items())
        return (
            f"  {self.name}: {self.done}/{self.accounts} accounts in {self.seconds:.1f} s, "
            f"outcomes {self.outcomes}, {self.requests_per_account:.2f} requests per account, "
            f"{self.rate_limited} answered 429; CPU s: {cpu}"
        )


def lower_bound(phase: Phase, event_types: int, links: int) -> int:
    pages = -(-event_types // 100) + -(-links // 100) + 1  # Calendly, SavvyCal, Close's list
    return pages + (event_types + links if phase.name == "first sync" else 0)


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "")
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model or platform.processor() or "unknown",
        "memory": f"{mem_kb / MB / 1024:.0f} GiB",
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def phase_rows(phases: list[Phase], args: dict) -> list[str]:
    rows = [
        "| phase | accounts done | seconds | POST /admin/resync answered after | requests per "
        "account | lower bound | 429s | early requests | outcomes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in phases:
        bound = lower_bound(p, args["event_types"], args["savvycal_links"])
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(p.outcomes.items()))
        rows.append(
            f"| {p.name} | {p.done}/{p.accounts} | {p.seconds:.1f} "
            f"| {'-' if p.queued_seconds is None else f'{p.queued_seconds:.1f} s'} "
            f"| {p.requests_per_account:.2f} | {bound} | {p.rate_limited} | {p.early} "
            f"| {outcomes} |"
        )
    for p in phases:
        for error, count in p.errors.items():
            rows.append(f"\n{p.name}, {count} account(s) not ok: `{error}`")
    rows += ["", "Requests per account by endpoint (as the sandbox counted them):", ""]
    for p in phases:
        parts = ", ".join(
            f"`{k}` {v / p.accounts:.2f}" if v >= p.accounts / 100 else f"`{k}` {v} in all"
            for k, v in sorted(p.counts.items())
            if v
        )
        rows.append(f"- {p.name}: {parts}")
    names = list(phases[0].cpu) if phases else []
    rows += ["", "CPU seconds per process (with its children) during each phase:", ""]
    rows += ["| phase | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for p in phases:
        rows.append(f"| {p.name} | " + " | ".join(f"{p.cpu[n]:.1f}" for n in names) + " |")
    return rows


def write_report(out: Path | None, **run) -> str:
    args, phases, memory = run["args"], run["phases"], run["memory"]
    connect_seconds, errors, connect_cpu = run["connect"]
    m = run["machine"]
    lines = [
        "# Scale benchmark (`bench/scale.py`)",
        "",
        f"Command: `{run['command']}`, {m['date']}. Machine: nproc {m['nproc']}, {m['cpu']}, "
        f"{m['memory']}, Python {m['python']}; load average before the run {m['load']}, "
        f"after it {' '.join(f'{x:.1f}' for x in os.getloadavg())} (the machine is shared).",
        "",
        f"{args['users']} reps with {args['event_types']} Calendly event types and "
        f"{args['savvycal_links']} SavvyCal links each, in one sandbox Close organization; "
        f"{args['workers']} Celery workers × `--concurrency {args['concurrency']}` "
        f"(`--pool {args['pool']}`), "
        f"gunicorn with {args['web_workers']} workers, the sandbox (`--quiet`), a private "
        "redis-server and SQLite, all on this machine. Every rep was connected through the real "
        f"OAuth flows over HTTP ({args['connect_threads']} at a time): Close sign-in, Calendly "
        f"with PKCE, SavvyCal by OAuth: {connect_seconds:.0f} s, {len(errors)} failed (CPU s: "
        + ", ".join(f"{k} {v:.0f}" for k, v in connect_cpu.items())
        + "). The workers were started after that, so the first sync is timed on its own. "
        f"Close's limit was raised to {run['raised_limit']:,} per 15 s except in the row that "
        "names Close's 600/15 s. "
        f"Calendly webhook subscriptions active at the end: {run['subscriptions']}.",
        "",
        *phase_rows(phases, args),
        "",
        "| worker | processes | peak RSS, parent + pool summed | peak PSS summed "
        "| largest single-process VmHWM |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in memory.workers:
        lines.append(
            f"| {name} | {memory.processes[name]} | {memory.peak_rss_kb[name] / MB:.0f} MB "
            f"| {memory.peak_pss_kb[name] / MB:.0f} MB | {memory.hwm_kb[name] / MB:.0f} MB |"
        )
    noop = next((p for p in phases if p.name == "no-op resync"), None)
    worst = max(memory.peak_rss_kb.values(), default=0) / MB
    lines += [
        "",
        "| target | goal | measured |",
        "|---|---|---|",
        f"| no-op resync of every account | < {TARGET_NOOP_SECONDS} s "
        f"| {f'{noop.seconds:.1f} s' if noop else 'not run'} |",
        f"| provider requests per account, no-op | {TARGET_NOOP_REQUESTS} "
        f"| {f'{noop.requests_per_account:.2f}' if noop else 'not run'} |",
        f"| RSS per worker (parent + pool summed) | < {TARGET_WORKER_MB} MB | {worst:.0f} MB |",
    ]
    if errors:
        lines += ["", f"First connect failure: {errors[0]}"]
    text = "\n".join(lines) + "\n"
    if out is not None:
        save(out, text)
    return text


def save(out: Path, text: str) -> None:
    """Write the report; in a file that has the markers, only between them, so the reading of
    the numbers written around them stays."""
    old = out.read_text() if out.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        text = f"{head}{BEGIN}\n{text}{END}{rest.split(END, 1)[1]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
