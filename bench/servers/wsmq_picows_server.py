"""Experiment: our broker's core behind a ``picows`` transport instead of ``websockets``.

The issue asks whether a faster transport behind the same sans-I/O core clears a target that
``websockets`` cannot. This adapter is the whole answer to "what would it take": the broker
only needs ``Transport.send(frame) -> bool`` and ``close(code, reason)`` (broker.Transport) and
``await conn.receive(text)`` per frame, in order. Frames are queued per connection and fed to
the broker by one task per connection that wakes once per batch. It is bench-only: no Origin
check, no authentication hook, no HTTP routes, no graceful close — see ``websocketmq.server``
for the real thing. Prints ``wsmq: listening on ws://…`` and exits on stdin EOF.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
from typing import Any

from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    ws_create_server,
)

from bench.servers.common import announce, raise_fd_limit, stop_on_stdin_eof
from bench.servers.wsmq_server import bench_options, build_broker

__all__ = ["main"]

_WRITE_LIMIT = 1 << 20
"""Bytes buffered for a connection before ``send`` reports it full (slow consumer, 4008)."""


class BrokerListener(WSListener):
    """One connection: picows callbacks in, broker core in the middle, picows writes out."""

    def __init__(self, broker: Any) -> None:
        super().__init__()
        self.broker = broker
        self.transport: WSTransport | None = None
        self.conn: Any = None
        self.frames: collections.deque[str] = collections.deque()
        self.wake: asyncio.Future[None] | None = None
        self.gone = False
        self.task: asyncio.Task[None] | None = None

    # -- broker.Transport ----------------------------------------------------------------
    def send(self, frame: bytes) -> bool:
        t = self.transport
        if t is None or self.gone:
            return True
        if t.underlying_transport.get_write_buffer_size() > _WRITE_LIMIT:
            return False
        t.send(WSMsgType.TEXT, frame)
        return True

    def close(
        self, code: int, reason: str, *, final: bytes | None = None, flush: bool = True
    ) -> None:
        t = self.transport
        if t is not None and not self.gone:
            if final is not None:
                t.send(WSMsgType.TEXT, final)
            t.send_close(WSCloseCode(code), reason.encode())
            t.disconnect()

    # -- picows callbacks ----------------------------------------------------------------
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.conn = self.broker.connect(self)
        self.task = asyncio.get_running_loop().create_task(self._pump())

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        mt = frame.msg_type
        if mt == WSMsgType.TEXT:
            self.frames.append(frame.get_payload_as_utf8_text())
            w = self.wake
            if w is not None and not w.done():
                w.set_result(None)
        elif mt == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif mt == WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.gone = True
        w = self.wake
        if w is not None and not w.done():
            w.set_result(None)

    async def _pump(self) -> None:
        """Feed frames to the broker in order; one wake-up per batch of frames."""
        frames = self.frames
        conn = self.conn
        loop = asyncio.get_running_loop()
        try:
            while not self.gone:
                while frames:
                    await conn.receive(frames.popleft())
                if self.gone:
                    break
                self.wake = loop.create_future()
                await self.wake
                self.wake = None
        finally:
            await conn.closed("connection lost" if self.gone else "closed")


async def amain(args: argparse.Namespace) -> None:
    """Serve until stdin closes."""
    stop = asyncio.Event()
    stop_on_stdin_eof(asyncio.get_running_loop(), stop)
    broker = build_broker(bench_options())
    await broker.start()

    def factory(_request: WSUpgradeRequest) -> BrokerListener:
        return BrokerListener(broker)

    server = await ws_create_server(factory, args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    announce(f"ws://{args.host}:{port}/ws", prefix="wsmq")
    try:
        await stop.wait()
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await broker.close()


def main() -> None:
    """``python -m bench.servers.wsmq_picows_server [--port 0]``."""
    raise_fd_limit()
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    asyncio.run(amain(p.parse_args()))


if __name__ == "__main__":
    main()
