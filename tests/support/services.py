"""Where the tests find their services and tools; each a TETHER_TEST_* variable overrides.

TETHER_TEST_REDIS_URL      the shared Redis (keys under a random prefix per session)
TETHER_TEST_DATABASE_URL   the shared PostgreSQL (fresh databases are made next to it
                           through its `postgres` maintenance database)
TETHER_TEST_REDIS_SERVER   the redis-server binary, for the tests' own Redis processes
TETHER_TEST_REDIS_CLI      redis-cli (creates the tests' Redis Cluster)
TETHER_TEST_PG_BIN         PostgreSQL's bin directory (initdb, postgres, pg_isready)
"""

from __future__ import annotations

import os
from pathlib import Path

REDIS_URL = os.environ.get("TETHER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL = os.environ.get(
    "TETHER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_SERVER = os.environ.get("TETHER_TEST_REDIS_SERVER", "redis-server")
REDIS_CLI = os.environ.get("TETHER_TEST_REDIS_CLI", "redis-cli")
PG_BIN = Path(os.environ.get("TETHER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
