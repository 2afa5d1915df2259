"""A plain HTTP/1.1 GET over a real socket, for the broker's HTTP endpoints (no client
library in between: what is on the wire is what the test sees)."""

from __future__ import annotations

import asyncio

__all__ = ["http_get"]


async def http_get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[str, dict[str, str], bytes]:
    """GET ``path`` from 127.0.0.1:``port``: (status line, lower-cased headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").split("\r\n")
        fields = {}
        for line in lines:
            if ":" in line:
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
        body = await reader.readexactly(int(fields["content-length"]))
        return status, fields, body
    finally:
        writer.close()
        await writer.wait_closed()
