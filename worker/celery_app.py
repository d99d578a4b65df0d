"""The Celery application, configured from the same settings as the web app."""

from __future__ import annotations

from celery import Celery
from celery.signals import (
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    task_success,
    worker_process_shutdown,
)
from kombu import Queue

from worker import runtime
from worker.schedule import beat_schedule
from worker.sentry import init_sentry

# Longer than any countdown we set plus a run: with acks_late, Redis redelivers a message whose
# worker has not acked it within this time, and a countdown shorter than this is never doubled.
VISIBILITY_TIMEOUT = 3 * 3600
# No countdown is longer than this (CONTRACT §5 "Bounded queues"): a message counted down past
# the visibility timeout would be delivered twice. A longer wait is taken in steps.
MAX_COUNTDOWN = VISIBILITY_TIMEOUT / 2

# Token refreshes have a queue of their own, so a backlog of resyncs never holds them up: every
# worker consumes both, and kombu's Redis transport takes from its queues in turn.
DEFAULT_QUEUE = "celery"
TOKENS_QUEUE = "tokens"
ROUTES = {
    "worker.tasks.refresh.refresh_sweep": {"queue": TOKENS_QUEUE},
    "worker.tasks.refresh.refresh_token_of": {"queue": TOKENS_QUEUE},
}


def make_celery() -> Celery:
    settings = runtime.settings()
    init_sentry(settings)  # a no-op without SENTRY_DSN
    app = Celery("schedsync", broker=settings.redis_url, include=_task_modules())
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        task_default_queue=DEFAULT_QUEUE,
        task_queues=(Queue(DEFAULT_QUEUE), Queue(TOKENS_QUEUE)),
        task_routes=ROUTES,
        task_always_eager=settings.celery_always_eager,
        beat_schedule=beat_schedule(),
        timezone="UTC",
        worker_hijack_root_logger=False,
        # A sync spends its time waiting on providers 50-150 ms away, so one process holds many
        # accounts in flight as threads, sized by WORKER_CONCURRENCY, and the Procfile line stays
        # `celery -A worker worker`. Celery's time limits are not enforced under this pool: every
        # run stops at its own deadline instead (worker/sync/guard.py).
        worker_pool=settings.worker_pool,
        worker_concurrency=settings.worker_concurrency,
    )
    return app


def _task_modules() -> list[str]:
    return [
        "worker.tasks.reconcile",
        "worker.tasks.refresh",
        "worker.tasks.disconnect",
        "worker.tasks.webhooks",
        "worker.tasks.team_links",
        "worker.tasks.grants",
    ]


def apply_settings(app: Celery, settings) -> None:
    """Point an existing app at new settings (tests, and `create_app(config)`)."""
    if app.conf.broker_url != settings.redis_url:
        # Connections to the old broker must not be reused for the new one. (Not app.close():
        # that also forgets the app, and tasks defined later would never be registered on it.)
        app._pool = None
        app.amqp._producer_pool = None
    app.conf.broker_url = settings.redis_url
    app.conf.task_always_eager = settings.celery_always_eager


@setup_logging.connect
def _configure_worker_logging(**_kwargs: object) -> None:
    from worker.logs import configure_logging

    configure_logging(runtime.settings())


# Every log line of a task carries its task id, and the lines after it ends its outcome
# (worker/logs.py); the task's own code binds the account and provider it works on.
@task_prerun.connect
def _bind_task_log_fields(task_id: str, **_kwargs: object) -> None:
    from worker import logs

    logs.begin_task(task_id)


@task_success.connect
def _bind_task_success(result: object = None, **_kwargs: object) -> None:
    from worker import logs

    logs.bind(outcome=result if isinstance(result, str) else "ok")


@task_retry.connect
def _bind_task_retry(**_kwargs: object) -> None:
    from worker import logs

    logs.bind(outcome="retry")


@task_failure.connect
def _bind_task_failure(**_kwargs: object) -> None:
    from worker import logs

    logs.bind(outcome="error")


@task_postrun.connect
def _unbind_task_log_fields(**_kwargs: object) -> None:
    from worker import logs

    logs.end_task()


# A pool process may end without running atexit handlers: what it counted goes out first.
@worker_process_shutdown.connect
def _flush_metrics(**_kwargs: object) -> None:
    from worker import metrics

    metrics.flush()


celery_app = make_celery()
