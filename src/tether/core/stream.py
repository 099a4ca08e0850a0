"""The Responses streaming protocol as a pure state machine over provider deltas.

Feed it deltas; it returns the events to send. The caller records the final
response between `finish()` and `completed()`, so a turn is stored before the
client can see `response.completed`.
"""

from __future__ import annotations

from typing import Any

from tether.core.completion import StreamEnd, TextDelta, ToolCallDelta
from tether.core.ids import new_item_id
from tether.core.items import Item
from tether.core.response import failed, finished

Event = dict[str, Any]


class ResponseStream:
    def __init__(self, base: dict[str, Any], leading: list[Item] | None = None) -> None:
        """`leading`: output items known before the model answers (a compaction item)."""
        self._base = base
        self._seq = 0
        self._leading = leading or []
        self._output: list[Item] = []
        self._open: Item | None = None  # the item being streamed, if any
        self._tool_index: int | None = None

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def start(self) -> list[Event]:
        events = [
            self._event("response.created", response=self._base),
            self._event("response.in_progress", response=self._base),
        ]
        for item in self._leading:
            index = len(self._output)
            events.append(self._event("response.output_item.added", output_index=index, item=item))
            events.append(self._event("response.output_item.done", output_index=index, item=item))
            self._output.append(item)
        return events

    def feed(self, delta: TextDelta | ToolCallDelta) -> list[Event]:
        if isinstance(delta, TextDelta):
            return self._text(delta.text)
        return self._tool(delta)

    def _text(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self._open is None or self._open["type"] != "message":
            events += self._close()
            events += self._open_message()
        assert self._open is not None
        self._open["content"][0]["text"] += text
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=self._open["id"],
                output_index=len(self._output),
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def _open_message(self) -> list[Event]:
        item: Item = {
            "id": new_item_id("msg_"),
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self._open = item
        index = len(self._output)
        part = {"type": "output_text", "text": "", "annotations": []}
        added = {**item, "content": []}
        events = [self._event("response.output_item.added", output_index=index, item=added)]
        item["content"].append(part)
        events.append(
            self._event(
                "response.content_part.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=dict(part),
            )
        )
        return events

    def _tool(self, delta: ToolCallDelta) -> list[Event]:
        events: list[Event] = []
        if self._open is None or self._tool_index != delta.index:
            events += self._close()
            events += self._open_call(delta)
        assert self._open is not None
        if delta.arguments:
            self._open["arguments"] += delta.arguments
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=self._open["id"],
                    output_index=len(self._output),
                    delta=delta.arguments,
                )
            )
        return events

    def _open_call(self, delta: ToolCallDelta) -> list[Event]:
        self._tool_index = delta.index
        item: Item = {
            "id": new_item_id("fc_"),
            "type": "function_call",
            "status": "in_progress",
            "call_id": delta.call_id or new_item_id("call_"),
            "name": delta.name or "",
            "arguments": "",
        }
        self._open = item
        return [
            self._event(
                "response.output_item.added", output_index=len(self._output), item=dict(item)
            )
        ]

    def _close(self, status: str = "completed") -> list[Event]:
        item, self._open, self._tool_index = self._open, None, None
        if item is None:
            return []
        index = len(self._output)
        item["status"] = status
        events: list[Event] = []
        if item["type"] == "message":
            part = item["content"][0]
            common = {"item_id": item["id"], "output_index": index, "content_index": 0}
            events.append(
                self._event("response.output_text.done", **common, text=part["text"], logprobs=[])
            )
            events.append(self._event("response.content_part.done", **common, part=part))
        else:
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        events.append(self._event("response.output_item.done", output_index=index, item=item))
        self._output.append(item)
        return events

    def finish(self, end: StreamEnd, completed_at: float) -> tuple[list[Event], dict[str, Any]]:
        """Close open items; return their events and the final response to record."""
        events: list[Event] = []
        if len(self._output) == len(self._leading) and self._open is None:
            events += self._text("")  # a reply with no content still has one (empty) message
        events += self._close("incomplete" if end.finish == "length" else "completed")
        final = finished(self._base, self._output, end.finish, end.usage, completed_at)
        return events, final

    def completed(self, final: dict[str, Any]) -> Event:
        kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
        return self._event(kind, response=final)

    def fail(self, code: str, message: str) -> list[Event]:
        """End a stream that cannot complete: an `error` event, then `response.failed`."""
        self._open = None
        error = self._event("error", code=code, message=message, param=None)
        # The response's error code is OpenAI's fixed vocabulary; the event keeps ours.
        response = failed({**self._base, "output": self._output}, "server_error", message)
        return [error, self._event("response.failed", response=response)]
