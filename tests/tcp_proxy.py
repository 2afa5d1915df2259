"""A small asyncio TCP proxy for fault tests: forward, then blackhole traffic without a FIN.

A real network partition (cable pulled, NAT entry expired, laptop lid closed) does not close the
TCP connection: bytes just stop arriving, in both directions, and neither end learns anything
until a keepalive times out. Closing a socket in a test is the wrong fault (the peer sees a FIN at
once). This proxy sits between a client and the broker on 127.0.0.1 and, on :meth:`blackhole`,
keeps both TCP connections open while silently dropping every byte — so the broker can only
notice through its own ping interval + ping timeout, which is what the fault test measures.

Usage::

    async with TcpProxy("127.0.0.1", broker_port) as proxy:
        client = await connect(f"ws://127.0.0.1:{proxy.port}/ws")
        proxy.blackhole()
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

__all__ = ["TcpProxy"]


class TcpProxy:
    """Forward 127.0.0.1:<port> to ``upstream``; :meth:`blackhole` drops bytes, sends no FIN."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = 0
        self.blackholed = False
        self.accepted = 0
        """Connections accepted so far (tests assert the client reached the proxy)."""
        self.dropped_bytes = 0
        """Bytes read and discarded while blackholed (proves the fault was exercised)."""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        """Listen on a free port of 127.0.0.1; :attr:`port` holds it afterwards."""
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def blackhole(self) -> None:
        """From now on drop every byte in both directions; keep both sockets open (no FIN)."""
        self.blackholed = True

    def restore(self) -> None:
        """Forward again (bytes dropped meanwhile are lost, as on a real network)."""
        self.blackholed = False

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                if self.blackholed:
                    self.dropped_bytes += len(data)
                    continue
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # The source ended (only outside a blackhole: a blackholed peer is never told).
            if not self.blackholed:
                dst.close()

    async def aclose(self) -> None:
        """Stop listening and close every connection (now with a FIN/RST: the test is over)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
