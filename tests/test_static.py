"""The browser bundle and demo page ship inside the Python package and the server serves them.

Why: ``pip install websocketmq`` must give a working ``/websocketmq.js`` and demo page without
Node. The bundle is built from ``typescript/`` and committed; ``make bundle-check`` (run by
``make test``) catches a stale copy, these tests catch a missing or unserved one.
"""

from __future__ import annotations

import asyncio
from importlib import resources

from websocketmq.testing import run_broker

__all__: list[str] = []


def _resource(name: str) -> bytes:
    return (resources.files("websocketmq") / "static" / name).read_bytes()


async def _get(port: int, path: str) -> tuple[str, dict[str, str], bytes]:
    """A plain HTTP/1.1 GET over a real socket: status line, headers, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers["content-length"]))
        return status, headers, body
    finally:
        writer.close()
        await writer.wait_closed()


def test_bundle_and_page_are_package_resources() -> None:
    bundle = _resource("websocketmq.js").decode()
    assert bundle.startswith("/* websocketmq ")
    assert "globalThis.WebSocketMQ = WebSocketMQ" in bundle
    page = _resource("index.html").decode()
    assert '<script src="/websocketmq.js"></script>' in page
    assert "new WebSocketMQ(" in page


async def test_server_serves_the_bundle_and_the_demo_page() -> None:
    async with run_broker(port=0) as live:
        status, headers, body = await _get(live.port, "/websocketmq.js")
        assert status.split()[1] == "200"
        assert headers["content-type"].startswith("text/javascript")
        assert body == _resource("websocketmq.js")
        status, headers, body = await _get(live.port, "/")
        assert status.split()[1] == "200"
        assert headers["content-type"].startswith("text/html")
        assert body == _resource("index.html")
