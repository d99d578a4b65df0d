"""The web process: OAuth callbacks, the Calendly webhook receiver, the admin API, the connect
page. Beyond the OAuth exchanges it only verifies, records, enqueues and renders."""

from __future__ import annotations

from typing import Any

from flask import Flask

from worker import runtime
from worker.celery_app import apply_settings, celery_app
from worker.config import INSTANCE_DIR, Settings, load_settings
from worker.sentry import init_sentry


def create_app(config: Settings | dict[str, Any] | None = None, **extra: Any) -> Flask:
    """Build the app from the environment, or from `config` (Settings, or overrides by field
    name). `redis_client=` hands in a Redis client (tests pass fakeredis)."""
    if isinstance(config, Settings):
        settings = config
    else:
        settings = load_settings()
        if config:
            settings = settings.with_overrides(**config)
    runtime.configure(settings, redis_client=extra.get("redis_client"))
    apply_settings(celery_app, settings)
    init_sentry(settings)

    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SCHEDSYNC=settings,
        # Bodies are bounded per route by web/request_body.py (64 KiB; the webhook 1 MiB).
        MAX_CONTENT_LENGTH=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        PREFERRED_URL_SCHEME="https" if settings.is_production else "http",
    )

    from web import (
        admin,
        admin_history,
        admin_team_links,
        connections,
        errors,
        health,
        live,
        logs,
        metrics,
        pages,
        signin,
        team_links_page,
        webhooks,
    )
    from web.cli import register_cli
    from web.csrf import init_csrf
    from web.request_body import init_request_body

    logs.configure_logging(settings)
    errors.init_errors(app)
    init_request_body(app)
    init_csrf(app)
    for module in (
        health,
        pages,
        live,
        signin,
        connections,
        webhooks,
        admin,
        admin_team_links,
        admin_history,
        metrics,
        team_links_page,
    ):
        app.register_blueprint(module.bp)
    register_cli(app)
    return app
