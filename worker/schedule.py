"""Celery beat's schedule (CONTRACT §1): every sweep is cheap and safe to run twice."""

from __future__ import annotations

import os

# The contract's 60 s; SCHEDSYNC_SWEEP_SECONDS shortens it for the end-to-end and chaos tests.
_SWEEP = float(os.environ.get("SCHEDSYNC_SWEEP_SECONDS", "60"))
REFRESH_SWEEP_SECONDS = _SWEEP
RESYNC_SWEEP_SECONDS = _SWEEP
CLEANUP_SWEEP_SECONDS = _SWEEP
SUBSCRIPTION_CHECK_SECONDS = 3600.0


def beat_schedule() -> dict[str, dict]:
    return {
        "refresh-sweep": {
            "task": "worker.tasks.refresh.refresh_sweep",
            "schedule": REFRESH_SWEEP_SECONDS,
        },
        "resync-sweep": {
            "task": "worker.tasks.reconcile.resync_sweep",
            "schedule": RESYNC_SWEEP_SECONDS,
        },
        "cleanup-sweep": {
            "task": "worker.tasks.disconnect.cleanup_sweep",
            "schedule": CLEANUP_SWEEP_SECONDS,
        },
        "subscription-check": {
            "task": "worker.tasks.webhooks.check_subscriptions",
            "schedule": SUBSCRIPTION_CHECK_SECONDS,
        },
    }
