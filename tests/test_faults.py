"""Faults: each pending call gets exactly one outcome, and nothing hangs.

Real broker on 127.0.0.1, raw wsmq/1 peers (tests/rawpeer.py), and tests/tcp_proxy.py for a
network that goes silent without a FIN. "Exactly one" is checked by asking the broker for a
``_client.ping`` round trip after the outcome: frames on one connection are ordered, so a
second answer sent before the ping's response would be in the inbox.

The NATS faults (a node killed with requests in flight, NATS restarted) live with the NATS
backend in tests/test_nats*.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from rawpeer import TIMEOUT, RawPeer, envelope, error_code
from tcp_proxy import TcpProxy
from test_security import Departures
from websocketmq import Broker, BrokerOptions, connect
from websocketmq.errors import Disconnected, RequestTimeout, ShuttingDown, UnknownClient
from websocketmq.protocol.envelope import Message
from websocketmq.server import Server, serve
from websocketmq.testing import run_broker

__all__: list[str] = []


class Probe:
    """Handlers with observable side effects, and deregistrations as they happen."""

    def __init__(self, broker: Broker) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.finished_late = asyncio.Event()
        self.departures = Departures(broker)


@contextlib.asynccontextmanager
async def running(**options: Any) -> AsyncIterator[tuple[Broker, Server, Probe]]:
    broker = Broker(BrokerOptions(**options))
    probe = Probe(broker)

    @broker.subscribe("f.raise")
    async def raises(msg: Message, client_id: str | None) -> Any:
        raise RuntimeError("handler bug")

    @broker.subscribe("f.hang")
    async def hang(msg: Message, client_id: str | None) -> Any:
        probe.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            probe.cancelled.set()
            raise

    @broker.subscribe("f.stubborn")
    async def stubborn(msg: Message, client_id: str | None) -> Any:
        """Ignores its cancellation and answers late anyway: the answer must be discarded."""
        probe.started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(60)
        probe.cancelled.set()
        probe.finished_late.set()
        return "too late"

    @broker.subscribe("f.echo")
    async def echo(msg: Message, client_id: str | None) -> Any:
        return msg.body

    async with serve(broker, "127.0.0.1", 0) as server:
        yield broker, server, probe


async def send_request(peer: RawPeer, topic: str, **header: Any) -> str:
    """Send a request to ``topic`` and return its correlationID; the tests read the answer
    (or check there is none) later."""
    env = envelope("request", topic, None, **header)
    await peer.send(env)
    return str(env["header"]["correlationID"])


async def no_more_answers(peer: RawPeer, corr: str) -> None:
    """After a ping round trip, nothing else arrived for ``corr`` (no second outcome)."""
    pong = await peer.request("_client.ping", None)
    assert pong["header"]["type"] == "response"
    extra = [m for m in peer.inbox if m["header"].get("correlationID") == corr]
    assert not extra, extra


async def test_handler_raises_one_handler_error() -> None:
    async with running() as (_, server, _probe):
        peer = await RawPeer.connect(server.url)
        corr = await send_request(peer, "f.raise")
        answer = await peer.answer_to(corr)
        assert error_code(answer) == "HANDLER_ERROR"
        await no_more_answers(peer, corr)
        await peer.aclose()


async def test_handler_past_ttl_is_cancelled_and_times_out_once() -> None:
    async with running() as (_, server, probe):
        peer = await RawPeer.connect(server.url)
        corr = await send_request(peer, "f.hang", ttl=300)
        answer = await peer.answer_to(corr)
        assert error_code(answer) == "TIMEOUT"
        await asyncio.wait_for(probe.cancelled.wait(), TIMEOUT)  # the handler was cancelled
        await no_more_answers(peer, corr)
        await peer.aclose()


async def test_late_result_of_a_stubborn_handler_is_discarded() -> None:
    async with running() as (_, server, probe):
        peer = await RawPeer.connect(server.url)
        corr = await send_request(peer, "f.stubborn", ttl=300)
        assert error_code(await peer.answer_to(corr)) == "TIMEOUT"
        await asyncio.wait_for(probe.finished_late.wait(), TIMEOUT)
        await no_more_answers(peer, corr)
        await no_more_answers(peer, corr)  # twice: the late result had time to be (not) sent
        await peer.aclose()


async def test_client_cancel_cancels_the_handler_without_an_answer() -> None:
    async with running() as (_, server, probe):
        peer = await RawPeer.connect(server.url)
        corr = await send_request(peer, "f.hang", ttl=60_000)
        await asyncio.wait_for(probe.started.wait(), TIMEOUT)
        await peer.send(envelope("event", "_client.cancel", {"correlationID": corr}))
        await asyncio.wait_for(probe.cancelled.wait(), TIMEOUT)
        await no_more_answers(peer, corr)
        await peer.aclose()


async def test_request_to_client_that_disconnects_mid_call() -> None:
    async with running() as (broker, server, probe):
        a = await RawPeer.connect(server.url)
        call = asyncio.create_task(broker.request_to_client(a.client_id, "q.ask", None, timeout=60))
        await a.expect(lambda m: m["header"]["type"] == "request")
        started = time.monotonic()
        await a.aclose()
        with pytest.raises(Disconnected):
            await asyncio.wait_for(call, TIMEOUT)  # not after the 60 s ttl
        assert time.monotonic() - started < 60
        await probe.departures.wait(a.client_id)


async def test_request_to_client_that_never_existed() -> None:
    async with running() as (broker, _server, _probe):
        with pytest.raises(UnknownClient):
            await asyncio.wait_for(
                broker.request_to_client("c-nobody", "q.ask", None, timeout=60), TIMEOUT
            )


async def test_request_to_client_that_never_answers_times_out_and_is_told() -> None:
    async with running() as (broker, server, _probe):
        a = await RawPeer.connect(server.url)
        call = asyncio.create_task(
            broker.request_to_client(a.client_id, "q.ask", None, timeout=0.3)
        )
        req = await a.expect(lambda m: m["header"]["type"] == "request")
        with pytest.raises(RequestTimeout):
            await asyncio.wait_for(call, TIMEOUT)
        cancel = await a.expect(lambda m: m["header"]["topic"] == "_internal.cancel")
        assert cancel["body"] == {
            "correlationID": req["header"]["correlationID"],
            "reason": "TIMEOUT",
        }
        # a late answer is discarded silently (no error back, no exception anywhere)
        corr = req["header"]["correlationID"]
        await a.send(envelope("response", corr, "late", corr=corr))
        await no_more_answers(a, corr)
        await a.aclose()


async def test_blackholed_client_is_freed_within_ping_interval_plus_timeout() -> None:
    """The client's network goes silent without a FIN: only the broker's pings can tell."""
    interval, timeout, close = 0.5, 0.5, 0.5
    async with (
        running(ping_interval=interval, ping_timeout=timeout, close_timeout=close) as (
            broker,
            server,
            probe,
        ),
        TcpProxy("127.0.0.1", server.port) as proxy,
    ):
        victim = await RawPeer.connect(f"ws://127.0.0.1:{proxy.port}{server.path}")
        other = await RawPeer.connect(server.url)
        call = asyncio.create_task(
            broker.request_to_client(victim.client_id, "q.ask", None, timeout=60)
        )
        await victim.expect(lambda m: m["header"]["type"] == "request")
        proxy.blackhole()
        started = time.monotonic()
        # the documented bound is interval + timeout + close_timeout; allow scheduling slack
        await probe.departures.wait(victim.client_id, timeout=(interval + timeout + close) * 2 + 1)
        freed_after = time.monotonic() - started
        with pytest.raises(Disconnected):
            await asyncio.wait_for(call, TIMEOUT)  # the pending call settles once, not at 60 s
        assert proxy.dropped_bytes > 0  # the broker did try (pings, close) and was not heard
        print(
            f"\nblackholed client freed after {freed_after:.2f} s (interval {interval} + "
            f"timeout {timeout} + close {close})"
        )
        assert (await other.request("f.echo", "ok"))["body"] == "ok"  # others unaffected
        await other.aclose()
        victim.ws.transport.abort()


async def test_shutdown_settles_in_flight_requests_once() -> None:
    async with running() as (_broker, server, probe):
        peer = await RawPeer.connect(server.url)
        corr = await send_request(peer, "f.hang", ttl=60_000)
        await asyncio.wait_for(probe.started.wait(), TIMEOUT)
        closing = asyncio.create_task(server.close())
        answer = await peer.answer_to(corr)
        assert error_code(answer) == "SHUTTING_DOWN"
        assert await peer.closed() == 1001
        await asyncio.wait_for(closing, TIMEOUT)


async def test_broker_restart_every_client_reconnects_and_resubscribes() -> None:
    """50 Python clients with calls in flight; the broker stops and starts again on the same
    port. Every in-flight call settles exactly once (SHUTTING_DOWN or DISCONNECTED), every
    client comes back with its identity, its subscriptions and its handlers."""
    n = 50
    secret = b"r" * 32
    hang = asyncio.Event()
    started: list[str | None] = []
    all_started = asyncio.Event()

    async def stuck(msg: Message, client_id: str | None) -> Any:
        started.append(client_id)
        if len(started) == n:
            all_started.set()
        await hang.wait()

    async with run_broker(port=0, resume_secret=secret) as first:
        first.broker.subscribe("f.hang", stuck)
        port = first.port
        clients = await asyncio.gather(
            *(connect(first.url, reconnect_min=0.05, reconnect_max=0.5) for _ in range(n))
        )
        inboxes: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(n)]
        for client, inbox in zip(clients, inboxes, strict=True):
            await client.subscribe("restart.*", lambda m, q=inbox: q.put_nowait(m.body))
            await client.subscribe("ask.me", lambda m: {"id": m.body})
        ids = [c.client_id for c in clients]
        assert len(set(ids)) == n
        calls = [asyncio.create_task(c.request("f.hang", None, timeout=60)) for c in clients]
        await asyncio.wait_for(all_started.wait(), TIMEOUT)  # every call is in a handler
    # the first broker is gone: each in-flight call has exactly one outcome
    outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), TIMEOUT)
    assert all(isinstance(o, ShuttingDown | Disconnected) for o in outcomes), outcomes
    async with run_broker(port=port, resume_secret=secret) as second:
        await asyncio.wait_for(asyncio.gather(*(c.wait_connected() for c in clients)), TIMEOUT * 3)
        assert [c.client_id for c in clients] == ids  # resumed, same identities
        assert all(c.resumed for c in clients)
        # re-subscribed: one publish reaches every client exactly once
        await second.broker.publish("restart.done", {"ok": True})
        for inbox in inboxes:
            assert await asyncio.wait_for(inbox.get(), TIMEOUT) == {"ok": True}
        # and server→client RPC reaches each of them again
        answers = await asyncio.gather(
            *(second.broker.request_to_client(i, "ask.me", i, 10) for i in ids)
        )
        assert answers == [{"id": i} for i in ids]
        assert sorted(second.broker.client_ids()) == sorted(ids)
        await asyncio.gather(*(c.close() for c in clients))
        assert all(inbox.empty() for inbox in inboxes)  # nothing delivered twice
