"""Python client bugs found by reading it against spec/protocol.md: each test failed before its fix.

Every test runs the real in-process broker over 127.0.0.1 (``run_broker(port=0)``).
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest
from websocketmq import BadMessage, Message, Status, TooLarge, connect
from websocketmq.testing import run_broker

__all__: list[str] = []


def _drop(live: Any, client_id: str | None) -> None:
    """Reset the client's TCP connection from the broker side (no close frame)."""
    conn = live.broker.get_client(client_id or "")
    assert conn is not None
    conn.transport._ws.transport.abort()


async def test_a_handler_result_that_cannot_be_encoded_is_answered_not_left_hanging() -> None:
    """§8.4.3 / §8.5: a server caller must never wait out its ttl for a client that got the
    request. Bug: the answer was encoded outside the handler's try, so an unencodable return
    value killed the task silently and the server request ran into TIMEOUT."""
    async with run_broker(port=0) as live, connect(live.url) as client:
        await client.subscribe("client.weird", lambda m: object())
        with pytest.raises(Exception) as info:
            await live.broker.request_to_client(client.client_id or "", "client.weird", None, 3)
        assert getattr(info.value, "code", None) == "HANDLER_ERROR"


async def test_a_request_the_caller_cancels_tells_the_broker_so_its_handler_stops() -> None:
    """§8.8.1: when the application aborts a call (``task.cancel()``, ``asyncio.wait_for``)
    the client SHOULD send ``_client.cancel``. Bug: only the client's own timeout sent it, so a
    ``wait_for`` around ``request`` left the server handler running (and holding one of the 256
    in-flight slots) for the whole ttl."""
    async with run_broker(port=0) as live:
        entered = asyncio.Event()
        stopped = asyncio.Event()

        @live.broker.subscribe("slow.job")
        async def slow(msg: Message, _: str | None) -> Any:
            entered.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                stopped.set()
                raise

        async with connect(live.url) as client:
            call = asyncio.create_task(client.request("slow.job", None, timeout=30))
            await asyncio.wait_for(entered.wait(), 5)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await asyncio.wait_for(stopped.wait(), 5)
            assert len(client.session.pending) == 0
            assert await client.ping(5) > 0  # the connection is fine


async def test_frames_over_max_message_size_fail_locally_with_too_large() -> None:
    """§12.1: clients SHOULD fail an oversize message locally with TOO_LARGE. Bug: the Python
    client sent it; the broker answered TOO_LARGE and closed 1009, taking every other request
    in flight on the connection down with DISCONNECTED."""
    async with run_broker(port=0, max_message_size=4096) as live:

        @live.broker.subscribe("big.echo")
        async def echo(msg: Message, _: str | None) -> Any:
            return msg.body

        lost: list[Any] = []
        async with connect(live.url, on_disconnect=lambda c, e: lost.append(e)) as client:
            assert client.registration["maxMessageSize"] == 4096
            with pytest.raises(TooLarge):
                await client.publish("big.topic", "x" * 5000)
            with pytest.raises(TooLarge):
                await client.request("big.echo", "x" * 5000, timeout=5)
            assert len(client.session.pending) == 0
            await client.subscribe("client.big", lambda m: "y" * 5000)
            with pytest.raises(Exception) as info:  # the answer is too big: an error instead
                await live.broker.request_to_client(client.client_id or "", "client.big", None, 3)
            assert getattr(info.value, "code", None) == "TOO_LARGE"
            assert await client.request("big.echo", "small", timeout=5) == "small"
            assert client.connected and lost == []


async def test_reconnecting_survives_an_unexpected_error_while_reopening() -> None:
    """Reconnects retry with backoff until close(). Bug: only network/handshake/wsmq errors
    were retried; any other exception while reopening (here the ``auth`` callable failing once)
    ended the supervisor task for good, leaving the client RECONNECTING forever."""
    calls = 0

    def flaky_token() -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("token service hiccup")
        return f"token-{calls}"

    async with run_broker(port=0) as live:
        connects: asyncio.Queue[None] = asyncio.Queue()
        client = await connect(
            live.url,
            auth=flaky_token,
            reconnect_min=0.02,
            reconnect_max=0.1,
            on_connect=lambda c: connects.put_nowait(None),
        )
        try:
            await asyncio.wait_for(connects.get(), 5)
            _drop(live, client.client_id)
            await asyncio.wait_for(connects.get(), 5)  # after the failed attempt: connected
            assert client.status is Status.CONNECTED and calls == 3
        finally:
            await client.close()
        assert client.status is Status.CLOSED


async def test_close_leaves_no_task_of_the_client_running() -> None:
    """``close()`` stops everything it started. Bug: it cancelled the handler tasks but did not
    wait for them, so they were still pending after ``close()`` returned (and a loop closed
    right after warned 'Task was destroyed but it is pending')."""
    async with run_broker(port=0) as live:
        entered = asyncio.Event()

        async def busy(msg: Message) -> Any:
            entered.set()
            await asyncio.sleep(60)

        client = await connect(live.url)
        await client.subscribe("client.busy", busy)
        await client.subscribe("client.events", busy)
        ask = asyncio.create_task(
            live.broker.request_to_client(client.client_id or "", "client.busy", None, 30)
        )
        await asyncio.wait_for(entered.wait(), 5)
        entered.clear()
        await live.broker.publish("client.events", 1)
        await asyncio.wait_for(entered.wait(), 5)
        started = set(client._tasks) | set(client.session.served.values())
        assert len(started) == 2
        await client.close()
        assert all(task.done() for task in started)
        with pytest.raises(Exception) as info:
            await asyncio.wait_for(ask, 5)
        assert getattr(info.value, "code", None) == "DISCONNECTED"


async def test_a_cancelled_error_raised_by_the_handler_itself_is_answered() -> None:
    """§8.4.3: a handler that fails is answered with an error. Bug: any CancelledError was taken
    for the server's ``_internal.cancel`` (or a lost connection) and left unanswered, so a
    handler that awaited something cancelled elsewhere left the server caller waiting out its
    ttl. Only a cancellation of the handler's own task means "do not answer"."""
    async with run_broker(port=0) as live, connect(live.url) as client:

        async def awaits_a_cancelled_future(msg: Message) -> Any:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            fut.cancel()
            await fut

        await client.subscribe("client.cancelled", awaits_a_cancelled_future)
        with pytest.raises(Exception) as info:
            await live.broker.request_to_client(client.client_id or "", "client.cancelled", None, 3)
        assert getattr(info.value, "code", None) == "HANDLER_ERROR"


async def test_wait_closed_can_be_cancelled_and_timed_out() -> None:
    """``wait_closed()`` waits until the client stops for good. Bug: it suppressed every
    CancelledError, including its caller's, so cancelling a task blocked in it (or wrapping it
    in ``asyncio.wait_for``, which then reported no timeout) made it return as if the client
    had closed."""
    async with run_broker(port=0) as live, connect(live.url) as client:
        waiter = asyncio.create_task(client.wait_closed())
        await asyncio.sleep(0)  # a yield: the waiter is now blocked in wait_closed()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert client.connected
    await client.wait_closed()  # closed: returns at once


async def test_a_normal_closure_1000_from_the_broker_is_not_reconnected() -> None:
    """§12.2: after close code 1000 (normal closure) a client does not reconnect unless the
    application asks. Bug: only 1008/4001/4009 stopped the reconnect loop, so a broker that
    ended a session normally saw the client come straight back."""
    async with run_broker(port=0) as live:
        client = await connect(live.url, reconnect_min=0.02, reconnect_max=0.1)
        try:
            conn = live.broker.get_client(client.client_id or "")
            assert conn is not None
            conn.transport.close(1000, "done")
            await asyncio.wait_for(client.wait_closed(), 5)
            assert client.status is Status.CLOSED and client.last_close_code == 1000
        finally:
            await client.close()


async def test_no_answer_after_internal_cancel_even_when_the_handler_returns_anyway() -> None:
    """§8.8.2: after ``_internal.cancel`` the client MUST NOT answer. Bug: a handler that caught
    the cancellation and returned anyway (cleanup code often does) had its result sent. The real
    broker discards such late answers silently, so a raw ``websockets`` server plays the broker
    here and records what the client sends; a marker request afterwards bounds the wait (the
    client answers in order)."""
    from websockets.asyncio.server import ServerConnection, serve

    entered = asyncio.Event()
    answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    peer: asyncio.Future[ServerConnection] = asyncio.get_running_loop().create_future()

    def frame(kind: str, topic: str, body: Any, corr: str | None = None) -> str:
        header: dict[str, Any] = {"messageID": corr or f"f-{topic}", "type": kind, "topic": topic}
        header["timestamp"] = 0
        if corr is not None:
            header["correlationID"] = corr
        return json.dumps({"header": header, "body": body})

    async def fake_broker(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            head = msg["header"]
            if head["topic"] == "_client.register":
                ack = {"brokerClientID": "fake-1", "status": "registered", "resumeToken": "t"}
                ack |= {"resumed": False, "protocol": "wsmq/1", "pingInterval": 600_000}
                await ws.send(frame("event", "_internal.client.registered", ack))
                peer.set_result(ws)
            elif head["type"] == "request" and head["topic"] == "_client.subscribe":
                corr = head["correlationID"]
                reply = {"topic": msg["body"]["topic"], "subscribed": True}
                await ws.send(frame("response", corr, reply, corr))
            else:
                answers.put_nowait(msg)

    async def stubborn(msg: Message) -> Any:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return "late"  # swallows the cancellation

    async with serve(fake_broker, "127.0.0.1", 0, subprotocols=["wsmq.v1"]) as server:  # type: ignore[list-item]
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/ws", auto_reconnect=False) as client:
            await client.subscribe("client.stubborn", stubborn)
            await client.subscribe("client.marker", lambda m: "marker")
            ws = await asyncio.wait_for(peer, 5)
            await ws.send(frame("request", "client.stubborn", None, "s-1"))
            await asyncio.wait_for(entered.wait(), 5)
            cancel = {"correlationID": "s-1", "reason": "TIMEOUT"}
            await ws.send(frame("event", "_internal.cancel", cancel))
            await ws.send(frame("request", "client.marker", None, "s-2"))
            got = await asyncio.wait_for(answers.get(), 5)
            assert got["header"]["correlationID"] == "s-2", got  # nothing for s-1 before it
            assert got["body"] == "marker"
            assert client.session.served == {}


async def test_backs_off_longer_after_each_4029_in_a_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """§12.2: after 4029 (protocol-error budget spent) reconnect with a longer backoff. Bug: the
    backoff restarted at its first step after every registration, so a broker that closed each
    new connection with 4029 got the client back at the shortest delay forever. The jitter's
    upper bound (the backoff cap) is recorded instead of timing anything."""
    import websocketmq.client.client as client_module

    caps: list[float] = []

    class _Random:
        @staticmethod
        def uniform(low: float, high: float) -> float:
            caps.append(high)
            return low

    monkeypatch.setattr(client_module, "random", _Random)
    async with run_broker(port=0) as live:
        connects: asyncio.Queue[None] = asyncio.Queue()
        count = 0

        def on_connect(c: Any) -> None:
            nonlocal count
            count += 1
            connects.put_nowait(None)
            if count <= 3:  # the first three connections: closed 4029 at once
                conn = live.broker.get_client(c.client_id or "")
                assert conn is not None
                conn.transport.close(4029, "error budget")

        client = await connect(
            live.url, reconnect_min=0.01, reconnect_max=10, on_connect=on_connect
        )
        try:
            for _ in range(4):
                await asyncio.wait_for(connects.get(), 5)
            await client.wait_connected(5)
            assert caps == [0.02, 0.04, 0.08]  # doubling after each 4029 in a row
            _drop(live, client.client_id)  # a loss that is not 4029: back to the first step
            await asyncio.wait_for(connects.get(), 5)
            assert caps[3:] == [0.01]
        finally:
            await client.close()


async def test_close_on_a_blackholed_link_settles_within_a_bounded_time() -> None:
    """``close()`` must not hang. Bug: it waited for the closing handshake for websockets' own
    ``close_timeout`` (10 s), so on a black-holed link (the broker never answers the close
    frame) ``close()`` took 10 s; the default is now 2 s (``ws_options`` may still set it)."""
    from tcp_proxy import TcpProxy

    async with run_broker(port=0) as live, TcpProxy("127.0.0.1", live.port) as proxy:
        client = await connect(f"ws://127.0.0.1:{proxy.port}/ws", auto_reconnect=False)
        proxy.blackhole()
        await asyncio.wait_for(client.close(), 5)
        assert client.status is Status.CLOSED


async def test_a_body_that_cannot_be_encoded_raises_bad_message() -> None:
    """Every failure the client reports is a typed ``WsmqError`` with a wire code. Bug: a
    publish or request body msgspec cannot encode (an arbitrary object) raised a bare
    ``TypeError`` from deep inside the encoder."""
    async with run_broker(port=0) as live, connect(live.url) as client:
        with pytest.raises(BadMessage):
            await client.publish("a.b", object())
        with pytest.raises(BadMessage):
            await client.request("a.b", {"x": object()}, timeout=5)
        assert len(client.session.pending) == 0
        assert client.connected


async def test_on_disconnect_sees_closed_when_no_reconnect_follows() -> None:
    """Bug: ``on_disconnect`` always ran with ``status`` RECONNECTING, also when the client was
    about to stop for good (``auto_reconnect=False``, 1000, 4009, …), so a hook could not tell
    whether the connection would come back."""
    seen: list[Status] = []
    async with run_broker(port=0) as live:
        client = await connect(
            live.url, auto_reconnect=False, on_disconnect=lambda c, e: seen.append(c.status)
        )
        _drop(live, client.client_id)
        await asyncio.wait_for(client.wait_closed(), 5)
        assert seen == [Status.CLOSED] and client.status is Status.CLOSED
        await client.close()
    assert seen == [Status.CLOSED]  # close() after the loss runs no second hook


async def test_an_infinite_or_huge_timeout_is_clamped_into_a_valid_ttl() -> None:
    """Bug: ``request(..., timeout=math.inf)`` ("no deadline") raised a bare OverflowError
    (``int(inf * 1000)``) and a huge finite timeout went out as a ttl above 2^53-1, which the
    schema forbids; the ttl on the wire is now clamped to 1..2^53-1 ms (the broker clamps it
    further to its maximum, §8.2) while the local deadline stays what the caller asked."""
    async with run_broker(port=0) as live:

        @live.broker.subscribe("svc.echo")
        async def echo(msg: Message, _: str | None) -> Any:
            return msg.body

        async with connect(live.url) as client:
            assert await client.request("svc.echo", 1, timeout=math.inf) == 1
            assert await client.request("svc.echo", 2, timeout=1e300) == 2
            assert len(client.session.pending) == 0
