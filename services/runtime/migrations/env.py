"""Alembic environment: run programmatically by services.runtime.migrate with an open
connection (async engines hand over a sync connection through run_sync)."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
