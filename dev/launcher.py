"""`make run`: migrate, then start web, worker and beat (and what they need) in the foreground.

- If nothing answers on REDIS_URL and `redis-server` is installed, a private one is started on
  that port; otherwise it says exactly how to get one.
- If no provider credentials are configured (no CLOSE_CLIENT_ID), the built-in sandbox of the
  three providers is started next to them and every provider URL points at it. It keeps its
  world in instance/sandbox-state.json, so a restart (to set ADMIN_TOKEN, say) finds the demo
  grants schedsync holds still valid; delete the file to start the demo afresh.
Ctrl-C stops every process this launcher started, by pid, and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import redis

from worker.config import INSTANCE_DIR, PROJECT_ROOT, load_settings

BIN = Path(sys.executable).parent
# The path without its query string: OAuth callbacks carry `?code=…&state=…`, which no log keeps.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss'
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", "5050"))
SANDBOX_STATE_FILE = INSTANCE_DIR / "sandbox-state.json"


def say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_redis(url: str, children: list[subprocess.Popen]) -> None:
    if redis_answers(url):
        return
    binary = shutil.which("redis-server")
    parts = urlsplit(url)
    if binary is None or parts.hostname not in ("localhost", "127.0.0.1"):
        say(f"nothing answers on REDIS_URL={url}.")
        say(
            "Install Redis (Debian: `sudo apt-get install redis-server`) or set REDIS_URL to a "
            "running server, then run `make run` again."
        )
        sys.exit(1)
    port = parts.port or 6379
    say(f"starting a private redis-server on 127.0.0.1:{port}")
    children.append(
        subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(INSTANCE_DIR),
            ],
            stdout=subprocess.DEVNULL,
        )
    )
    for _ in range(100):
        if redis_answers(url):
            return
        time.sleep(0.1)
    say("redis-server did not start")
    sys.exit(1)


def sandbox_command(port: int, state_file: Path) -> list[str]:
    """The sandbox, keeping its world in `state_file` across restarts."""
    return [
        sys.executable,
        "-m",
        "sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--public-url",
        f"http://127.0.0.1:{port}",
        "--state-file",
        str(state_file),
    ]


def start_sandbox(children: list[subprocess.Popen]) -> dict[str, str]:
    base = f"http://127.0.0.1:{SANDBOX_PORT}"
    say(f"no provider credentials configured: starting the sandbox on {base}")
    children.append(
        subprocess.Popen(sandbox_command(SANDBOX_PORT, SANDBOX_STATE_FILE), cwd=PROJECT_ROOT)
    )
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"{base}/_sandbox/env", timeout=1) as answer:  # noqa: S310
                return {k: str(v) for k, v in json.load(answer).items()}
        except OSError:
            time.sleep(0.1)
    say("the sandbox did not start")
    sys.exit(1)


def main() -> None:
    INSTANCE_DIR.mkdir(exist_ok=True)
    settings = load_settings()
    children: list[subprocess.Popen] = []
    env = dict(os.environ)

    def stop(*_args: object) -> None:
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    ensure_redis(settings.redis_url, children)
    sandbox = not settings.close_client_id
    if sandbox:
        env.update(start_sandbox(children))
    subprocess.run(
        [str(BIN / "flask"), "--app", "web", "db", "upgrade"], env=env, check=True, cwd=PROJECT_ROOT
    )
    port = env.get("PORT", "5000")
    commands = {
        "web": [
            str(BIN / "gunicorn"),
            "web:create_app()",
            "--bind",
            f"0.0.0.0:{port}",
            "--workers",
            "2",
            "--access-logfile",
            "-",
            "--access-logformat",
            ACCESS_LOG_FORMAT,
        ],
        "worker": [
            str(BIN / "celery"),
            "-A",
            "worker",
            "worker",
            "--loglevel",
            "INFO",
        ],  # the pool and its size are the app's: WORKER_CONCURRENCY (README)
        "beat": [
            str(BIN / "celery"),
            "-A",
            "worker",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(INSTANCE_DIR / "celerybeat-schedule"),
        ],
    }
    for name, command in commands.items():
        say(f"starting {name}")
        children.append(subprocess.Popen(command, env=env, cwd=PROJECT_ROOT))
    say(f"open {settings.public_url} and sign in with Close")
    if sandbox:
        say(
            "the sandbox's page (change event types and links, see Close's links): "
            f"http://127.0.0.1:{SANDBOX_PORT}/"
        )
    while True:
        for child in children:
            if child.poll() is not None:
                say(f"a process exited (pid {child.pid}, status {child.returncode}); stopping")
                stop()
        time.sleep(1)


if __name__ == "__main__":
    main()
