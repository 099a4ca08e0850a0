"""A turn's settings as a request would set them, for tests that build model calls."""

from __future__ import annotations

from typing import Any

from tether.core.settings import TurnSettings


def settings_of(model: str = "echo", **fields: Any) -> TurnSettings:
    """Validated exactly as `POST /v1/responses` validates them (dict tools and all)."""
    return TurnSettings.model_validate({"model": model, **fields})
