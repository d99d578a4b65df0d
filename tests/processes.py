"""Real processes for the tests about them: gunicorn, Celery worker and beat, the sandbox.

Each process gets its own log file under the test's tmp dir (printed on failure by the caller)
and is ended by its pid: TERM, then KILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from dev.launcher import ACCESS_LOG_FORMAT
from tests.conftest import TEST_KEY, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the process and its children (a Celery worker's pool processes)."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@dataclass
class Stack:
    """The service's processes around one database file and one Redis."""

    tmp: Path
    redis_url: str
    env_overrides: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEDSYNC_", "CALENDLY_"))}
        env.update(
            {
                "SCHEDSYNC_ENV": "development",
                "DATABASE_URL": f"sqlite:///{self.tmp / 'schedsync.db'}",
                "REDIS_URL": self.redis_url,
                "PENDING_TOKENS_DIR": str(self.tmp / "pending_tokens"),
                "SECRET_KEY": "stack-secret-key",
                "ENCRYPTION_KEYS": TEST_KEY,
                "ADMIN_TOKEN": "stack-admin-token",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(self.env_overrides)
        return env

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            args,
            cwd=self.tmp,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )

    def migrate(self) -> None:
        self.run(str(BIN / "flask"), "--app", "web", "db", "upgrade")

    def spawn(
        self, name: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> Proc:
        log = self.tmp / f"{name}.log"
        handle = open(log, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        popen = subprocess.Popen(
            args,
            cwd=cwd or self.tmp,
            env={**self.env, **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_web(
        self, port: int | None = None, workers: int = 2, access_log_format: str = ACCESS_LOG_FORMAT
    ) -> tuple[Proc, str]:
        """gunicorn as the Procfile starts it: from the project root, where it reads
        gunicorn.conf.py (worker class, threads, the redacting logger)."""
        port = port or free_port()
        proc = self.spawn(
            "web",
            str(BIN / "gunicorn"),
            "web:create_app()",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
            "--access-logformat",
            access_log_format,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", proc)
        return proc, base

    def start_worker(
        self, name: str = "worker", concurrency: int | None = None, pool: str | None = None
    ) -> Proc:
        """`celery -A worker worker` as the Procfile has it: the pool and its size come from the
        app's configuration (WORKER_CONCURRENCY, and WORKER_POOL for a benchmark's baseline),
        passed in the environment, never as -P/-c. The rest only keeps a test's log readable and
        its start quick (-n names the node; no gossip, mingle or heartbeat between workers)."""
        env = {}
        if concurrency is not None:
            env["WORKER_CONCURRENCY"] = str(concurrency)
        if pool is not None:
            env["WORKER_POOL"] = pool
        proc = self.spawn(
            name,
            str(BIN / "celery"),
            "-A",
            "worker",
            "worker",
            "--loglevel",
            "INFO",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            env=env,
        )
        wait_log(proc, "ready.")
        return proc

    def start_beat(self) -> Proc:
        return self.spawn(
            "beat",
            str(BIN / "celery"),
            "-A",
            "worker",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(self.tmp / "celerybeat-schedule"),
        )

    def start_sandbox(self, port: int | None = None) -> tuple[Proc, str]:
        port = port or free_port()
        base = f"http://127.0.0.1:{port}"
        proc = self.spawn(
            "sandbox",
            sys.executable,
            "-m",
            "sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--public-url",
            base,
        )
        wait_http(f"{base}/_sandbox/env", proc)
        return proc, base

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.pid}) ---\n{p.tail()}" for p in self.procs)


def wait_http(url: str, proc: Proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {url}:\n{proc.tail()}")


def wait_log(proc: Proc, needle: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        if needle in proc.log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} never logged {needle!r}:\n{proc.tail()}")


def wait_for(predicate, timeout: float = 30, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
