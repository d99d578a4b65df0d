"""What Redis holds, in Prometheus' text exposition format (version 0.0.4): per family a HELP and
a TYPE line, then its samples; histograms as cumulative `_bucket{…,le="…"}` series ending in
`le="+Inf"`, with `_sum` and `_count`. Every line ends with a line feed."""

from __future__ import annotations

import math

import redis

from worker.metrics.families import COUNTER, FAMILIES, GAUGE, HISTOGRAM, Family, redis_key

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _braces(labels: str) -> str:
    return "{" + labels + "}" if labels else ""


def _with_le(labels: str, le: str) -> str:
    return "{" + (labels + "," if labels else "") + f'le="{le}"' + "}"


def _decode(raw: dict) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }


def _counter_lines(family: Family, values: dict[str, str]) -> list[str]:
    return [
        f"{family.name}{_braces(labels)} {_number(float(values[labels]))}"
        for labels in sorted(values)
    ]


def _histogram_lines(family: Family, values: dict[str, str]) -> list[str]:
    by_series: dict[str, dict[str, float]] = {}
    for field, raw in values.items():
        labels, _, part = field.rpartition("|")
        by_series.setdefault(labels, {})[part] = float(raw)
    lines: list[str] = []
    for labels in sorted(by_series):
        parts = by_series[labels]
        running = 0.0
        for bound in family.buckets:
            running += parts.get(repr(float(bound)), 0.0)
            lines.append(
                f"{family.name}_bucket{_with_le(labels, _number(bound))} {_number(running)}"
            )
        running += parts.get("+Inf", 0.0)
        lines.append(f"{family.name}_bucket{_with_le(labels, '+Inf')} {_number(running)}")
        lines.append(f"{family.name}_sum{_braces(labels)} {_number(parts.get('sum', 0.0))}")
        lines.append(f"{family.name}_count{_braces(labels)} {_number(parts.get('count', 0.0))}")
    return lines


def render(client: redis.Redis, gauges: dict[str, dict[str, float]]) -> str:
    """The whole exposition. `gauges` gives each gauge family's samples by label set (read from
    the database by the caller: a gauge of stored state is right without any counting)."""
    stored = [f for f in FAMILIES if f.type in (COUNTER, HISTOGRAM)]
    pipe = client.pipeline(transaction=False)
    for family in stored:
        pipe.hgetall(redis_key(family.name))
    held = {f.name: _decode(raw) for f, raw in zip(stored, pipe.execute(), strict=True)}
    lines: list[str] = []
    for family in FAMILIES:
        lines.append(f"# HELP {family.name} {_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        if family.type == HISTOGRAM:
            lines.extend(_histogram_lines(family, held[family.name]))
        elif family.type == GAUGE:
            samples = gauges.get(family.name, {})
            lines.extend(
                f"{family.name}{_braces(labels)} {_number(samples[labels])}"
                for labels in sorted(samples)
            )
        else:
            lines.extend(_counter_lines(family, held[family.name]))
    return "\n".join(lines) + "\n"
