"""Shared test configuration: where the real Redis and PostgreSQL are."""

from __future__ import annotations

import os

REDIS_URL = os.environ.get("TETHER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL = os.environ.get(
    "TETHER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
