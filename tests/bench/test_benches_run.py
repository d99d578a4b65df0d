"""The benchmarks under bench/ that need no processes of their own still run against today's
code: a tiny run of each, so a rename in worker/ cannot leave one broken unnoticed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.processes import ROOT

pytestmark = pytest.mark.timeout(120)


def run_bench(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=100
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_team_link_hook_bench_runs():
    out = run_bench(
        "bench/team_link_hook.py", "--event-types", "3", "--savvycal-links", "2", "--runs", "2"
    )
    assert "mapping tasks enqueued: 2" in out
    assert "no extra provider request" in out
