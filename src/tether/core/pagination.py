"""Cursor pagination of a turn's input items, as OpenAI lists them."""

from __future__ import annotations

from typing import Any

from tether.core.items import Item


def page_items(items: list[Item], after: str | None, limit: int, order: str) -> dict[str, Any]:
    """`{object: list, data, first_id, last_id, has_more}`; `after` is an item id."""
    ordered = items if order == "asc" else items[::-1]
    start = 0
    if after is not None:
        positions = [i for i, item in enumerate(ordered) if item["id"] == after]
        start = positions[0] + 1 if positions else len(ordered)
    data = ordered[start : start + limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + limit < len(ordered),
    }
