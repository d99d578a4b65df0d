"""A strict reader of Prometheus' text exposition format (0.0.4), for the tests: it refuses what
a scraper might refuse or misread, rather than guessing."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? (\S+)$")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class ExpositionError(AssertionError):
    pass


@dataclass
class Family:
    name: str
    type: str
    help: str | None = None
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def _value(raw: str) -> float:
    if raw in ("+Inf", "-Inf", "NaN"):
        return float(raw.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"-?\d+(\.\d+)?([eE][+-]?\d+)?", raw):
        raise ExpositionError(f"bad value {raw!r}")
    return float(raw)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def _family_of(sample: str, families: dict[str, Family]) -> Family:
    if sample in families:
        return families[sample]
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample.removesuffix(suffix)
        if base != sample and base in families and families[base].type == "histogram":
            return families[base]
    raise ExpositionError(f"sample {sample} has no TYPE line before it")


def parse(text: str) -> dict[str, Family]:
    if not text.endswith("\n"):
        raise ExpositionError("the last line must end with a line feed")
    families: dict[str, Family] = {}
    current: Family | None = None
    for line in text.split("\n")[:-1]:
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            fam = families.setdefault(name, Family(name, "untyped"))
            if fam.help is not None:
                raise ExpositionError(f"second HELP for {name}")
            fam.help = help_text
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            if kind not in TYPES:
                raise ExpositionError(f"unknown type {kind!r}")
            if name in families and families[name].samples:
                raise ExpositionError(f"TYPE for {name} after its samples")
            fam = families.setdefault(name, Family(name, kind))
            fam.type = kind
            current = fam
            continue
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        if not match:
            raise ExpositionError(f"not a sample line: {line!r}")
        sample, labels_raw, raw = match.groups()
        fam = _family_of(sample, families)
        if fam is not current:
            raise ExpositionError(f"samples of {fam.name} are not grouped together")
        labels = {k: _unescape(v) for k, v in LABEL_PAIR.findall(labels_raw or "")}
        fam.samples.append((sample, labels, _value(raw)))
    for fam in families.values():
        if fam.type == "histogram":
            check_histogram(fam)
    return families


def check_histogram(fam: Family) -> None:
    series: dict[tuple, dict[str, object]] = {}
    for sample, labels, value in fam.samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        entry = series.setdefault(key, {"buckets": []})
        if sample.endswith("_bucket"):
            if "le" not in labels:
                raise ExpositionError(f"{sample} without le")
            entry["buckets"].append((_value(labels["le"]), value))
        else:
            entry[sample.rsplit("_", 1)[1]] = value
    for key, entry in series.items():
        buckets = entry["buckets"]
        if not buckets or not math.isinf(buckets[-1][0]):
            raise ExpositionError(f'{fam.name}{key}: no le="+Inf" bucket last')
        bounds = [b for b, _ in buckets]
        counts = [c for _, c in buckets]
        if bounds != sorted(bounds) or counts != sorted(counts):
            raise ExpositionError(f"{fam.name}{key}: buckets not cumulative")
        if "count" not in entry or "sum" not in entry:
            raise ExpositionError(f"{fam.name}{key}: _sum and _count are required")
        if entry["count"] != counts[-1]:
            raise ExpositionError(f"{fam.name}{key}: _count differs from the +Inf bucket")


def value(families: dict[str, Family], sample: str, **labels: str) -> float:
    """The sample's value; 0 when the series is not there (a counter never incremented)."""
    fam = _family_of(sample, families)
    for name, have, v in fam.samples:
        same = len(have) == len(labels) and all(have.get(k) == str(x) for k, x in labels.items())
        if name == sample and same:
            return v
    return 0.0
