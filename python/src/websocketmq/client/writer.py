"""One client connection's outgoing frames, coalesced: every event, request and answer the
client produces in one event-loop iteration goes out in one socket write.

Why: with many requests in flight, one received batch of answers wakes many callers in the
same iteration and each sends its next request; written one by one that is one ``send``
syscall per frame, which is most of the client's CPU on the RPC hot path (issue 18). Batched
they cost one syscall per iteration, as the broker's direct write path does
(``websocketmq.server``).

This reaches into ``websockets`` internals (``protocol.send_text`` / ``data_to_send``,
``send_in_progress``, ``transport.write``), so :func:`batching_supported` probes for them once
per connection class, and every frame can also take the public path
(``await ws.send(frame)``): when the probe fails, while the transport's buffer is over
:data:`BATCH_LIMIT` (backpressure: the public path waits for the socket to drain) and while
websockets itself is sending. Ordering holds because the batch is flushed before any frame
takes the public path.
"""

from __future__ import annotations

import asyncio
import logging

from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

__all__ = ["BATCH_LIMIT", "FrameWriter", "batching_supported"]

log = logging.getLogger("websocketmq.client")

BATCH_LIMIT = 256 * 1024
"""Bytes buffered in the transport (plus the batch) above which frames take the public,
draining path instead of the batch."""

_OPEN = State.OPEN
_SUPPORTED: dict[type, bool] = {}


_NEEDED = (
    ("", "send_in_progress"),
    ("protocol", "state"),
    ("protocol", "send_text"),
    ("protocol", "data_to_send"),
    ("transport", "get_write_buffer_size"),
    ("transport", "write"),
)
"""(attribute of the connection, its attribute) pairs the batch uses."""


def batching_supported(ws: ClientConnection) -> bool:
    """Whether ``ws`` has the ``websockets`` internals the batch uses (:data:`_NEEDED`, checked
    for websockets 15-17); probed once per connection class."""
    kind = type(ws)
    known = _SUPPORTED.get(kind)
    if known is None:
        known = _SUPPORTED[kind] = all(
            hasattr(getattr(ws, owner, None) if owner else ws, name) for owner, name in _NEEDED
        )
        if not known:
            log.warning("websockets internals changed: client writes unbatched")
    return known


class FrameWriter:
    """Batch for one connection: :meth:`batch` or else ``await`` :meth:`send`."""

    __slots__ = ("_batch", "_bytes", "_ws", "batched", "enabled")

    def __init__(self, ws: ClientConnection, *, enabled: bool | None = None) -> None:
        self._ws = ws
        self.enabled = batching_supported(ws) if enabled is None else enabled
        """Whether the batch is used at all (False: every frame takes the public path)."""
        self._batch: list[bytes] = []
        self._bytes = 0
        self.batched = 0
        """Frames written through the batch (informational, for tests)."""

    def batch(self, frame: bytes) -> bool:
        """Queue ``frame`` for this iteration's write; False: send it with :meth:`send`."""
        if not self.enabled:
            return False
        ws = self._ws
        if (
            ws.protocol.state is not _OPEN
            or ws.send_in_progress is not None
            or ws.transport.get_write_buffer_size() + self._bytes >= BATCH_LIMIT
        ):
            return False
        if not self._batch:
            asyncio.get_running_loop().call_soon(self.flush)
        self._batch.append(frame)
        self._bytes += len(frame)
        return True

    def flush(self) -> None:
        """Encode the batched frames (masked, as a client must) and write them at once."""
        batch, self._batch, self._bytes = self._batch, [], 0
        ws = self._ws
        if not batch or ws.protocol.state is not _OPEN:
            return  # closing: the connection's loss fails what was waiting on these
        try:
            protocol = ws.protocol
            for frame in batch:
                protocol.send_text(frame)
            data = b"".join(protocol.data_to_send())
            if data:
                ws.transport.write(data)
            self.batched += len(batch)
        except Exception:  # the connection broke under us; the reader sees it
            log.debug("batched write failed", exc_info=True)

    async def send(self, frame: bytes) -> None:
        """The public path (waits while the socket drains); the batch goes first."""
        if self._batch:
            self.flush()
        await self._ws.send(frame, text=True)
