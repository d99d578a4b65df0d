"""The metrics schedsync exposes (CONTRACT §3 `GET /metrics`): name, type, help, labels.

docs/operations.md describes each with PromQL for Grafana.
"""

from __future__ import annotations

from dataclasses import dataclass

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"

# Seconds; a full sync is a few provider listings and the writes, a targeted run one read and
# one write: both well inside a minute, so the buckets are finest there.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass(frozen=True)
class Family:
    name: str
    type: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


FAMILIES = (
    Family(
        "schedsync_sync_runs_total",
        COUNTER,
        "Sync runs finished, by kind (full, event_type) and outcome (ok, partial, error).",
        ("kind", "outcome"),
    ),
    Family(
        "schedsync_sync_duration_seconds",
        HISTOGRAM,
        "How long a finished sync run took, by kind (full, event_type).",
        ("kind",),
        DURATION_BUCKETS,
    ),
    Family(
        "schedsync_link_writes_total",
        COUNTER,
        "Writes to Close's scheduling links, by provider and action "
        "(created, updated, deleted; failed = Close refused the write).",
        ("provider", "action"),
    ),
    Family(
        "schedsync_webhook_deliveries_total",
        COUNTER,
        "Calendly webhook deliveries answered, by HTTP status.",
        ("status",),
    ),
    Family(
        "schedsync_token_refreshes_total",
        COUNTER,
        "Token refreshes sent to a provider, by provider and outcome "
        "(ok, needs_reauth, error = worth trying again).",
        ("provider", "outcome"),
    ),
    Family(
        "schedsync_rate_limited_total",
        COUNTER,
        "Provider answers of 429 Too Many Requests, by provider.",
        ("provider",),
    ),
    Family(
        "schedsync_connections",
        GAUGE,
        "Stored grants, by provider (close, calendly, savvycal) and state "
        "(active, needs_reauth, disconnected).",
        ("provider", "state"),
    ),
)

BY_NAME = {family.name: family for family in FAMILIES}


def redis_key(name: str) -> str:
    return f"metrics:{name}"
