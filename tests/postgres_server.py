"""A private PostgreSQL server of a test's own (initdb + pg_ctl on a free port in a temporary
folder), which the test may stop and start again: the shared server on 5432 must never be."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import free_port


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
            return str(candidate)
        # As tests/sync/test_migrations.py does for a missing server: say what would run it.
        pytest.skip(f"{name} is not installed (Debian: apt-get install postgresql)")
    return found


class PostgresServer:
    """PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not under pytest's tmp_path: that is private to root, and the server may not be.
        self.dir = Path(tempfile.mkdtemp(prefix="schedsync-pg-"))
        self.data = self.dir / "data"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = list(args)
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        self._run(
            _binary("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self._run(
            _binary("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
            "-w", "-t", "120", "start",
        )  # fmt: skip

    def stop(self) -> None:
        # "fast": every client connection is cut at once, as when a database server goes down.
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "120", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postgres_server():
    server = PostgresServer()
    server.init()
    server.start()
    yield server
    server.remove()
