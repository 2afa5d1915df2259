"""The broker's send path and socket limits, over real sockets (docs/security.md §4).

Each case reproduces a defect of issue 15 or a default of issue 18 on a real broker served on
127.0.0.1: send queues bounded in bytes and server-wide (a slow consumer of large events),
fragmented messages bounded like whole ones (``TOO_LARGE`` before every 1009), connections
counted from TCP accept with pending handshakes bounded (silent sockets), compression off by
default, and frames built once per publish for every uncompressed subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mounts import Mounted, mounted
from rawpeer import TIMEOUT, RawPeer, envelope, error_code
from test_security import bystander_ok, running
from websocketmq import server as server_module
from websocketmq.server import Server
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from wsmq_conformance.spawn import spawned_process

__all__: list[str] = []

MiB = 1 << 20


async def _never_reading(server: Server | Mounted) -> RawPeer:
    """A registered client that stops reading: a tiny receive buffer (no autotuning), no
    reads, websockets' own receive queue at one message."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    return await RawPeer.connect(server.url, max_queue=1, sock=sock, compression=None)


async def _publish_paced_by(
    broker: Any, fast: RawPeer, topic: str, count: int, pad: str
) -> list[int]:
    """Publish ``count`` events, paced by the fast subscriber only (at most 4 ahead of it);
    return the sequence numbers it received. A broker that let the slow subscribers hold
    anything back would stall this loop (the test times out)."""
    got: list[int] = []
    progress = asyncio.Event()

    async def read() -> None:
        while len(got) < count:
            msg = await fast.expect(lambda m: m["header"]["type"] == "event")
            got.append(msg["body"]["seq"])
            progress.set()

    reader = asyncio.create_task(read())
    try:
        for seq in range(count):
            while seq - len(got) > 4:
                progress.clear()
                await asyncio.wait_for(progress.wait(), TIMEOUT)
            await broker.publish(topic, {"seq": seq, "pad": pad})
        await asyncio.wait_for(reader, TIMEOUT * 3)
    finally:
        reader.cancel()
    return got


async def _cut_off(broker: Any, peer: RawPeer) -> None:
    """The never-reading peer was closed 4008 after the RATE_LIMITED frame that says why, and
    the broker has forgotten it (any transport)."""
    assert await peer.closed(TIMEOUT * 3) == 4008
    last = peer.inbox[-1]
    assert error_code(last) == "RATE_LIMITED", last
    assert last["body"]["error"]["details"] == {"reason": "slow-consumer"}
    async with asyncio.timeout(TIMEOUT):
        while broker.get_client(peer.client_id) is not None:  # noqa: ASYNC110 - no event
            await asyncio.sleep(0.01)


# --- defect 2: send queues bounded in bytes, and server-wide ---------------------------------


# The same policy object (the broker's SendBudget) on every transport: a transport that bounded
# frames only would fail these where the standalone server passes.
QUEUED = ["asgi", "aiohttp"]


async def _still_served(url: str) -> None:
    peer = await RawPeer.connect(url)
    try:
        await peer.send(envelope("request", "_client.ping", None, corr="alive"))
        assert error_code(await peer.answer_to("alive")) is None
    finally:
        await peer.aclose()


@pytest.mark.parametrize("transport", ["standalone", *QUEUED])
async def test_slow_consumers_of_large_events_are_closed_at_the_byte_bound(
    transport: str,
) -> None:
    """Issue 15 defect 2: with ~1 MB events, subscribers that never read were kept until 1024
    frames (~1 GiB) had queued (on ASGI and aiohttp too: QueuedTransport bounded frames only).
    With the documented defaults (4 MiB per connection) three such subscribers are closed 4008
    after RATE_LIMITED within a few events while the fast one gets every event in order, and
    the queued bytes (counted broker-wide) stay within 3 x (4 MiB + a frame), then back to 0."""
    async with mounted(transport) as m:
        slow = [await _never_reading(m) for _ in range(3)]
        fast = await RawPeer.connect(m.url)
        try:
            for peer in (*slow, fast):
                await peer.subscribe("big.x")
            pad = os.urandom(256 * 1024).hex()  # 512 kB per event
            got = await _publish_paced_by(m.broker, fast, "big.x", 40, pad)  # 20 MB in all
            assert got == list(range(40))
            for peer in slow:
                await _cut_off(m.broker, peer)
            budget = m.broker.send_budget
            assert 0 < budget.peak <= 3 * (4 * MiB + len(pad) + 200)
            assert budget.total == 0  # every closed queue gave its bytes back
        finally:
            for peer in (*slow, fast):
                await peer.aclose()
        await _still_served(m.url)


@pytest.mark.parametrize("transport", ["standalone", *QUEUED])
async def test_the_global_cap_closes_the_connection_holding_the_most_bytes(
    transport: str,
) -> None:
    """``max_queued_bytes`` (no per-connection byte bound here): slow subscriber A holds a
    backlog of over half the 2 MiB cap; then B, also never reading, starts to queue. When the
    total would pass the cap, A (the biggest holder) is closed 4008, not B, whose frame came
    last; once B alone passes the cap it goes too. The fast subscriber gets everything."""
    cap = 2 * MiB
    async with mounted(transport, send_queue_bytes=0, max_queued_bytes=cap) as m:
        broker = m.broker
        a, b = await _never_reading(m), await _never_reading(m)
        fast = await RawPeer.connect(m.url)
        try:
            await a.subscribe("big.a")
            await b.subscribe("big.b")
            await fast.subscribe("big.*")
            conn_a, conn_b = broker.get_client(a.client_id), broker.get_client(b.client_id)
            assert conn_a is not None and conn_b is not None
            pad = os.urandom(32 * 1024).hex()  # 64 kB per event
            got = 0
            while conn_a.transport.queued_bytes <= cap * 0.6:  # type: ignore[attr-defined]
                got += len(await _publish_paced_by(broker, fast, "big.a", 1, pad))
                assert got < 200, "A's queue never filled"
            held_a = conn_a.transport.queued_bytes  # type: ignore[attr-defined]
            while conn_a.transport.closing is None:  # type: ignore[attr-defined]
                got += len(await _publish_paced_by(broker, fast, "big.b", 1, pad))
                assert got < 400, "the cap never closed anyone"
            assert conn_b.transport.closing is None  # type: ignore[attr-defined]
            assert 0 < conn_b.transport.queued_bytes < held_a  # type: ignore[attr-defined]
            await _cut_off(broker, a)
            while conn_b.transport.closing is None:  # type: ignore[attr-defined]
                got += len(await _publish_paced_by(broker, fast, "big.b", 1, pad))
                assert got < 600, "B alone passed the cap and was kept"
            await _cut_off(broker, b)
            assert broker.send_budget.peak <= cap + 1024  # + the final RATE_LIMITED frame
            assert broker.send_budget.total == 0
        finally:
            for peer in (a, b, fast):
                await peer.aclose()
        await _still_served(m.url)


async def test_a_single_frame_larger_than_the_byte_bound_reaches_a_reader() -> None:
    """An empty queue always takes one frame: 600 kB events reach a subscriber that reads
    each before the next, with a per-connection byte bound of 64 kB (the bound is for
    backlogs, not frames)."""
    async with running(send_queue_bytes=64 * 1024) as (broker, server):
        peer = await RawPeer.connect(server.url)
        try:
            await peer.subscribe("big.z")
            pad = "y" * 600_000
            for seq in range(3):
                await broker.publish("big.z", {"seq": seq, "pad": pad})
                msg = await peer.expect(lambda m: m["header"]["type"] == "event")
                assert msg["body"] == {"seq": seq, "pad": pad}
        finally:
            await peer.aclose()


# --- defect 7: fragmented messages bounded like whole ones -----------------------------------


async def test_too_many_fragments_get_too_large_before_1009() -> None:
    """Issue 15 defect 7: 5,000 fragments closed 1009 with no envelope (websockets' own
    fragment limit). Each fragment is now charged against the size limit, so the message is
    TOO_LARGE like any other oversized one, before the close; the broker serves others."""
    async with running() as (_, server):
        peer = await RawPeer.connect(server.url, max_size=None)
        try:
            with contextlib.suppress(ConnectionClosed):
                await peer.ws.send(["{"] + [" "] * 5000 + ["}"])
            assert await peer.closed() == 1009
            assert [error_code(m) for m in peer.inbox] == ["TOO_LARGE"], peer.inbox
            assert peer.inbox[0]["header"]["correlationID"] == "_invalid"
        finally:
            await peer.aclose()
        await bystander_ok(server.url)


async def test_an_unfinished_fragmented_message_is_cut_off_at_the_size_limit() -> None:
    """An unfinished fragmented message may hold at most ``max_message_size``: fragments that
    never end were buffered up to 4 x the limit (~5 MiB each at the defaults). Now TOO_LARGE +
    1009 once the fragments pass the limit, while the client is still sending."""
    limit = 64 * 1024
    async with running(max_message_size=limit) as (_, server):
        peer = await RawPeer.connect(server.url, max_size=None)
        never = asyncio.Event()
        sent = 0

        async def fragments() -> AsyncIterator[str]:
            nonlocal sent
            for _ in range(40):  # 160 kB: 2.5 x the limit, 0.6 x what websockets allowed
                sent += 1
                yield "x" * 4096
            await never.wait()  # the message is never finished

        sender = asyncio.create_task(peer.ws.send(fragments()))
        try:
            assert await peer.closed() == 1009
            assert [error_code(m) for m in peer.inbox] == ["TOO_LARGE"], peer.inbox
        finally:
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender
            await peer.aclose()
        await bystander_ok(server.url)


async def test_a_fragmented_message_within_the_limit_is_served() -> None:
    """Fragmentation itself is legal (RFC 6455 §5.4): a request in 100 fragments is answered."""
    async with running() as (_, server):
        peer = await RawPeer.connect(server.url)
        try:
            text = json.dumps(envelope("request", "t.echo", "z" * 1000, corr="frag-1"))
            cuts = [i * len(text) // 100 for i in range(101)]
            pieces = [text[a:b] for a, b in itertools.pairwise(cuts)]
            assert len(pieces) == 100 and "".join(pieces) == text
            await peer.ws.send(pieces)
            answer = await peer.expect(lambda m: m["header"].get("correlationID") == "frag-1")
            assert answer["body"] == "z" * 1000
        finally:
            await peer.aclose()


# --- defect 8: connections counted from accept, pending handshakes bounded -------------------


async def _silent_sockets(port: int, count: int) -> list[socket.socket]:
    """``count`` TCP connections to ``port`` that never send a byte."""
    loop = asyncio.get_running_loop()
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        socks.append(sock)
    return socks


async def _until(predicate: Any, what: str) -> None:
    """Wait for server-side state there is no event for (accepts happen in its loop)."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while not predicate():  # noqa: ASYNC110 - polling server state, no event exists
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_connections_count_against_the_per_ip_limit_from_accept() -> None:
    """Issue 15 defect 8: silent sockets were not counted until their HTTP request completed.
    Now they count from accept; a prompt client over the limit evicts the oldest silent one
    and gets in; once every slot is an open WebSocket, the next client gets HTTP 429."""
    async with running(max_connections_per_ip=5) as (_, server):
        socks = await _silent_sockets(server.port, 5)
        try:
            await _until(lambda: server.connections_from("127.0.0.1") == 5, "5 counted")
            assert server.pending_handshakes == 5
            peers = [await RawPeer.connect(server.url) for _ in range(5)]  # each evicts one
            assert server.connections_from("127.0.0.1") == 5
            assert server.pending_handshakes == 0
            with pytest.raises(InvalidStatus) as info:
                await connect(server.url, open_timeout=TIMEOUT)
            assert info.value.response.status_code == 429
            await peers[0].aclose()
            await _until(lambda: server.connections_from("127.0.0.1") == 4, "a slot freed")
            await bystander_ok(server.url)
            for peer in peers[1:]:
                await peer.aclose()
        finally:
            for sock in socks:
                sock.close()


_LOW_FD_BROKER = (
    "import resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))\n"
    "from websocketmq.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


async def test_silent_sockets_do_not_lock_out_a_prompt_client() -> None:
    """The reported case: with the broker's file limit lowered (256 here), 300 silent sockets
    exhausted its descriptors and new clients waited for the 10 s handshake deadline. Pending
    handshakes are now bounded (64, oldest dropped): a new client is served at once."""
    cmd = (
        sys.executable,
        "-c",
        _LOW_FD_BROKER,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--max-pending-handshakes",
        "64",
        "--max-connections-per-ip",
        "0",
    )
    async with spawned_process(cmd) as broker:
        port = int(broker.url.split(":")[2].split("/")[0])
        socks = await _silent_sockets(port, 300)
        try:
            # well inside the 10 s deadline the silent sockets would otherwise hold
            peer = await RawPeer.connect(broker.url, open_timeout=3)
            try:
                answer = await asyncio.wait_for(peer.request("_client.ping"), 3)
                assert answer["header"]["type"] == "response", answer
            finally:
                await peer.aclose()
        finally:
            for sock in socks:
                sock.close()


# --- issue 18: compression off by default, one frame per publish ----------------------------


async def test_compression_is_off_by_default_and_on_by_option() -> None:
    """Every client offers permessage-deflate (websockets' client does, browsers do): the
    broker negotiates it only when asked (``serve(compression="deflate")``)."""
    for compression, negotiated in ((None, False), ("deflate", True)):
        async with (
            running(compression=compression) as (_, server),
            connect(server.url, open_timeout=TIMEOUT) as ws,
        ):
            assert ws.response is not None
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            assert ("permessage-deflate" in extensions) is negotiated, extensions


async def test_wsmq_serve_compression_flag() -> None:
    """``wsmq serve`` is uncompressed unless ``--compression deflate``."""
    from rawpeer import spawn_broker

    for args, negotiated in (((), False), (("--compression", "deflate"), True)):
        async with (
            spawn_broker(*args) as broker,
            connect(broker.url, open_timeout=TIMEOUT) as ws,
        ):
            assert ws.response is not None
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            assert ("permessage-deflate" in extensions) is negotiated, extensions


@pytest.mark.parametrize("size", [10, 200, 70_000], ids=["7-bit", "16-bit", "64-bit"])
async def test_one_frame_per_publish_reaches_plain_and_compressed_subscribers(size: int) -> None:
    """A publish is framed once for every uncompressed subscriber (the same bytes written to
    each socket) and by websockets for a compressed one; all of them read the same events, in
    order, at each of the three frame-length encodings (RFC 6455 §5.2)."""
    async with running(compression="deflate") as (broker, server):
        plain = [await RawPeer.connect(server.url, compression=None) for _ in range(3)]
        deflated = await RawPeer.connect(server.url)
        peers = [*plain, deflated]
        try:
            assert deflated.ws.protocol.extensions and not plain[0].ws.protocol.extensions
            for peer in peers:
                await peer.subscribe("fan.out")
            pad = "p" * size
            for seq in range(20):
                await broker.publish("fan.out", {"seq": seq, "pad": pad})
            for peer in peers:
                for seq in range(20):
                    msg = await peer.expect(lambda m: m["header"]["type"] == "event")
                    assert msg["body"] == {"seq": seq, "pad": pad}
        finally:
            for peer in peers:
                await peer.aclose()


def test_a_payload_is_framed_once() -> None:
    """The frame cache is keyed on the payload object: the same ``bytes`` gets the very same
    frame back (no copy per subscriber); an equal but distinct one is framed anew."""
    payload = b'{"header":{}}' * 20
    first = server_module._text_frame(payload)
    assert server_module._text_frame(payload) is first
    assert first == b"\x81\x7e" + len(payload).to_bytes(2, "big") + payload
    other = bytes(bytearray(payload))
    assert server_module._text_frame(other) is not first
