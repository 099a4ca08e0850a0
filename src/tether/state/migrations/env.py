"""Alembic environment: runs on the connection `tether.state.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tether.state.migrate import VERSION_TABLE
from tether.state.schema import metadata

connection: Connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
