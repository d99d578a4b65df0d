"""Injected failures on the provider APIs and token endpoints (never on /_sandbox or consent pages).

Each provider has its own seeded random stream, so a chaos run with the same seed and the same
request order sees the same failures.
"""

from __future__ import annotations

import contextlib
import math
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Response, jsonify, request

PROVIDERS = ("close", "calendly", "savvycal")


@dataclass
class Fault:
    error_rate: float = 0.0
    status: int = 503
    drop_rate: float = 0.0
    latency_ms: int = 0
    retry_after: float = 1.0  # announced on an injected 429
    seed: int | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "status": self.status,
            "drop_rate": self.drop_rate,
            "latency_ms": self.latency_ms,
            "retry_after": self.retry_after,
            "seed": self.seed,
        }


class FaultError(ValueError):
    pass


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        provider = body.get("provider", "all")
        targets = PROVIDERS if provider == "all" else (provider,)
        if provider != "all" and provider not in PROVIDERS:
            raise FaultError("provider must be close, calendly, savvycal or all")
        fault = _parse(body)
        with self._lock:
            for name in targets:
                seed = fault.seed
                self._faults[name] = Fault(
                    **{**fault.as_json(), "seed": seed},
                    rng=random.Random(None if seed is None else f"{seed}:{name}"),
                )
        return self.snapshot()

    def clear(self, provider: str | None = None) -> None:
        with self._lock:
            if provider in (None, "all"):
                self._faults.clear()
            else:
                self._faults.pop(provider, None)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {name: fault.as_json() for name, fault in self._faults.items()}

    def draw(self, provider: str) -> tuple[float, str | None, Fault | None]:
        """(latency seconds, "drop" | "error" | None, the fault) for one request."""
        with self._lock:
            fault = self._faults.get(provider)
            if fault is None:
                return 0.0, None, None
            roll = fault.rng.random()
            if roll < fault.drop_rate:
                outcome = "drop"
            elif roll < fault.drop_rate + fault.error_rate:
                outcome = "error"
            else:
                outcome = None
            return fault.latency_ms / 1000.0, outcome, fault


def _parse(body: dict[str, Any]) -> Fault:
    try:
        fault = Fault(
            error_rate=float(body.get("error_rate", 0.0)),
            status=int(body.get("status", 503)),
            drop_rate=float(body.get("drop_rate", 0.0)),
            latency_ms=int(body.get("latency_ms", 0)),
            retry_after=float(body.get("retry_after", 1.0)),
            seed=None if body.get("seed") is None else int(body["seed"]),
        )
    except (TypeError, ValueError) as exc:
        raise FaultError(f"bad fault settings: {exc}") from exc
    if not (0 <= fault.error_rate <= 1 and 0 <= fault.drop_rate <= 1):
        raise FaultError("error_rate and drop_rate are fractions between 0 and 1")
    if not 400 <= fault.status <= 599:
        raise FaultError("status must be a 4xx or 5xx code")
    return fault


def apply_fault(faults: Faults, provider: str) -> tuple[Response | None, float | None]:
    """Sleep, drop or answer an error for this request; (response, announced 429 reset) or None."""
    latency, outcome, fault = faults.draw(provider)
    if latency:
        time.sleep(latency)
    if outcome == "drop":
        drop_connection()
        return Response(b"", status=502, headers={"X-Sandbox-Dropped": "1"}), None
    if outcome != "error" or fault is None:
        return None, None
    announced = fault.retry_after if fault.status == 429 else None
    return fault_response(provider, fault.status, fault.retry_after), announced


def fault_response(provider: str, status: int, retry_after: float) -> Response:
    message = f"Injected sandbox fault ({status})"
    if provider == "close":
        response = Response(b"", status=status) if status == 429 else jsonify(error=message)
    elif provider == "calendly":
        response = jsonify(title="Internal Server Error", message=message)
    else:
        response = Response(message, mimetype="text/plain")
    response.status_code = status
    if status == 429:
        response.headers["Retry-After"] = str(math.ceil(retry_after))
        if provider == "close":
            response.headers["RateLimit"] = f"limit=0, remaining=0, reset={retry_after:.3f}"
        elif provider == "calendly":
            response.headers["X-RateLimit-Limit"] = "0"
            response.headers["X-RateLimit-Remaining"] = "0"
            response.headers["X-RateLimit-Reset"] = str(math.ceil(retry_after))
    return response


def drop_connection() -> None:
    """Shut the client's socket so it sees the connection close with no answer.

    Only shutdown(), not close(): the server still owns the descriptor and its write of our
    (discarded) response then fails with a broken pipe, which it treats as a dropped client. Under
    the Flask test client there is no socket, and the caller's 502 is what the test sees.
    """
    sock = request.environ.get("werkzeug.socket") or request.environ.get("gunicorn.socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):  # the client may already be gone
        sock.shutdown(socket.SHUT_RDWR)
