"""Alembic environment: run with the connection that ``node.registry.db`` hands over."""

from __future__ import annotations

from alembic import context

from node.registry.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "The registry migrations must be run through node.registry.db.migrate, which "
        "passes an open connection. Found none in the Alembic config attributes."
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
