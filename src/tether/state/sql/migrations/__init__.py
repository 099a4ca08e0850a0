"""Alembic migrations of tether's database schema (run by `tether.state.migrate`)."""
