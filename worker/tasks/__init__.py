"""Celery tasks, one concern per module. Task bodies are short: they call the domain modules and
decide, in one place, what a failure means (retry, wait, needs_reauth, record)."""
