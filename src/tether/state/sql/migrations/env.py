"""Alembic environment: runs on the connection `tether.state.sql.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tether.state.sql.migrate import VERSION_TABLE
from tether.state.sql.table import metadata

connection: Connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
