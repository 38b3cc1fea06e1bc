"""Alembic's environment: runs on the connection `chatbot.store.migrate` hands it."""

from __future__ import annotations

from alembic import context

from chatbot.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run the migrations through chatbot.store (Store.migrate or `chatbot store migrate`).")
context.configure(
    connection=connection, target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
