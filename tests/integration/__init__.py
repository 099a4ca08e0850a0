"""The state layer against real services: SQL dialects, Redis going away, restarting
empty and hanging. Fixtures: tests/conftest.py; a missing service fails, never skips.
The contract suites, on every backend: tests/contracts."""
