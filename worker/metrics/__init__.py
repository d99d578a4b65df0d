"""Counters and histograms counted across every process (CONTRACT §3 `GET /metrics`).

    metrics.count("schedsync_link_writes_total", provider="calendly", action="created")
    metrics.observe("schedsync_sync_duration_seconds", 1.7, kind="full")

Neither ever raises into the caller: a metric is never worth a failed sync or request.
`web/metrics.py` renders what Redis holds (worker/metrics/exposition.py).
"""

from __future__ import annotations

import logging

from worker.metrics.families import BY_NAME, HISTOGRAM, redis_key
from worker.metrics.recorder import Recorder, flush_at_exit

log = logging.getLogger(__name__)


def _redis():
    from worker import runtime

    return runtime.redis_client()


recorder = Recorder(_redis)
flush_at_exit(recorder)


def escape(value: str) -> str:
    """A label value as the text format writes it: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series(names: tuple[str, ...], labels: dict[str, object]) -> str:
    """The label set as it appears between the braces, in the family's own label order."""
    return ",".join(f'{n}="{escape(str(labels.get(n, "")))}"' for n in names)


def count(name: str, amount: int = 1, **labels: object) -> None:
    try:
        family = BY_NAME[name]
        recorder.add(redis_key(name), series(family.labels, labels), amount)
    except Exception:
        log.exception("metric %s not counted", name)


def observe(name: str, value: float, **labels: object) -> None:
    """One observation of a histogram: its bucket, its sum and its count. Buckets are stored
    one by one and made cumulative when rendered."""
    try:
        family = BY_NAME[name]
        assert family.type == HISTOGRAM, name
        key, base = redis_key(name), series(family.labels, labels)
        le = next((b for b in family.buckets if value <= b), None)
        recorder.add(key, f"{base}|{'+Inf' if le is None else repr(float(le))}")
        recorder.add(key, f"{base}|count")
        recorder.add_float(key, f"{base}|sum", float(value))
    except Exception:
        log.exception("metric %s not observed", name)


def flush() -> bool:
    return recorder.flush()


def discard() -> None:
    recorder.discard()
