"""The transport for frameworks that give us an awaitable "send a text frame" (ASGI, aiohttp).

:class:`QueuedTransport` implements :class:`~websocketmq.broker.connection.Transport`
(docs/design.md, "The transport seam") on two coroutines a framework adapter supplies — send
one text frame, send the close — with the bounded queue and single writer task of design.md
§9: the broker never awaits a slow socket; a full queue makes ``send`` return False and the
broker decides (4008, with the final ``RATE_LIMITED`` frame it supplies). The queue is bounded
by the broker's :class:`~websocketmq.limits.SendBudget`, the same policy object the standalone
server uses: frames and bytes per connection, bytes across every connection of the broker
(docs/security.md §4). :func:`run_connection`
is the read side every adapter shares: frames in, in order, then the one ``closed`` call.

The standalone server keeps its own transport (``server.py``): it can write straight into the
socket, which a framework's send API does not allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from .errors import ShuttingDown

if TYPE_CHECKING:
    from .broker import Broker, ClientConnection
    from .limits import SendBudget

__all__ = ["Closing", "QueuedTransport", "end_connection", "run_connection"]

log = logging.getLogger("websocketmq.server")

SendText = Callable[[str], Awaitable[None]]
SendClose = Callable[[int, str], Awaitable[None]]

_HARD_CLOSE = 1.0
"""Seconds a close after a slow consumer may take: that peer does not read our frames."""


class QueuedTransport:
    """A bounded send queue drained by one writer task, over a framework's send coroutines.

    ``budget`` (the broker's) decides whether a frame may queue; a frame's bytes are given
    back once the framework's send returned (or the queue is dropped). When the broker-wide
    cap needs room, the budget calls :meth:`overflow` on the biggest holder."""

    __slots__ = (
        "_budget",
        "_bytes",
        "_closing",
        "_queue",
        "_send_close",
        "_send_text",
        "_wake",
        "close_timeout",
        "on_overflow",
        "reader",
        "writer",
    )

    def __init__(
        self,
        send_text: SendText,
        send_close: SendClose,
        budget: SendBudget,
        close_timeout: float,
    ) -> None:
        self._send_text = send_text
        self._send_close = send_close
        self._queue: deque[bytes] = deque()
        self._bytes = 0
        """Payload bytes in ``_queue`` (each counted in ``_budget`` too)."""
        self._budget = budget
        self._wake: asyncio.Event | None = None
        self._closing: tuple[int, str] | None = None
        self.on_overflow: Callable[[], None] | None = None
        """How the broker closes this connection as a slow consumer (4008, with its final
        frame) when the broker-wide cap needs its bytes back; set by :func:`run_connection`."""
        self.close_timeout = close_timeout
        """Seconds after our close frame until the read side is given up on."""
        self.writer: asyncio.Task[None] | None = None
        self.reader: asyncio.Task[None] | None = None
        """The task reading this connection: cancelled when the peer does not answer our
        close within ``close_timeout`` (the framework then drops the socket)."""

    @property
    def closing(self) -> tuple[int, str] | None:
        """The (code, reason) we decided to close with, if any."""
        return self._closing

    @property
    def queued(self) -> int:
        """Frames waiting to be written (``wsmq_send_queue_frames``)."""
        return len(self._queue)

    @property
    def queued_bytes(self) -> int:
        """Payload bytes waiting in the send queue (bounded by ``send_queue_bytes``)."""
        return self._bytes

    def send(self, frame: bytes) -> bool:
        if self._closing is not None:
            return True  # dropped: the connection is going away anyway
        size = len(frame)
        if not self._budget.admit(self, len(self._queue), self._bytes, size):
            return False
        self._queue.append(frame)
        self._bytes += size
        self._start_writer()
        return True

    def overflow(self) -> None:
        """Closed as a slow consumer to make room under the broker-wide cap: through the
        broker (its RATE_LIMITED frame, then 4008) when it told us how; the queue is dropped
        either way."""
        if self.on_overflow is not None:
            self.on_overflow()
        if self._closing is None:
            self.close(4008, "slow consumer", flush=False)
        self._drop_queue()

    def _drop_queue(self) -> None:
        """Forget every queued frame and give its bytes back to the budget."""
        self._queue.clear()
        self._budget.give(self, self._bytes)
        self._bytes = 0

    def close(
        self, code: int, reason: str, *, final: bytes | None = None, flush: bool = True
    ) -> None:
        if self._closing is not None:
            return
        self._closing = (code, reason)
        if flush:
            if final is not None:
                self._queue.append(final)
                self._bytes += len(final)
                self._budget.take(self, len(final), force=True)  # the last one: not capped
            self._start_writer()
            return
        # a slow consumer: the writer may be stuck in a drain that never ends; replace it by
        # the final frame and the close, each bounded
        self._drop_queue()
        if self.writer is not None:
            self.writer.cancel()
        self.writer = asyncio.get_running_loop().create_task(self._close_hard(code, reason, final))

    def _start_writer(self) -> None:
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())
        elif self._wake is not None:
            self._wake.set()

    async def _write(self) -> None:
        self._wake = wake = asyncio.Event()
        queue = self._queue
        try:
            while True:
                while queue:
                    frame = queue[0]
                    await self._send_text(frame.decode())  # handed over: no longer queued
                    queue.popleft()
                    self._bytes -= len(frame)
                    self._budget.give(self, len(frame))
                if self._closing is not None:
                    await self._send_close(*self._closing)
                    self._give_up_reading()
                    return
                wake.clear()
                await wake.wait()
        except asyncio.CancelledError:
            raise
        except Exception:  # the peer is gone; the reader sees the disconnect
            log.debug("write failed", exc_info=True)
        finally:
            if self.writer is asyncio.current_task():  # not replaced by _close_hard
                self._drop_queue()

    async def _close_hard(self, code: int, reason: str, final: bytes | None) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_HARD_CLOSE):
                if final is not None:
                    await self._send_text(final.decode())
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_HARD_CLOSE):
                await self._send_close(code, reason)
        self._give_up_reading(0.0)

    def _give_up_reading(self, after: float | None = None) -> None:
        """Cancel the read side if the peer has not ended it ``after`` seconds from now."""
        reader = self.reader
        if reader is not None and not reader.done():
            delay = self.close_timeout if after is None else after
            asyncio.get_running_loop().call_later(delay, reader.cancel)


async def run_connection(
    broker: Broker,
    transport: QueuedTransport,
    identity: object,
    frames: AsyncIterator[str | bytes],
    peer_code: Callable[[], int | None],
) -> None:
    """Feed ``frames`` (every frame the peer sends, in order, until it disconnects) to a new
    broker connection, then tell the broker it is gone; returns once the writer is done.
    ``peer_code()`` is the close code the peer sent, once ``frames`` has ended."""
    try:
        conn = broker.connect(transport, identity)
    except ShuttingDown:
        transport.close(1001, "broker shutting down")
        await _finish(transport)
        return

    async def read() -> None:
        async for frame in frames:
            await conn.receive(frame)

    transport.on_overflow = conn.slow_consumer
    reason, code = "connection lost", 1006
    transport.reader = reader = asyncio.get_running_loop().create_task(read())
    try:
        await reader
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # we are cancelled, not (only) the reader
    except Exception:
        log.exception("connection %s failed", conn.client_id)
        transport.close(1011, "internal error")
        code, reason = 1011, "internal error"
    finally:
        if not reader.done():
            reader.cancel()
        ours = transport.closing
        rcvd = peer_code()
        if code == 1011:
            pass
        elif ours is not None:
            code, reason = ours[0], f"closed by broker: {ours[0]} {ours[1]}".rstrip()
        elif rcvd is not None:
            code, reason = rcvd, f"closed by client: {rcvd}"
        await end_connection(broker, conn, transport, code, reason)


class Closing(Protocol):
    """What :func:`end_connection` needs of a transport (this module's and ``server.py``'s)."""

    @property
    def closing(self) -> tuple[int, str] | None: ...

    @property
    def writer(self) -> asyncio.Task[None] | None: ...

    def close(
        self, code: int, reason: str, *, final: bytes | None = None, flush: bool = True
    ) -> None: ...


async def end_connection(
    broker: Broker, conn: ClientConnection, transport: Closing, code: int, reason: str
) -> None:
    """The socket is gone (closed with ``code``): count it, tell the broker, then let the
    writer finish (bounded) so queued frames and our close go out first."""
    observer = broker.observer
    if observer is not None:
        observer.closed(code)  # wsmq_closes_total
    await conn.closed(reason)
    if transport.closing is None:
        transport.close(1000, "")  # flush what is queued, then close
    await _finish(transport)


async def _finish(transport: Closing) -> None:
    """Wait for the writer (bounded): queued frames and the close go out first."""
    writer = transport.writer
    if writer is not None and not writer.done():
        try:
            async with asyncio.timeout(2):
                await writer
        except TimeoutError:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
