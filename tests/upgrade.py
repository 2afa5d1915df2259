"""A raw WebSocket upgrade over a real socket, with headers of the test's choosing.

Client libraries set ``Host`` from the URL; the Host, Origin and forwarding-header guards need
requests a browser behind a rebinding DNS name, or a reverse proxy, would send. What is on the
wire is exactly what the test wrote.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
from dataclasses import dataclass

__all__ = ["OpenUpgrade", "client_frame", "upgrade", "upgrade_status"]

TIMEOUT = 10.0


@dataclass
class OpenUpgrade:
    """The answer to one upgrade; the socket stays open (a connection holding its slot)."""

    status: int
    head: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def aclose(self) -> None:
        """Drop the TCP connection."""
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


async def upgrade(
    port: int,
    path: str = "/ws",
    headers: dict[str, str] | None = None,
    *,
    host: str | None = None,
    rcvbuf: int | None = None,
    source: str | None = None,
) -> OpenUpgrade:
    """Send a WebSocket upgrade to 127.0.0.1:``port`` and read the response head.
    ``rcvbuf``: a small kernel receive buffer, so a peer that stops reading backs up fast;
    ``source``: the local address to connect from (``127.0.0.2``…: another client, still
    loopback)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    try:
        if source is not None:
            sock.bind((source, 0))
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    reader, writer = await asyncio.open_connection(sock=sock, limit=rcvbuf or 2**16)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host if host is not None else f'127.0.0.1:{port}'}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: wsmq.v1",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    async with asyncio.timeout(TIMEOUT):
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status = int(head.split(" ", 2)[1])
    return OpenUpgrade(status, head, reader, writer)


async def upgrade_status(
    port: int,
    path: str = "/ws",
    headers: dict[str, str] | None = None,
    *,
    host: str | None = None,
    source: str | None = None,
) -> int:
    """The status code the upgrade gets (101 or a refusal); the socket is closed after."""
    answer = await upgrade(port, path, headers, host=host, source=source)
    await answer.aclose()
    return answer.status


def client_frame(text: str) -> bytes:
    """One masked text frame, as a client must send it (RFC 6455 §5.2), for tests that hold
    a raw socket they never read from."""
    payload = text.encode()
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes([0x81, 0x80 | size])
    elif size < 1 << 16:
        head = bytes([0x81, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
