"""The web process logs as the workers do."""

from worker.logs import configure_logging

__all__ = ["configure_logging"]
