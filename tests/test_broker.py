"""Broker behaviour over real sockets: registration, pub/sub, RPC both ways, errors, shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import msgspec
import pytest
from websocketmq import (
    Client,
    Disconnected,
    HandlerError,
    Message,
    NoHandler,
    RemoteError,
    RequestTimeout,
    ShuttingDown,
    UnknownClient,
    WsmqError,
    connect,
    new_response,
)
from websocketmq.testing import RunningBroker, run_broker

__all__: list[str] = []


@dataclasses.dataclass
class TimeResp:
    CurrentTime: str


class Pong(msgspec.Struct):
    pong: int


async def collect(client: Client, pattern: str, **kw: Any) -> asyncio.Queue[Message]:
    queue: asyncio.Queue[Message] = asyncio.Queue()
    await client.subscribe(pattern, queue.put_nowait, **kw)
    return queue


async def test_registration_events_reach_server_handlers(live: RunningBroker) -> None:
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    live.broker.subscribe("_internal.client.*", lambda m, _: events.put_nowait((m.topic, m.body)))
    async with connect(live.url, page_session_id="page-1") as client:
        topic, body = await asyncio.wait_for(events.get(), 5)
        assert topic == "_internal.client.registered"
        assert body == {"brokerClientID": client.client_id, "pageSessionID": "page-1"}
        assert client.registration["protocol"] == "wsmq/1"
        assert live.broker.client_ids() == [client.client_id]
    topic, body = await asyncio.wait_for(events.get(), 5)
    assert topic == "_internal.client.deregistered"
    assert body["brokerClientID"] == client.client_id


async def test_pubsub_wildcards_echo_and_unsubscribe(live: RunningBroker) -> None:
    server_seen: asyncio.Queue[tuple[Any, str | None]] = asyncio.Queue()
    live.broker.subscribe("news.>", lambda m, cid: server_seen.put_nowait((m.body, cid)))
    async with connect(live.url) as a, connect(live.url) as b:
        star = await collect(b, "news.*")
        tail = await collect(b, "news.>")
        own = await collect(a, "news.>")
        await a.publish("news.sport", {"n": 1})
        assert (await asyncio.wait_for(star.get(), 5)).body == {"n": 1}
        msg = await asyncio.wait_for(tail.get(), 5)
        assert msg.source == a.client_id
        assert await asyncio.wait_for(server_seen.get(), 5) == ({"n": 1}, a.client_id)
        await a.publish("news.sport.today", 2)
        assert (await asyncio.wait_for(tail.get(), 5)).body == 2
        await live.broker.publish("news.x", 3)  # server publish reaches clients, incl. a
        assert (await asyncio.wait_for(own.get(), 5)).body == 3
        assert (await asyncio.wait_for(star.get(), 5)).body == 3
        assert own.empty()  # the sender never got its own publishes
        echo = await collect(a, "echo.t", echo=True)
        await a.publish("echo.t", "me")
        assert (await asyncio.wait_for(echo.get(), 5)).body == "me"
        # unsubscribe: the broker stops sending to b (ordering per publisher proves it)
        q: asyncio.Queue[Message] = asyncio.Queue()
        sub = await b.subscribe("unsub.*", q.put_nowait)
        await a.publish("unsub.x", 1)
        assert (await asyncio.wait_for(q.get(), 5)).body == 1
        await sub.unsubscribe()
        assert live.broker.registry.subscribers("unsub.x") == ()
        marker = await collect(b, "marker")
        await a.publish("unsub.x", 2)
        await a.publish("marker", 0)
        await asyncio.wait_for(marker.get(), 5)
        assert q.empty()


async def test_client_to_server_rpc_variants(live: RunningBroker) -> None:
    broker = live.broker

    @broker.subscribe("example.echo")
    async def echo(msg: Message, client_id: str | None) -> Any:
        return {"echo": msg.body, "from": client_id}

    broker.subscribe("time.now", lambda m, _: new_response(m, {"CurrentTime": "now"}))
    broker.subscribe("boom", lambda m, _: 1 / 0)

    def denied(msg: Message, _: str | None) -> Any:
        raise WsmqError("NOT_ALLOWED", "no way", {"why": "test"})

    broker.subscribe("denied", denied)
    async with connect(live.url) as client:
        assert await client.request("example.echo", [1]) == {"echo": [1], "from": client.client_id}
        assert await client.request("time.now", type=TimeResp) == TimeResp("now")
        with pytest.raises(NoHandler):
            await client.request("nobody.home")
        with pytest.raises(HandlerError) as failed:  # spec §11.3: a generic message by default
            await client.request("boom")
        assert str(failed.value.message) == "handler for 'boom' failed"
        broker.options.detailed_errors = True  # development: the exception's type and text
        with pytest.raises(HandlerError, match="ZeroDivisionError: division by zero"):
            await client.request("boom")
        broker.options.detailed_errors = False
        with pytest.raises(RemoteError) as info:
            await client.request("denied")
        assert info.value.code == "NOT_ALLOWED" and info.value.details == {"why": "test"}
        # the server can call its own handlers too
        assert await broker.request("example.echo", 5) == {"echo": 5, "from": None}
        with pytest.raises(NoHandler):
            await broker.request("nobody.home")


async def test_handler_timeout_cancels_the_handler(live: RunningBroker) -> None:
    cancelled = asyncio.Event()

    @live.broker.subscribe("slow")
    async def slow(msg: Message, _: str | None) -> Any:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with connect(live.url) as client:
        with pytest.raises(RequestTimeout):
            await client.request("slow", None, timeout=0.2)
        await asyncio.wait_for(cancelled.wait(), 5)
        # the client's give-up (_client.cancel) or the broker's ttl: either way no leak
        with pytest.raises(RequestTimeout):
            await live.broker.request("slow", None, timeout=0.1)


async def test_server_to_client_rpc(live: RunningBroker) -> None:
    broker = live.broker
    async with connect(live.url) as client, connect(live.url) as other:

        async def on_ping(msg: Message) -> Any:
            return {"pong": msg.body["n"]}

        await client.subscribe("server.ping", on_ping)
        await client.subscribe("client.slow", lambda m: asyncio.sleep(10))

        def fail(msg: Message) -> Any:
            raise WsmqError("CLIENT_SAID_NO", "no")

        await client.subscribe("client.fail", fail)
        cid = client.client_id
        assert cid is not None and other.client_id is not None
        assert await broker.request_to_client(cid, "server.ping", {"n": 7}, 5) == {"pong": 7}
        assert await broker.request_to_client(cid, "server.ping", {"n": 8}, type=Pong) == Pong(8)
        with pytest.raises(NoHandler):
            await broker.request_to_client(other.client_id, "server.ping", {"n": 1}, 5)
        with pytest.raises(RequestTimeout):
            await broker.request_to_client(cid, "client.slow", None, 0.2)
        with pytest.raises(RemoteError) as info:
            await broker.request_to_client(cid, "client.fail", None, 5)
        assert info.value.code == "CLIENT_SAID_NO"
        with pytest.raises(UnknownClient):
            await broker.request_to_client("c-nobody", "server.ping", {}, 1)


async def test_pending_server_request_fails_when_client_disconnects(live: RunningBroker) -> None:
    client = await connect(live.url, auto_reconnect=False)
    started = asyncio.Event()

    async def hang(msg: Message) -> Any:
        started.set()
        await asyncio.sleep(30)

    await client.subscribe("client.hang", hang)
    assert client.client_id is not None
    call = asyncio.create_task(
        live.broker.request_to_client(client.client_id, "client.hang", None, 30)
    )
    await asyncio.wait_for(started.wait(), 5)
    await client.close()
    with pytest.raises(Disconnected):
        await asyncio.wait_for(call, 5)


async def test_concurrency_hundreds_in_flight_both_directions() -> None:
    async with run_broker(port=0) as live:

        @live.broker.subscribe("calc.double")
        async def double(msg: Message, client_id: str | None) -> Any:
            await asyncio.sleep(0.01)
            return {"x": msg.body["x"] * 2, "who": client_id}

        clients = [await connect(live.url) for _ in range(4)]
        try:
            for c in clients:
                await c.subscribe("client.triple", lambda m: m.body * 3)

            async def one_client(c: Client, base: int) -> None:
                results = await asyncio.gather(
                    *(c.request("calc.double", {"x": base + i}) for i in range(200))
                )
                assert results == [{"x": 2 * (base + i), "who": c.client_id} for i in range(200)]

            async def server_side(c: Client, base: int) -> None:
                assert c.client_id is not None
                results = await asyncio.gather(
                    *(
                        live.broker.request_to_client(c.client_id, "client.triple", base + i, 10)
                        for i in range(200)
                    )
                )
                assert results == [3 * (base + i) for i in range(200)]

            await asyncio.wait_for(
                asyncio.gather(
                    *(one_client(c, 1000 * k) for k, c in enumerate(clients)),
                    *(server_side(c, 1000 * k) for k, c in enumerate(clients)),
                ),
                60,
            )
        finally:
            for c in clients:
                await c.close()


async def test_graceful_shutdown_fails_in_flight_requests_and_closes_1001() -> None:
    async with run_broker(port=0) as live:
        entered = asyncio.Event()

        @live.broker.subscribe("stuck")
        async def stuck(msg: Message, _: str | None) -> Any:
            entered.set()
            await asyncio.sleep(60)

        disconnected: asyncio.Queue[Any] = asyncio.Queue()
        client = await connect(
            live.url, auto_reconnect=False, on_disconnect=lambda c, e: disconnected.put_nowait(e)
        )
        call = asyncio.create_task(client.request("stuck", None, timeout=30))
        await asyncio.wait_for(entered.wait(), 5)
        await asyncio.wait_for(live.stop(), 10)
        with pytest.raises(ShuttingDown):
            await asyncio.wait_for(call, 5)
        await asyncio.wait_for(disconnected.get(), 5)
        assert client.last_close_code == 1001
        await client.close()


async def test_typed_requests_decode_into_pydantic_typeddict_and_report_mismatch(
    live: RunningBroker,
) -> None:
    from typing import TypedDict

    import pydantic
    from websocketmq import BadMessage

    class TimeModel(pydantic.BaseModel):
        CurrentTime: str

    class TimeDict(TypedDict):
        CurrentTime: str

    live.broker.subscribe("time.now", lambda m, _: {"CurrentTime": "t"})
    async with connect(live.url) as client:
        assert await client.request("time.now", type=TimeModel) == TimeModel(CurrentTime="t")
        assert await client.request("time.now", type=TimeDict) == {"CurrentTime": "t"}
        with pytest.raises(BadMessage, match="Pong"):
            await client.request("time.now", type=Pong)
        await client.subscribe("client.time", lambda m: {"CurrentTime": "c"})
        assert client.client_id is not None
        got = await live.broker.request_to_client(client.client_id, "client.time", type=TimeModel)
        assert got == TimeModel(CurrentTime="c")
