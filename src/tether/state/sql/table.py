"""The `responses` table as SQLAlchemy Core metadata (the migrations create it; tests compare)."""

from __future__ import annotations

from sqlalchemy import Column, Double, Index, LargeBinary, MetaData, Table, Text

metadata = MetaData()

responses = Table(
    "responses",
    metadata,
    Column("id", Text, primary_key=True),
    Column("session", Text, nullable=False),
    Column("parent_id", Text, nullable=True),
    Column("owner", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    # `encode_turn` bytes as they are: nothing queries inside a record, so no JSONB.
    Column("record", LargeBinary, nullable=False),
    Index("ix_responses_session", "session"),
    Index("ix_responses_parent_id", "parent_id"),
)
