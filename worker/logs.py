"""Logging for every process: one line per event, JSON when LOG_FORMAT=json, secrets scrubbed.

Code never logs a token on purpose; the scrubber is the second line of defence for what
third-party libraries print (URLs with `code=`, headers with `Bearer`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from worker.config import Settings

_SECRET_PATTERNS = [
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I),
    re.compile(
        r"((?:access_token|refresh_token|client_secret|code_verifier|code|token|signing_key|"
        r"secret|password)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+",
        re.I,
    ),
]


def scrub(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


CONTEXT_FIELDS = ("account", "provider", "task_id", "outcome")

# The fields of the task being run in this process (set by the Celery signals in
# worker/celery_app.py). `bind` adds to them, so every later line of the task carries them,
# Celery's own "succeeded" line included; outside a task `bind` does nothing, so a web process
# thread never carries one request's account into the next.
_task_fields: ContextVar[dict[str, object] | None] = ContextVar(
    "schedsync_task_fields", default=None
)


def begin_task(task_id: str) -> None:
    fields: dict[str, object] = {"task_id": task_id}
    # The token that restores the outer context travels with the fields: tasks nest (eager
    # calls) and threads interleave, so no process-wide registry of tokens would be right.
    fields["_restore"] = _task_fields.set(fields)


def end_task() -> None:
    fields = _task_fields.get()
    if fields is not None and "_restore" in fields:
        _task_fields.reset(fields.pop("_restore"))  # type: ignore[arg-type]


def bind(**fields: object) -> None:
    """Attach fields (account, provider, outcome) to the rest of the current task's lines."""
    current = _task_fields.get()
    if current is not None:
        current.update({k: v for k, v in fields.items() if v is not None})


class TaskContextFilter(logging.Filter):
    """Give each record the current task's fields, unless the call passed its own `extra`."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _task_fields.get() or {}
        for name in CONTEXT_FIELDS:
            if name in fields and getattr(record, name, None) is None:
                setattr(record, name, fields[name])
        return True


class ScrubbingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = scrub(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{n}={getattr(record, n)}" for n in CONTEXT_FIELDS if getattr(record, n, None)]
        return line + (" [" + " ".join(extras) + "]" if extras else "")


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(TaskContextFilter())
    handler.addFilter(ScrubbingFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_schedsync", False):
            root.removeHandler(old)
    handler._schedsync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("urllib3", "requests_oauthlib", "oauthlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
