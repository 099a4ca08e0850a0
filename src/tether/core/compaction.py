"""Compaction, pure: what a compacted window keeps, what the summary is written from, and
the items that carry the summary (sealed for the client, opened for the provider)."""

from __future__ import annotations

from collections.abc import Callable

from tether.core.items import Item, text_of

# The instructions the summarizing call runs under, unless the route sets its own
# (`litellm_params.compaction_prompt`); docs/compaction.md explains each choice.
DEFAULT_PROMPT = (
    "You are compacting a conversation so that it can continue in a smaller context. "
    "Write a summary of the conversation you are given for the assistant who will "
    "continue it without seeing the original: the goals, the decisions and agreements, "
    "facts, names, numbers, code and file names, the tool calls made and what they "
    "returned, and the questions still open. Be complete but concise. Write only the "
    "summary, in the conversation's language."
)
SUMMARY_PREFIX = "Summary of the earlier conversation:\n"
ITEM_ID_PREFIX = "cmp_"
CHARS_PER_TOKEN = 4  # the estimate where no tokenizer is at hand

# Opens a blob: the summary it holds, or None when it is forged, corrupt or unknown.
Opener = Callable[[str], str | None]


def kept_items(history: list[Item]) -> list[Item]:
    """What a compacted window keeps verbatim: every user message, in order (OpenAI's
    rule); everything else is stood for by the compaction item that follows them."""
    return [item for item in history if is_user_message(item)]


def is_user_message(item: Item) -> bool:
    return bool(item["type"] == "message" and item["role"] == "user")


def compaction_item(item_id: str, blob: str) -> Item:
    return {"id": item_id, "type": "compaction", "encrypted_content": blob}


def summary_message(summary: str) -> Item:
    """What the provider sees in place of a compaction item."""
    return {
        "type": "message",
        "role": "developer",
        "status": "completed",
        "content": [{"type": "input_text", "text": SUMMARY_PREFIX + summary}],
    }


def transcript(history: list[Item], instructions: str | None) -> str:
    """The conversation as one text for the summarizing call: any provider reads it, and
    tool calls need no pairing, whatever was cut before them."""
    lines = [f"system: {instructions}"] if instructions else []
    lines += (_line(item) for item in history)
    return "\n\n".join(lines)


def _line(item: Item) -> str:
    kind = item["type"]
    if kind == "message":
        return f"{item['role']}: {text_of(item['content'])}"
    if kind == "function_call":
        return f"assistant called {item['name']}({item['arguments']}) [{item['call_id']}]"
    if kind == "function_call_output":
        return f"tool result [{item['call_id']}]: {text_of(item['output'])}"
    return f"[{kind}]"


def estimated_tokens(history: list[Item]) -> int:
    """About how many tokens `history` costs: ~4 characters a token."""
    return len(transcript(history, None)) // CHARS_PER_TOKEN
