"""Durable state: the models, the Alembic migrations and the command that applies them."""
