"""Loading settings for a command: one line and exit status 2 on a bad config."""

from __future__ import annotations

import os
import sys

from tether.config import Settings, load_settings
from tether.errors import ConfigError


def load_quietly(config_path: str | None) -> Settings:
    try:
        return load_settings(config_path, os.environ)
    except ConfigError as exc:
        print(f"tether: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
