"""The websockets transport and every bad input of the issue, over real sockets.

A raw peer sends what no client library would; after each bad input the same connection must
still work (where the spec says so) and another client is served in any case.
"""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websocketmq import BrokerOptions, Message
from websocketmq import connect as wsmq_connect
from websocketmq.testing import RunningBroker, run_broker
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

__all__: list[str] = []


def env(kind: str, topic: str, body: Any = None, corr: str | None = None, mid: str = "m1") -> str:
    header: dict[str, Any] = {"messageID": mid, "type": kind, "topic": topic, "timestamp": 1}
    if corr is not None:
        header["correlationID"] = corr
    return json.dumps({"header": header, "body": body})


async def recv(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def error_code(ws: ClientConnection) -> tuple[str, str]:
    msg = await recv(ws)
    assert msg["header"]["type"] == "error", msg
    return msg["body"]["error"]["code"], msg["header"]["correlationID"]


async def still_works(ws: ClientConnection) -> None:
    await ws.send(env("request", "t.echo", "ok", corr="alive"))
    msg = await recv(ws)
    assert msg["header"]["correlationID"] == "alive" and msg["body"] == "ok"


@pytest.fixture
async def raw(live: RunningBroker) -> AsyncIterator[ClientConnection]:
    live.broker.subscribe("t.echo", lambda m, _: m.body)
    async with connect(live.url) as ws:
        await ws.send(env("event", "_client.register", {}))
        ack = await recv(ws)
        assert ack["header"]["topic"] == "_internal.client.registered"
        yield ws


BAD_INPUTS = [
    ("malformed json", '{"header": ', "BAD_MESSAGE", "_invalid"),
    ("not an object", "[1, 2]", "BAD_MESSAGE", "_invalid"),
    (
        "wrong field type",
        json.dumps({"header": {"messageID": "w1", "type": "event", "topic": 5, "timestamp": 1}}),
        "BAD_MESSAGE",
        "w1",
    ),
    (
        "unknown type",
        json.dumps({"header": {"messageID": "u1", "type": "shout", "topic": "a", "timestamp": 1}}),
        "BAD_MESSAGE",
        "u1",
    ),
    (
        "missing field",
        json.dumps({"header": {"messageID": "f1", "type": "event", "timestamp": 1}}),
        "BAD_MESSAGE",
        "f1",
    ),
    ("request without correlationID", env("request", "t.echo", mid="r9"), "BAD_MESSAGE", "r9"),
    ("bad topic", env("event", "a..b", mid="b1"), "BAD_TOPIC", "b1"),
    ("wildcard request", env("request", "a.*", corr="wc"), "BAD_TOPIC", "wc"),
    (
        "publish _internal",
        env("event", "_internal.client.registered", {}, mid="i1"),
        "FORBIDDEN",
        "i1",
    ),
    ("request _internal", env("request", "_internal.x", corr="i2"), "FORBIDDEN", "i2"),
    (
        "unknown correlation",
        env("response", "nope", 1, corr="nope", mid="a1"),
        "UNKNOWN_CORRELATION",
        "a1",
    ),
]


@pytest.mark.parametrize(
    ("name", "frame", "code", "corr"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
async def test_bad_input_gets_its_error_and_connection_keeps_working(
    raw: ClientConnection, name: str, frame: str, code: str, corr: str
) -> None:
    await raw.send(frame)
    assert await error_code(raw) == (code, corr)
    await still_works(raw)


async def test_binary_frame_is_bad_message_and_connection_stays(raw: ClientConnection) -> None:
    await raw.send(b'{"header": {}}')
    assert (await error_code(raw))[0] == "BAD_MESSAGE"
    await still_works(raw)


async def test_invalid_response_is_dropped_without_answer(raw: ClientConnection) -> None:
    await raw.send(
        json.dumps({"header": {"messageID": "x", "type": "error", "topic": "q", "timestamp": 1}})
    )
    await still_works(raw)  # the next frame we get is the echo, not an error about it


async def test_answering_a_request_sent_to_another_client(live: RunningBroker) -> None:
    live.broker.subscribe("t.echo", lambda m, _: m.body)
    async with wsmq_connect(live.url) as target, connect(live.url) as intruder:
        started = asyncio.Event()

        async def hang(msg: Message) -> Any:
            started.set()
            await asyncio.sleep(10)

        await target.subscribe("client.q", hang)
        await intruder.send(env("event", "_client.register", {}))
        await recv(intruder)
        assert target.client_id is not None
        call = asyncio.create_task(
            live.broker.request_to_client(target.client_id, "client.q", None, 0.5)
        )
        await asyncio.wait_for(started.wait(), 5)
        # the intruder guesses the pending correlation: it was not sent to it
        pending = next(iter(live.broker.get_client(target.client_id).session.pending._pending))  # type: ignore[union-attr]
        await intruder.send(env("response", pending, "forged", corr=pending, mid="forge"))
        assert await error_code(intruder) == ("UNKNOWN_CORRELATION", "forge")
        with pytest.raises(Exception) as info:
            await call
        assert getattr(info.value, "code", None) == "TIMEOUT"  # the forged answer did not count


async def test_oversized_frame_gets_too_large_then_1009_and_others_unaffected() -> None:
    async with run_broker(port=0, max_message_size=1000) as live:
        live.broker.subscribe("t.echo", lambda m, _: m.body)
        async with connect(live.url) as big, wsmq_connect(live.url) as other:
            await big.send(env("event", "t.x", "y" * 2000))
            assert (await error_code(big))[0] == "TOO_LARGE"
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(big.recv(), 5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009
            assert await other.request("t.echo", "fine") == "fine"


async def test_subprotocol_selected_when_offered_and_optional(live: RunningBroker) -> None:
    async with connect(live.url, subprotocols=["wsmq.v1"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "wsmq.v1"
    async with connect(live.url) as ws:
        assert ws.subprotocol is None
    async with connect(live.url, subprotocols=["other"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol is None


async def test_wrong_path_is_404(live: RunningBroker) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(live.url.replace("/ws", "/other")):
            pass
    assert info.value.response.status_code == 404


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def test_http_endpoints(live: RunningBroker) -> None:
    base = f"http://127.0.0.1:{live.port}"
    assert await asyncio.to_thread(http_status, base + "/healthz") == 200
    assert await asyncio.to_thread(http_status, base + "/nothing") == 404


async def test_origin_allow_list_and_authentication() -> None:
    def authenticate(req: Any) -> Any:
        return {"user": "ann"} if req.headers.get("Authorization") == "Bearer ok" else None

    seen: list[Any] = []
    options = BrokerOptions(allowed_origins=["http://good.example"], authenticate=authenticate)
    async with run_broker(port=0, options=options) as live:
        live.broker.subscribe(
            "who", lambda m, cid: seen.append(live.broker.get_client(cid).identity)
        )  # type: ignore[union-attr]
        with pytest.raises(InvalidStatus) as info:
            async with connect(
                live.url,
                origin="http://evil.example",
                additional_headers={"Authorization": "Bearer ok"},
            ):  # type: ignore[arg-type]
                pass
        assert info.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as info:
            async with connect(live.url, origin="http://good.example"):  # type: ignore[arg-type]
                pass
        assert info.value.response.status_code == 401
        async with connect(
            live.url,
            origin="http://good.example",
            additional_headers={"Authorization": "Bearer ok"},  # type: ignore[arg-type]
        ) as ws:
            await ws.send(env("request", "who", corr="w"))
            while (await recv(ws))["header"]["type"] != "response":
                pass
        assert seen == [{"user": "ann"}]


async def test_authorize_denies_with_forbidden_and_filters_delivery() -> None:
    def authorize(client: Any, action: str, topic: str) -> bool:
        return not topic.startswith("secret")

    async with (
        run_broker(port=0, authorize=authorize) as live,
        wsmq_connect(live.url) as a,
        wsmq_connect(live.url) as b,
    ):
        got: asyncio.Queue[Message] = asyncio.Queue()
        await b.subscribe(">", got.put_nowait)
        with pytest.raises(Exception) as info:
            await a.subscribe("secret.x", lambda m: None)
        assert getattr(info.value, "code", None) == "FORBIDDEN"
        await live.broker.publish("secret.y", 1)
        await live.broker.publish("public.y", 2)
        # same publisher, in order: the first delivery is public.y, so secret.y was filtered
        assert (await asyncio.wait_for(got.get(), 5)).body == 2


def masked_text_frame(payload: bytes) -> bytes:
    """One client→server WebSocket text frame (RFC 6455 §5.2), masked with a zero key."""
    n = len(payload)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2))
    return head + b"\0\0\0\0" + payload


async def test_slow_consumer_is_closed_with_4008_and_others_unaffected() -> None:
    async with run_broker(port=0, send_queue_size=16) as live, wsmq_connect(live.url) as fast:
        gone: asyncio.Queue[Any] = asyncio.Queue()
        live.broker.subscribe("_internal.client.deregistered", lambda m, _: gone.put_nowait(m.body))
        # a raw socket with a tiny receive buffer that stops reading after the handshake
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", live.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        assert b" 101 " in await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(
            masked_text_frame(
                env("request", "_client.subscribe", {"topic": "flood"}, corr="s").encode()
            )
        )
        got: asyncio.Queue[Message] = asyncio.Queue()
        await fast.subscribe("flood", got.put_nowait)
        while len(live.broker.registry.subscribers("flood")) < 2:  # both subscribed
            await fast.ping()
        body = "x" * 100_000
        for _ in range(200):  # 20 MB: more than any kernel buffer holds for one socket
            await live.broker.publish("flood", body)
            await asyncio.sleep(0)
            if not gone.empty():
                break
        info = await asyncio.wait_for(gone.get(), 20)
        assert info["reason"] == "closed by broker: 4008 slow consumer"
        while not got.empty():
            assert got.get_nowait().body == body  # what the fast one received is intact
        assert await fast.ping() > 0
        writer.close()


async def test_client_cancel_cancels_the_handler_and_nothing_is_answered(
    live: RunningBroker, raw: ClientConnection
) -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    @live.broker.subscribe("t.slow")
    async def slow(msg: Message, _: str | None) -> Any:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    await raw.send(env("request", "t.slow", corr="slow-1"))
    await asyncio.wait_for(started.wait(), 5)
    await raw.send(env("event", "_client.cancel", {"correlationID": "slow-1"}, mid="cx"))
    await asyncio.wait_for(cancelled.wait(), 5)
    await still_works(raw)  # the next frame is the echo: no answer to slow-1 was sent


async def test_an_open_idle_connection_keeps_no_watcher_task_and_frees_its_slot() -> None:
    """An open connection holds its per-IP slot without a per-connection watcher task (idle
    memory: the slot is taken at accept and given back when the connection is lost), and
    every way out gives it back."""
    async with run_broker(port=0) as rb:
        before = len(asyncio.all_tasks())
        conns = [await connect(rb.url) for _ in range(5)]
        for ws in conns:
            await ws.send(env("request", "_client.ping", None, corr="p"))
            while (await recv(ws))["header"]["type"] != "response":
                pass
        # per connection: websockets' handler and keepalive tasks and the client's reader
        # task (3 each), nothing of ours
        assert len(asyncio.all_tasks()) - before <= 3 * 5
        assert rb.server.connections_from("127.0.0.1") == 5
        assert rb.server.pending_handshakes == 0
        for ws in conns:
            await ws.close()
        async with asyncio.timeout(5):  # the handlers' finally blocks run after the close
            while rb.server.connections_from("127.0.0.1"):  # noqa: ASYNC110 - no event
                await asyncio.sleep(0.01)


@pytest.mark.parametrize("fast_write", [None, False], ids=["probed", "queued-writes"])
async def test_both_write_paths_carry_rpc_and_events_in_order(fast_write: bool | None) -> None:
    """server.py writes frames directly (websockets internals, when the probe finds them: the
    default) or through its queue and writer task (public API only): same behaviour."""
    from websocketmq import Broker
    from websocketmq.server import serve

    broker = Broker()
    broker.subscribe("t.echo", lambda m, _: m.body)
    async with (
        serve(broker, port=0, fast_write=fast_write) as server,
        wsmq_connect(server.url) as client,
    ):
        conn = broker.get_client(client.client_id or "")
        assert conn is not None
        # the probe finds the installed websockets' internals; False forces the fallback
        assert conn.transport.direct_writes is (fast_write is None)
        got: asyncio.Queue[Any] = asyncio.Queue()
        await client.subscribe("t.seq", lambda m: got.put_nowait(m.body))
        calls = [client.request("t.echo", i) for i in range(50)]
        assert await asyncio.gather(*calls) == list(range(50))
        for i in range(200):
            await broker.publish("t.seq", i)
        assert [await asyncio.wait_for(got.get(), 5) for _ in range(200)] == list(range(200))


def test_the_write_path_probe_says_no_when_websockets_internals_are_missing() -> None:
    from websocketmq.server import fast_write_supported

    class OlderConnection:  # what a websockets release without send_in_progress would look like
        protocol = None
        transport = None

    assert fast_write_supported(OlderConnection()) is False  # type: ignore[arg-type]
