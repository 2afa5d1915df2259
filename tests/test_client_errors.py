"""Issue 19: every way the Python client's ``connect()`` can fail is a ``WsmqError``
(``ConnectFailed``, a ``Disconnected``) whose message says what to check, raised at once (or
after ``connect_timeout`` for a peer that never answers), against real servers on 127.0.0.1:
our broker on a wrong path, a plain ``websockets`` echo server and a silent one (not wsmq/1),
a closed port, a plain HTTP server answering 404, and URLs that are not WebSocket URLs.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from websocketmq import ConnectFailed, Disconnected, WsmqError, connect
from websocketmq.testing import run_broker
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve

__all__: list[str] = []


async def _failure(url: str, timeout: float = 5.0) -> ConnectFailed:
    """``connect(url)`` must raise ConnectFailed (inside the tree) within ``timeout`` s."""
    with pytest.raises(ConnectFailed) as info:
        await asyncio.wait_for(connect(url, connect_timeout=timeout, auto_reconnect=False), 15)
    error = info.value
    assert isinstance(error, WsmqError) and isinstance(error, Disconnected)
    assert error.code == "DISCONNECTED"
    assert error.details["url"] == url
    return error


@asynccontextmanager
async def _ws_server(handler: object) -> AsyncIterator[str]:
    async with ws_serve(handler, "127.0.0.1", 0) as server:  # type: ignore[arg-type]
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws"


async def test_wrong_path_says_http_404_and_to_check_the_path() -> None:
    async with run_broker(port=0) as live:
        url = live.url.replace("/ws", "/nope")
        error = await _failure(url)
    assert error.details["reason"] == "http-status" and error.details["status"] == 404
    assert "HTTP 404" in error.message and "wrong path" in error.message


async def test_an_echo_server_is_not_a_wsmq_broker_and_fails_at_once() -> None:
    """A WebSocket server that echoes: the registration comes back as it went, which no wsmq/1
    broker does; the client says so at once instead of an empty TimeoutError after 10 s."""

    async def echo(ws: ServerConnection) -> None:
        async for frame in ws:
            await ws.send(frame)

    async with _ws_server(echo) as url:
        started = time.monotonic()
        error = await _failure(url, timeout=30)
        assert time.monotonic() - started < 10  # not the connect timeout
    assert error.details["reason"] == "not-wsmq"
    assert "not a wsmq/1 broker" in error.message and "echo" in error.message


async def test_a_silent_websocket_server_fails_after_connect_timeout_with_a_clear_error() -> None:
    async def silent(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with _ws_server(silent) as url:
        error = await _failure(url, timeout=0.5)
    assert error.details["reason"] == "not-wsmq"
    assert "no wsmq/1 registration ack within 0.5 s" in error.message
    assert "wsmq/1 broker" in error.message


async def test_a_server_speaking_another_protocol_is_not_wsmq() -> None:
    async def chatty(ws: ServerConnection) -> None:
        await ws.send("hello, I speak something else")
        await ws.wait_closed()

    async with _ws_server(chatty) as url:
        error = await _failure(url)
    assert error.details["reason"] == "not-wsmq"
    assert "first frame is not a wsmq/1 envelope" in error.message


async def test_a_server_closing_before_the_ack_is_not_wsmq() -> None:
    async def rude(ws: ServerConnection) -> None:
        await ws.recv()
        await ws.close(1003, "no")

    async with _ws_server(rude) as url:
        error = await _failure(url)
    assert error.details["reason"] == "not-wsmq" and error.details["closeCode"] == 1003


async def test_closed_port_says_refused_and_to_check_the_broker_runs() -> None:
    with socket.socket() as probe:  # a port nobody listens on (bound, then released)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = await _failure(f"ws://127.0.0.1:{port}/ws")
    assert error.details["reason"] == "refused"
    assert "refused" in error.message and "running" in error.message


async def test_plain_http_server_answering_404() -> None:
    """An HTTP server that is no WebSocket server at all (a static site on that port)."""

    async def http_404(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\n")
        writer.write(b"not found")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(http_404, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        error = await _failure(f"ws://127.0.0.1:{port}/ws")
    finally:
        server.close()
        await server.wait_closed()
    assert error.details == {
        "url": f"ws://127.0.0.1:{port}/ws",
        "reason": "http-status",
        "status": 404,
    }
    assert "wrong path" in error.message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/ws", "use ws:// for the broker's WebSocket endpoint"),
        ("https://example.invalid/ws", "use wss://"),
        ("garbage", "must start with ws:// or wss://"),
        ("", "must start with ws:// or wss://"),
        ("ws://", "not a valid WebSocket URL"),
    ],
)
async def test_bad_urls_fail_at_once_saying_what_a_url_looks_like(url: str, expected: str) -> None:
    error = await _failure(url)
    assert error.details["reason"] == "bad-url"
    assert expected in error.message, error.message


async def test_the_reconnect_loop_keeps_trying_after_connect_failures() -> None:
    """ConnectFailed is a WsmqError, so a lost connection whose broker is gone (refused) is
    retried, not fatal: the client comes back when the broker does, on the same port."""
    async with run_broker(port=0) as live:
        port = live.port
        client = await connect(live.url, reconnect_min=0.05, reconnect_max=0.2)
    try:
        await asyncio.sleep(0.3)  # a few refused reconnects
        assert not client.connected
        async with run_broker(port=port):
            await client.wait_connected(10)
            assert await client.ping(5) > 0
    finally:
        await client.close()
