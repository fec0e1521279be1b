"""Alembic environment: runs on the connection the service hands over (``config.attributes["connection"]``)."""

from alembic import context

from opennsg.api.db import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
