"""gunicorn reads this file from the working directory (the Procfile's `web` line runs there).

After a worker has built the app, its ~120,000 start-up objects are moved out of the garbage
collector's view: a full collection over them took 75–150 ms on a loaded 2-core machine, which
showed as webhook p99 spikes; frozen, a collection takes a few milliseconds.
"""

import gc


def post_worker_init(worker):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    gc.freeze()
