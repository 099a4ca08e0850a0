"""Conversation items in their stored, replayable form (plain JSON dicts with ids)."""

from __future__ import annotations

from typing import Any

from tether.core.ids import new_item_id

Item = dict[str, Any]

_ID_PREFIX = {
    "message": "msg_",
    "function_call": "fc_",
    "function_call_output": "fco_",
    "compaction": "cmp_",
}


def user_message(text: str) -> Item:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def normalize_input(value: str | list[Item]) -> list[Item]:
    """Turn a request's `input` into stored items: explicit types, list content, ids."""
    raw = [user_message(value)] if isinstance(value, str) else value
    return [_normalize_item(item) for item in raw]


def _normalize_item(item: Item) -> Item:
    kind = item.get("type", "message")
    out: Item = {"id": item.get("id") or new_item_id(_ID_PREFIX[kind]), "type": kind}
    if kind == "message":
        out["role"] = item["role"]
        content = item["content"]
        if isinstance(content, str):
            part = "output_text" if item["role"] == "assistant" else "input_text"
            content = [_text_part(part, content)]
        out["content"] = content
        out["status"] = item.get("status") or "completed"
    elif kind == "function_call":
        out.update(call_id=item["call_id"], name=item["name"], arguments=item["arguments"])
        out["status"] = item.get("status") or "completed"
    elif kind == "compaction":  # kept as sent: opened only for the provider (core.history)
        out["encrypted_content"] = item["encrypted_content"]
    else:
        out.update(call_id=item["call_id"], output=item["output"])
        out["status"] = item.get("status") or "completed"
    return out


def _text_part(kind: str, text: str) -> Item:
    if kind == "output_text":
        return {"type": "output_text", "text": text, "annotations": []}
    return {"type": kind, "text": text}


def text_of(content: str | list[Item]) -> str:
    """The text of a message's content or a tool output, parts joined."""
    if isinstance(content, str):
        return content
    texts = (part.get("text") or part.get("refusal") or "" for part in content)
    return "".join(texts)


def output_message(item_id: str, text: str, status: str = "completed") -> Item:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [_text_part("output_text", text)],
    }


def function_call(item_id: str, call_id: str, name: str, arguments: str) -> Item:
    return {
        "id": item_id,
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }
