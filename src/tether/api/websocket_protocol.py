"""uvicorn's WebSocket protocol, with a shutdown that lets a running response finish."""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

# The reason of the `websocket.disconnect` that tells the app the server is draining.
DRAINING = "tether.draining"


class DrainingWebSocketProtocol(WebSocketsSansIOProtocol):
    """On shutdown uvicorn closes every WebSocket with 1012 at once, cutting a response
    mid-stream. Here an accepted connection is only told (a `websocket.disconnect` whose
    reason is `DRAINING`, the socket still open): the app finishes its running response
    and closes with 1001 itself. uvicorn waits for connections to close up to its
    graceful-shutdown timeout, then cancels what remains."""

    def shutdown(self) -> None:
        if self.handshake_complete and not self.close_sent and not self.transport.is_closing():
            self.queue.put_nowait(
                {"type": "websocket.disconnect", "code": 1001, "reason": DRAINING}
            )
            return
        super().shutdown()
