"""`GET /metrics`: Prometheus' text format, counted across every web and worker process
(CONTRACT §3). Counters and histograms come from Redis (worker/metrics/), the connections gauge
from the database. Same bearer token as /admin/*."""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, request
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from web.admin import require_admin_token
from web.errors import json_error
from worker import metrics, runtime
from worker.metrics import exposition
from worker.providers import registry
from worker.storage.models import ACTIVE, DISCONNECTED, NEEDS_REAUTH, Connection

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)
bp.before_request(require_admin_token)

STATES = (ACTIVE, NEEDS_REAUTH, DISCONNECTED)


def connections_gauge() -> dict[str, float]:
    """Every (provider, state) pair, zero included, so a series never vanishes when it empties."""
    providers = [registry.CLOSE.name, *registry.scheduling_names()]
    counts = {(p, s): 0 for p in providers for s in STATES}
    with runtime.session_scope() as session:
        rows = session.execute(
            select(Connection.provider, Connection.state, func.count()).group_by(
                Connection.provider, Connection.state
            )
        )
        for provider, state, n in rows:
            counts[(provider, state)] = n
    return {
        metrics.series(("provider", "state"), {"provider": p, "state": s}): n
        for (p, s), n in counts.items()
    }


@bp.get("/metrics")
def scrape():
    # What this process counted so far goes out first, so a scrape sees its own requests too.
    metrics.flush()
    try:
        gauges = {"schedsync_connections": connections_gauge()}
        text = exposition.render(runtime.redis_client(), gauges)
    except (redis.RedisError, OSError, SQLAlchemyError) as exc:
        log.warning("metrics unavailable: %s", type(exc).__name__)
        return json_error(503, "unavailable", "Redis or the database is unreachable.")
    return Response(text, mimetype=None, content_type=exposition.CONTENT_TYPE)


@bp.after_app_request
def count_webhook_delivery(response):
    # Every answer of the receiver, rejections included, by HTTP status: one in-process
    # increment (worker/metrics/recorder.py), nothing on the delivery's Redis round trips.
    if request.blueprint == "webhooks":
        metrics.count("schedsync_webhook_deliveries_total", status=response.status_code)
    return response
