"""The limits of websocketmq.limits wired into the broker and server, over real sockets.

Message rate, protocol-error budget (close 4029), JSON depth, connections per IP (HTTP 429),
handshake deadline (slowloris) and the Origin policy (HTTP 403). The rate, error-budget, flood
and slowloris cases also check that a well-behaved bystander is still served: a limit hits the
offender only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from rawpeer import TIMEOUT, RawPeer, envelope, error_code, spawn_broker
from test_security import bystander_ok, running
from websocketmq.limits import DEFAULT_LIMITS
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

__all__: list[str] = []


async def test_message_rate_limit_drops_with_rate_limited() -> None:
    async with running(message_rate=5, message_burst=5, error_budget=1000) as (_, server):
        peer = await RawPeer.connect(server.url)  # registration is message 1 of the burst
        try:
            envs = [envelope("request", "t.echo", i) for i in range(20)]
            for env in envs:
                await peer.send(env)
            answers = [await peer.answer_to(e["header"]["correlationID"]) for e in envs]
            codes = [error_code(a) for a in answers]
            assert codes.count(None) >= 3  # the burst passed (answers are responses)
            assert codes.count("RATE_LIMITED") >= 10  # the rest were refused, each answered
            assert set(codes) <= {None, "RATE_LIMITED"}
        finally:
            await peer.aclose()
        await bystander_ok(server.url)  # a separate bucket per connection


async def test_protocol_error_budget_closes_4029() -> None:
    async with running(error_budget=5, error_window=60) as (_, server):
        peer = await RawPeer.connect(server.url)
        for i in range(20):
            await peer.send(f"garbage {i}")
        assert await peer.closed() == 4029
        errors = [error_code(m) for m in peer.inbox]
        assert errors.count("BAD_MESSAGE") == 5 + 1, errors  # 5 tolerated, the 6th closes
        assert errors[-1] == "RATE_LIMITED", errors  # the envelope that says why, then the close
        assert peer.inbox[-1]["body"]["error"]["details"] == {"reason": "error-budget"}
        await bystander_ok(server.url)


async def test_flood_with_default_limits_ends_in_4029() -> None:
    async with running() as (_, server):
        peer = await RawPeer.connect(server.url)
        frame = json.dumps(envelope("event", "flood.x", "x"))
        sent = 0
        with contextlib.suppress(ConnectionClosed):  # the broker may hang up mid-flood
            for _ in range(20_000):
                await peer.send(frame)
                sent += 1
        code = await peer.closed()
        assert code == 4029, (code, sent)
        assert sent > DEFAULT_LIMITS.message_burst  # the burst itself was accepted
        await bystander_ok(server.url)


@pytest.mark.parametrize(("depth", "ok"), [(7, True), (8, False), (10_000, False)])
async def test_json_depth_limit(depth: int, ok: bool) -> None:
    """Whole-frame depth: the envelope object is level 1, so a body nesting ``d`` is 1 + d."""
    async with running(max_json_depth=8) as (_, server):
        peer = await RawPeer.connect(server.url)
        try:
            env = envelope("request", "t.echo", None)
            text = json.dumps(env).replace('"body": null', '"body": ' + "[" * depth + "]" * depth)
            await peer.send(text)
            answer = await peer.answer_to(env["header"]["correlationID"])
            if ok:
                assert answer["header"]["type"] == "response", answer
            else:
                assert error_code(answer) == "BAD_MESSAGE", answer
                assert "depth" in answer["body"]["error"]["message"]
        finally:
            await peer.aclose()


async def test_connections_per_ip() -> None:
    async with running(max_connections_per_ip=3) as (_, server):
        peers = [await RawPeer.connect(server.url) for _ in range(3)]
        with pytest.raises(InvalidStatus) as info:
            await connect(server.url, open_timeout=TIMEOUT)
        assert info.value.response.status_code == 429
        # a slot frees as soon as a connection ends
        await peers.pop().aclose()
        async with asyncio.timeout(TIMEOUT):
            while True:
                try:
                    peers.append(await RawPeer.connect(server.url))
                    break
                except InvalidStatus as exc:  # the server may not have seen the close yet
                    assert exc.response.status_code == 429
                    await asyncio.sleep(0.05)
        for peer in peers:
            await peer.aclose()


async def test_handshake_deadline_drops_slowloris() -> None:
    async with running(handshake_timeout=1.0) as (_, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")  # never ends
        await writer.drain()
        await bystander_ok(server.url)  # others connect meanwhile
        await asyncio.wait_for(reader.read(), TIMEOUT)  # returns once the server hangs up
        assert reader.at_eof()
        writer.close()


# --- Origin policy ----------------------------------------------------------------------------


async def _status(url: str, origin: str | None) -> int:
    headers = {} if origin is None else {"Origin": origin}
    try:
        ws = await connect(url, additional_headers=headers, open_timeout=TIMEOUT)
    except InvalidStatus as exc:
        return exc.response.status_code
    await ws.close()
    return 101


async def test_default_origin_policy_is_same_origin() -> None:
    async with running() as (_, server):
        port = server.port
        cases: list[tuple[str | None, int]] = [
            (None, 101),  # non-browser clients send no Origin
            (f"http://127.0.0.1:{port}", 101),  # the page served by this broker
            (f"https://127.0.0.1:{port}", 101),  # behind a TLS proxy the scheme differs
            ("null", 403),  # sandboxed iframes, file://, data: URLs
            ("http://evil.example", 403),
            (f"http://127.0.0.1.evil.example:{port}", 403),
            (f"http://127.0.0.1:{port + 1}", 403),  # another port is another origin
            ("http://127.0.0.1", 403),
        ]
        for origin, status in cases:
            assert await _status(server.url, origin) == status, origin


async def test_origin_allow_list() -> None:
    allowed: list[Any] = ["https://app.example.com"]
    async with running(allowed_origins=allowed) as (_, server):
        cases: list[tuple[str | None, int]] = [
            ("https://app.example.com", 101),
            ("HTTPS://App.Example.COM", 101),  # scheme and host are case-insensitive
            ("https://app.example.com:443", 101),  # the default port is the same origin
            (None, 403),  # missing: configured list, so browsers only
            ("null", 403),
            ("https://app.example.com.evil.com", 403),  # look-alike suffix
            ("https://evilapp.example.com", 403),
            ("https://app.example.com:8443", 403),  # wrong port
            ("http://app.example.com", 403),  # wrong scheme
            ("https://app.example.com/path", 403),  # not an origin at all
        ]
        for origin, status in cases:
            assert await _status(server.url, origin) == status, origin
    async with running(allowed_origins=[None, "https://app.example.com"]) as (_, server):
        assert await _status(server.url, None) == 101  # opt in to non-browser clients
        assert await _status(server.url, "null") == 403
    async with running(allowed_origins=["*"]) as (_, server):
        assert await _status(server.url, "https://anything.example") == 101
        assert await _status(server.url, None) == 101


async def test_cli_limit_flags() -> None:
    """``wsmq serve`` exposes the Origin list and the limits operators most often change."""
    args = ("--allowed-origin", "https://app.example.com", "--allowed-origin", "none")
    async with spawn_broker(*args) as broker:
        assert await _status(broker.url, "https://app.example.com") == 101
        assert await _status(broker.url, None) == 101  # 'none' admits non-browser clients
        assert await _status(broker.url, "http://127.0.0.1") == 403
    async with spawn_broker("--max-connections-per-ip", "1") as broker:
        first = await RawPeer.connect(broker.url)
        try:
            with pytest.raises(InvalidStatus) as info:
                await connect(broker.url, open_timeout=TIMEOUT)
            assert info.value.response.status_code == 429
        finally:
            await first.aclose()
