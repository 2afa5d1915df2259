"""The load generators' WebSocket client: one small interface over two client stacks.

``picows`` (the default for every system that does not negotiate compression) costs a few µs
per frame, so on a 2-core machine the servers, not the load generators, are what is measured:
with the ``websockets`` client, the subscriber processes saturated at ~60k deliveries/s for
every server alike and hid all differences. ``websockets`` is used for the permessage-deflate
rows (picows does not implement the extension), where ours and the raw peer are then driven by
the same client again. Every frame is a text frame; ``recv`` returns its payload as bytes.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = ["CLIENTS", "Conn", "PicowsConn", "WebsocketsConn", "open_conn"]

CLIENTS = ("picows", "websockets")


class Conn:
    """A client connection: ``await recv()`` → bytes, ``await send(bytes)`` (text frames)."""

    async def recv(self) -> bytes:
        """The next text frame's payload; ``ConnectionError`` once the connection is gone."""
        raise NotImplementedError

    async def send(self, data: bytes) -> None:
        """Send one text frame (waits only when the write buffer is over its high-water mark)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Close politely, bounded."""
        raise NotImplementedError

    def set_handler(self, fn: Callable[[bytes | memoryview], bytes | None]) -> None:
        """From now on call ``fn(payload)`` for every text frame instead of queueing it (no
        task wake-up per frame: what lets one process count 100k+ deliveries/s); a returned
        frame is sent back (keepalive answers). ``recv`` must not be used afterwards."""
        raise NotImplementedError

    def closed(self) -> bool:
        """True once the connection is gone."""
        raise NotImplementedError

    def extensions(self) -> list[str]:
        """Negotiated WebSocket extensions (reported, so a deflate row provably deflates)."""
        return []


class WebsocketsConn(Conn):
    """``websockets`` client, offering permessage-deflate as browsers do."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def recv(self) -> bytes:
        try:
            data = await self.ws.recv(decode=False)
        except ConnectionClosed as e:
            raise ConnectionError(str(e)) from e
        return data if isinstance(data, bytes) else data.encode()

    async def send(self, data: bytes) -> None:
        try:
            await self.ws.send(data, text=True)
        except ConnectionClosed as e:
            raise ConnectionError(str(e)) from e

    async def close(self) -> None:
        await self.ws.close()

    def set_handler(self, fn: Callable[[bytes | memoryview], bytes | None]) -> None:
        async def pump() -> None:
            try:
                while True:
                    reply = fn(await self.recv())
                    if reply is not None:
                        await self.send(reply)
            except ConnectionError:
                return

        self._pump = asyncio.create_task(pump())

    def closed(self) -> bool:
        return self.ws.close_code is not None

    def extensions(self) -> list[str]:
        return [e.name for e in self.ws.protocol.extensions]


class _Listener(WSListener):
    """Queues text payloads in a deque; wakes at most one waiter. Under load many frames
    arrive per socket read and ``recv`` then returns without suspending at all."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: collections.deque[bytes] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.writable: asyncio.Event | None = None
        self.handler: Callable[[bytes | memoryview], bytes | None] | None = None

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        mt = frame.msg_type
        if mt == WSMsgType.TEXT:
            if self.handler is not None:
                reply = self.handler(frame.get_payload_as_memoryview())
                if reply is not None:
                    transport.send(WSMsgType.TEXT, reply)
                return
            self.frames.append(frame.get_payload_as_bytes())
            self._wake()
        elif mt == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed = True
        self._wake()
        if self.writable is not None:
            self.writable.set()

    def pause_writing(self) -> None:
        self.writable = asyncio.Event()

    def resume_writing(self) -> None:
        if self.writable is not None:
            self.writable.set()
            self.writable = None


class PicowsConn(Conn):
    """``picows`` client (no compression), with flow control on send."""

    def __init__(self, transport: WSTransport, listener: _Listener) -> None:
        self.transport = transport
        self.listener = listener

    async def recv(self) -> bytes:
        lst = self.listener
        while not lst.frames:
            if lst.closed:
                raise ConnectionError("connection closed")
            lst.waiter = asyncio.get_running_loop().create_future()
            await lst.waiter
            lst.waiter = None
        return lst.frames.popleft()

    async def send(self, data: bytes) -> None:
        lst = self.listener
        if lst.closed:
            raise ConnectionError("connection closed")
        self.transport.send(WSMsgType.TEXT, data)
        if lst.writable is not None:
            await lst.writable.wait()

    async def close(self) -> None:
        if not self.listener.closed:
            self.transport.send_close()
            self.transport.disconnect()

    def set_handler(self, fn: Callable[[bytes | memoryview], bytes | None]) -> None:
        lst = self.listener
        lst.handler = fn
        while lst.frames:  # anything queued before the switch goes first, in order
            reply = fn(lst.frames.popleft())
            if reply is not None:
                self.transport.send(WSMsgType.TEXT, reply)

    def closed(self) -> bool:
        return bool(self.listener.closed)


async def open_conn(url: str, client: str) -> Conn:
    """Connect with the named client stack (one of :data:`CLIENTS`)."""
    if client == "websockets":
        return WebsocketsConn(await connect(url, max_size=2**20, open_timeout=60, close_timeout=1))
    kwargs: dict[str, Any] = {"websocket_handshake_timeout": 60}
    transport, listener = await ws_connect(_Listener, url, **kwargs)
    assert isinstance(listener, _Listener)
    return PicowsConn(transport, listener)
