"""Counts from several processes add up in Redis: what two web or worker processes (on one host
or several) counted is one total on `GET /metrics`, and a forked pool process does not count its
parent's counts a second time."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.metrics.exposition_parser import parse, value
from tests.processes import ROOT
from worker import runtime
from worker.config import Settings
from worker.metrics import exposition

COUNTING = textwrap.dedent(
    """
    import os, sys
    from worker import metrics, runtime
    from worker.config import Settings

    runtime.configure(Settings(redis_url=sys.argv[1]))
    n = int(sys.argv[2])
    for _ in range(n):
        metrics.count("schedsync_link_writes_total", provider="calendly", action="created")
    metrics.observe("schedsync_sync_duration_seconds", 0.3, kind="full")
    # Fork with counts not yet sent: the child counts its own and must not send the parent's.
    pid = os.fork()
    if pid == 0:
        metrics.count("schedsync_link_writes_total", provider="savvycal", action="deleted")
        metrics.flush()
        os._exit(0)
    os.waitpid(pid, 0)
    # The parent's counts go out at exit (atexit), as a process that stops normally does.
    """
)


@pytest.mark.slow
def test_counts_from_two_processes_add_up(redis_server, real_redis):
    procs = [
        subprocess.Popen([sys.executable, "-c", COUNTING, redis_server.url, str(n)], cwd=ROOT)
        for n in (700, 300)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0

    runtime.configure(Settings(redis_url=redis_server.url), redis_client=real_redis)
    families = parse(exposition.render(real_redis, {}))

    writes = "schedsync_link_writes_total"
    assert value(families, writes, provider="calendly", action="created") == 1000
    assert value(families, writes, provider="savvycal", action="deleted") == 2
    duration = "schedsync_sync_duration_seconds"
    assert value(families, f"{duration}_count", kind="full") == 2
    assert value(families, f"{duration}_bucket", kind="full", le="0.5") == 2
    assert value(families, f"{duration}_bucket", kind="full", le="0.25") == 0
    assert value(families, f"{duration}_sum", kind="full") == pytest.approx(0.6)
