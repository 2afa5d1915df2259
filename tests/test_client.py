"""The Python client over real sockets: reconnect with resume and re-subscribe, hooks, 4009."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websocketmq import (
    BadTopic,
    ConnectFailed,
    ConnectionClosed,
    Disconnected,
    Message,
    Status,
    connect,
)
from websocketmq.testing import run_broker
from websockets.asyncio.client import connect as ws_connect

SECRET = b"s" * 32


async def test_reconnect_resumes_identity_and_resubscribes() -> None:
    events: list[str] = []
    lost = asyncio.Event()
    async with run_broker(port=0, resume_secret=SECRET) as first:
        port = first.port
        client = await connect(
            first.url,
            reconnect_min=0.05,
            reconnect_max=0.3,
            on_connect=lambda c: events.append("connect"),
            on_disconnect=lambda c, e: (events.append("disconnect"), lost.set()),
        )
        got: asyncio.Queue[Message] = asyncio.Queue()
        await client.subscribe("news.*", got.put_nowait)
        await client.subscribe("server.ask", lambda m: {"answer": m.body})
        old_id = client.client_id
        assert old_id is not None and not client.resumed
    # the broker is gone: the client notices and retries
    await asyncio.wait_for(lost.wait(), 5)
    assert events == ["connect", "disconnect"]
    async with run_broker(port=port, resume_secret=SECRET) as second:
        await client.wait_connected(10)
        assert client.client_id == old_id and client.resumed
        assert events == ["connect", "disconnect", "connect"]
        await second.broker.publish("news.today", 1)  # reaches it: re-subscribed
        assert (await asyncio.wait_for(got.get(), 5)).body == 1
        assert await second.broker.request_to_client(old_id, "server.ask", 2, 5) == {"answer": 2}
        await client.close()
    assert client.status is Status.CLOSED


async def test_fresh_identity_when_the_secret_changed() -> None:
    async with run_broker(port=0) as first:
        port = first.port
        client = await connect(first.url, reconnect_min=0.05, reconnect_max=0.2)
        old_id = client.client_id
    async with run_broker(port=port) as second:  # new random secret: token no longer valid
        await client.wait_connected(10)
        assert client.client_id != old_id and not client.resumed
        assert second.broker.client_ids() == [client.client_id]
        await client.close()


async def test_resume_elsewhere_supersedes_the_old_connection_4009() -> None:
    async with run_broker(port=0) as live:
        client = await connect(live.url, reconnect_min=0.05)
        token = client.registration["resumeToken"]
        async with ws_connect(live.url) as thief:
            body = {"brokerClientID": client.client_id, "resumeToken": token}
            await thief.send(
                json.dumps(
                    {
                        "header": {
                            "messageID": "r",
                            "type": "event",
                            "topic": "_client.register",
                            "timestamp": 1,
                        },
                        "body": body,
                    }
                )
            )
            ack = json.loads(await asyncio.wait_for(thief.recv(), 5))
            assert ack["body"]["resumed"] is True
            await asyncio.wait_for(client.wait_closed(), 5)  # 4009: it does not fight back
            assert client.status is Status.CLOSED
            assert client.last_close_code == 4009
            assert live.broker.client_ids() == [client.client_id]
        await client.close()


async def test_closed_client_refuses_work_and_validates_topics() -> None:
    async with run_broker(port=0) as live:
        client = await connect(live.url)
        with pytest.raises(BadTopic):
            await client.publish("a.*", 1)
        with pytest.raises(BadTopic):
            await client.subscribe("a.>.b", lambda m: None)
        await client.close()
        with pytest.raises(ConnectionClosed):
            await client.request("x.y")


async def test_first_connect_failure_raises() -> None:
    async with run_broker(port=0) as live:
        port = live.port
    with pytest.raises(ConnectFailed) as info:  # inside the WsmqError tree (issue 19)
        await connect(f"ws://127.0.0.1:{port}/ws", connect_timeout=2)
    assert info.value.details["reason"] == "refused"


async def test_client_answers_no_handler_and_handler_errors_reach_server() -> None:
    async with run_broker(port=0) as live, connect(live.url) as client:
        assert client.client_id is not None

        def bad(msg: Message) -> Any:
            raise ValueError("nope")

        await client.subscribe("client.bad", bad)
        with pytest.raises(Exception) as info:
            await live.broker.request_to_client(client.client_id, "client.bad", None, 5)
        assert getattr(info.value, "code", None) == "HANDLER_ERROR"
        assert "ValueError" in str(info.value)


async def test_pending_requests_fail_at_once_with_disconnected_when_the_connection_drops() -> None:
    async with run_broker(port=0) as live:
        entered = asyncio.Event()

        @live.broker.subscribe("stuck")
        async def stuck(msg: Message, _: str | None) -> Any:
            entered.set()
            await asyncio.sleep(60)

        client = await connect(live.url, auto_reconnect=False)
        call = asyncio.create_task(client.request("stuck", None, timeout=30))
        await asyncio.wait_for(entered.wait(), 5)
        assert client.client_id is not None
        conn = live.broker.get_client(client.client_id)
        assert conn is not None
        conn.transport._ws.transport.abort()  # type: ignore[attr-defined]  # TCP reset, no close
        with pytest.raises(Disconnected):
            await asyncio.wait_for(call, 5)
        await client.close()


def _drop(live: Any, client_id: str | None) -> None:
    """Reset the client's TCP connection from the broker side (no close frame)."""
    conn = live.broker.get_client(client_id or "")
    assert conn is not None
    conn.transport._ws.transport.abort()


async def test_subscribing_the_same_handler_again_is_idempotent_also_from_on_connect() -> None:
    got: list[Any] = []
    other: asyncio.Queue[Any] = asyncio.Queue()
    connects: asyncio.Queue[None] = asyncio.Queue()

    def handler(msg: Message) -> None:
        got.append(msg.body)

    async def on_connect(client: Any) -> None:
        # The seed's habit: subscribe in the connect hook, which runs after every reconnect.
        await client.subscribe("room.*", handler)
        connects.put_nowait(None)

    async with run_broker(port=0) as live:
        client = await connect(
            live.url, reconnect_min=0.02, reconnect_max=0.1, on_connect=on_connect
        )
        try:
            await asyncio.wait_for(connects.get(), 5)
            first = await client.subscribe("room.*", handler)
            assert await client.subscribe("room.*", handler) is first
            await client.subscribe("room.*", lambda m: other.put_nowait(m.body))  # a second handler
            await live.broker.publish("room.a", 1)
            assert await asyncio.wait_for(other.get(), 5) == 1
            assert got == [1]

            _drop(live, client.client_id)
            await asyncio.wait_for(connects.get(), 5)  # reconnected, hook ran again
            await live.broker.publish("room.b", 2)
            assert await asyncio.wait_for(other.get(), 5) == 2
            assert got == [1, 2]  # once per event, not once per connection

            await first.unsubscribe()
            await live.broker.publish("room.c", 3)
            assert await asyncio.wait_for(other.get(), 5) == 3
            assert got == [1, 2]
            assert await client.subscribe("room.*", handler) is not first  # new after unsubscribe
        finally:
            await client.close()


async def test_auth_callable_gives_a_fresh_credential_on_every_connection() -> None:
    calls: list[str] = []

    def authenticate(_upgrade: Any, auth: Any) -> Any:
        if isinstance(auth, dict) and str(auth.get("token", "")).startswith("good-"):
            return {"token": auth["token"]}
        raise PermissionError("bad credential")

    async def fresh_token() -> dict[str, str]:
        await asyncio.sleep(0)  # an async fetch
        calls.append(f"good-{len(calls) + 1}")
        return {"token": calls[-1]}

    async with run_broker(port=0, authenticate_message=authenticate) as live:

        @live.broker.subscribe("auth.whoami")
        async def whoami(msg: Message, client_id: str | None) -> Any:
            conn = live.broker.get_client(client_id or "")
            return conn.identity if conn else None

        connects: asyncio.Queue[None] = asyncio.Queue()
        client = await connect(
            live.url,
            auth=fresh_token,
            reconnect_min=0.02,
            reconnect_max=0.1,
            on_connect=lambda c: connects.put_nowait(None),
        )
        try:
            assert await client.request("auth.whoami") == {"token": "good-1"}
            _drop(live, client.client_id)
            await asyncio.wait_for(connects.get(), 5)  # the first connect's
            await asyncio.wait_for(connects.get(), 5)  # the reconnect's
            assert await client.request("auth.whoami") == {"token": "good-2"}
            assert calls == ["good-1", "good-2"]
        finally:
            await client.close()


async def test_no_offline_queue_publish_and_request_fail_at_once_while_disconnected() -> None:
    lost = asyncio.Event()
    async with run_broker(port=0) as live:
        client = await connect(
            live.url, reconnect_min=5, reconnect_max=5, on_disconnect=lambda c, e: lost.set()
        )
    try:
        await asyncio.wait_for(lost.wait(), 5)
        assert not client.connected
        for _ in range(3):  # nothing is held back for later: every call fails now
            with pytest.raises(Disconnected):
                await asyncio.wait_for(client.publish("t.x", 1), 1)
            with pytest.raises(Disconnected):
                await asyncio.wait_for(client.request("t.x", 1, timeout=30), 1)
        assert len(client.session.pending) == 0
    finally:
        await client.close()
