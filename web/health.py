"""Liveness and readiness for the load balancer."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from web.errors import json_error
from worker import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    problems = []
    try:
        with runtime.engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        problems.append("database")
    try:
        runtime.redis_client().ping()
    except Exception:
        problems.append("redis")
    if problems:
        return json_error(503, "unavailable", f"Not ready: {' and '.join(problems)} unreachable.")
    return jsonify(status="ready")
