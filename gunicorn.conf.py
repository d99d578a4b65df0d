"""gunicorn reads this file from the working directory (the Procfile's `web` line runs there), so
`gunicorn "web:create_app()"` stays the whole command. Flags on the command line still win
(`--workers 2` in docker-compose.yml and `make run`).

Threaded workers with a read deadline per request (web/gunicorn_worker.py): a client that sends
slowly or not at all holds one of 100 threads for at most 10 s, instead of a whole sync worker
for as long as it likes, so dozens of them leave /healthz and Calendly's deliveries answering.
In production, a buffering reverse proxy in front takes slow clients off the process entirely
(docs/operations.md).
"""

import gc
import os

worker_class = "web.gunicorn_worker.DeadlineThreadWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "100"))
# A connection waiting for its (next) request sits in the worker's poller, holding no thread, for
# this long.
keepalive = 5
# Query strings (OAuth codes and states) never reach gunicorn's own log lines.
logger_class = "web.gunicorn_logs.RedactingLogger"
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), which every
# gunicorn on the machine would share; nothing here uses it.
control_socket_disable = True


def post_worker_init(worker):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    """After a worker has built the app, its ~120,000 start-up objects are moved out of the
    garbage collector's view: a full collection over them took 75–150 ms on a loaded 2-core
    machine, which showed as webhook p99 spikes; frozen, a collection takes a few ms."""
    gc.freeze()
