"""Fault injection: real tether processes against private Redis and PostgreSQL that tests kill."""
