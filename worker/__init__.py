"""The worker side of schedsync: provider clients, storage, tokens, the reconcile and the tasks.

`celery -A worker worker` and `celery -A worker beat` find the Celery app here.
"""

from worker.celery_app import celery_app as celery

__all__ = ["celery"]
