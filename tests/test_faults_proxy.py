"""The fault-injection proxy itself: it forwards, and its blackhole drops bytes without a FIN.

The broker fault tests (test_faults.py) rely on this: if the blackhole leaked a FIN the broker
would free the connection at once and the ping-timeout test would pass for the wrong reason.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from tcp_proxy import TcpProxy

__all__: list[str] = []


@dataclass
class EchoServer:
    """What the upstream of the proxy saw: every chunk it received, and its reader's EOF."""

    port: int = 0
    received: list[bytes] = field(default_factory=list)
    saw_eof: asyncio.Event = field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[EchoServer]:
    """A TCP echo server on a free 127.0.0.1 port (the proxy's upstream), closed on exit."""
    state = EchoServer()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            state.received.append(data)
            writer.write(data)
            await writer.drain()
        state.saw_eof.set()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


async def test_proxy_forwards_then_blackholes_without_fin() -> None:
    async with echo_server() as upstream:
        async with TcpProxy("127.0.0.1", upstream.port) as proxy:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"hello")
            assert await asyncio.wait_for(reader.readexactly(5), 5) == b"hello"
            assert proxy.accepted == 1

            proxy.blackhole()
            writer.write(b"lost")
            await writer.drain()
            # Nothing comes back and the upstream is not told: both sides just wait.
            reply = asyncio.ensure_future(reader.read(1))
            eof = asyncio.ensure_future(upstream.saw_eof.wait())
            done, _ = await asyncio.wait([reply, eof], timeout=0.5)
            assert not done
            # Even the client closing its side is swallowed: no FIN reaches the server.
            writer.close()
            done, _ = await asyncio.wait([eof], timeout=0.5)
            assert not done
            assert b"lost" not in b"".join(upstream.received)
            assert proxy.dropped_bytes >= 4
            reply.cancel()
        # Closing the proxy ends the upstream connection too (the test cleans up after itself).
        await asyncio.wait_for(upstream.saw_eof.wait(), 5)


async def test_proxy_restore_forwards_again() -> None:
    async with echo_server() as upstream, TcpProxy("127.0.0.1", upstream.port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        proxy.blackhole()
        proxy.restore()
        writer.write(b"again")
        assert await asyncio.wait_for(reader.readexactly(5), 5) == b"again"
        writer.close()
