"""NatsBackend against real nats-server processes, with recording hosts standing in for brokers.

Why this layer: it pins the routing contract of backends/base.py over NATS (who gets called,
how often, with which errors) without a broker in the way, so a failure points at the backend.
The full-stack scenarios (broker node processes, real clients) are in test_nats_e2e.py.
The hosts are real implementations of ``BackendHost`` that record calls; transport is real NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats_cluster import NATS_SERVER, SKIP_REASON, NatsCluster, NatsServer, free_port
from websocketmq.backends.nats import NatsBackend
from websocketmq.errors import NoHandler, UnknownClient
from websocketmq.protocol.envelope import (
    Message,
    decode,
    encode,
    new_error,
    new_event,
    new_request,
    new_response,
)
from websocketmq.protocol.topics import matches

pytestmark = [
    pytest.mark.nats,
    pytest.mark.skipif(NATS_SERVER is None, reason=SKIP_REASON),
    pytest.mark.timeout(60),
]

__all__: list[str] = []


class RecordingHost:
    """A BackendHost that records deliveries and answers requests like a tiny broker."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.patterns: set[str] = set()
        self.events: list[tuple[str, bytes, str | None]] = []
        self.event_seen = asyncio.Condition()
        self.requests: list[str] = []
        self.clients: set[str] = set()
        self.client_frames: list[tuple[str, bytes]] = []
        self.evicted: list[str] = []
        self.block = asyncio.Event()  # handlers on "slow.*" wait for this
        self.handling = asyncio.Event()
        self.cancelled = asyncio.Event()

    def deliver_event(
        self, topic: str, frame: bytes, source: str | None, message: Message | None = None
    ) -> None:
        # like a broker: the host matches its own subscriptions (the backend may call it for
        # any event when something is watched locally)
        if not any(matches(p, topic) for p in self.patterns):
            return
        self.events.append((topic, frame, source))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self.event_seen:
            self.event_seen.notify_all()

    async def wait_events(self, n: int) -> None:
        async with self.event_seen:
            await asyncio.wait_for(self.event_seen.wait_for(lambda: len(self.events) >= n), 10)

    def start_request(self, topic: str, frame: bytes, message: Message | None = None) -> Any:
        return self._handle(topic, frame, message)

    async def _handle(self, topic: str, frame: bytes, message: Message | None) -> Any:
        req = message or decode(frame)
        self.requests.append(topic)
        if topic.startswith("slow."):
            self.handling.set()
            try:
                await self.block.wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        return new_response(req, {"node": self.name, "echo": req.body})

    async def request_client(
        self, client_id: str, frame: bytes, timeout: float, message: Message | None = None
    ) -> Any:
        if client_id not in self.clients:
            raise UnknownClient(client_id)
        req = message or decode(frame)
        return encode(new_response(req, {"client": client_id, "node": self.name}))

    def deliver_to_client(self, client_id: str, frame: bytes) -> bool:
        if client_id not in self.clients:
            return False
        self.client_frames.append((client_id, frame))
        return True

    def evict_client(self, client_id: str) -> None:
        self.evicted.append(client_id)
        self.clients.discard(client_id)


@contextlib.asynccontextmanager
async def node(
    urls: list[str], name: str, **kw: Any
) -> AsyncIterator[tuple[NatsBackend, RecordingHost]]:
    host = RecordingHost(name)
    backend = NatsBackend(urls, node_id=name, **kw)
    await backend.start(host)
    try:
        yield backend, host
    finally:
        await backend.close()


async def watch(backend: NatsBackend, host: RecordingHost, pattern: str) -> None:
    host.patterns.add(pattern)
    await backend.watch(pattern)


def body(reply: Any) -> Any:
    msg = reply if isinstance(reply, Message) else decode(reply)
    return msg.type, msg.body


async def test_publish_reaches_watching_nodes_once_with_wildcards() -> None:
    async with (
        NatsServer.start() as srv,
        node([srv.url], "a") as (a, ha),
        node([srv.url], "b") as (b, hb),
        node([srv.url], "c") as (c, hc),
    ):
        await watch(a, ha, "chat.>")
        await watch(b, hb, "chat.*")
        await watch(b, hb, "chat.>")  # overlapping patterns on one node: still one delivery
        await watch(c, hc, "other.*")
        frame = encode(new_event("chat.room", {"n": 1}, source="c-x"))
        await a.publish("chat.room", frame, "c-x")
        await b.publish("chat.room.deep", encode(new_event("chat.room.deep", 2)), None)
        await a.publish("zzz.end", encode(new_event("zzz.end")), None)
        await ha.wait_events(2)
        await hb.wait_events(2)
        # flush a marker through c to make sure nothing else is in flight for it
        await watch(c, hc, "zzz.end")
        await a.publish("zzz.end", encode(new_event("zzz.end")), None)
        await hc.wait_events(1)
        # two publishers: no order between them (local delivery comes first), once each
        want = [("chat.room", "c-x"), ("chat.room.deep", None)]
        assert sorted((t, s or "") for t, _, s in ha.events) == sorted(
            (t, s or "") for t, s in want
        )
        assert sorted((t, s or "") for t, _, s in hb.events) == sorted(
            (t, s or "") for t, s in want
        )
        assert [t for t, _, _ in hc.events] == ["zzz.end"]
        assert frame in [f for _, f, _ in hb.events]  # frames travel unchanged


async def test_events_from_nats_are_validated() -> None:
    async with NatsServer.start() as srv, node([srv.url], "b") as (b, hb):
        await watch(b, hb, "x.>")
        raw = await nats.connect(srv.url, allow_reconnect=False)
        try:
            await raw.publish("wsmq.default.t.x.bad", b"\x80not json")
            await raw.publish("wsmq.default.t.x.req", encode(new_request("x.req", 1)))
            await raw.publish("wsmq.default.t.x.other", encode(new_event("x.mismatch")))
            await raw.publish("wsmq.default.t.x.ok", encode(new_event("x.ok", 1)))
            await raw.flush()
        finally:
            await raw.close()
        await hb.wait_events(1)
        assert [t for t, _, _ in hb.events] == ["x.ok"]


async def test_request_exactly_one_handler_and_no_handler_at_once() -> None:
    async with (
        NatsServer.start() as srv,
        node([srv.url], "a") as (a, _),
        node([srv.url], "b") as (b, hb),
        node([srv.url], "c") as (c, hc),
    ):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(NoHandler):
            await a.request("svc.echo", encode(new_request("svc.echo", 1)), 30)
        assert loop.time() - t0 < 5  # at once, not after the 30 s timeout
        await b.serve("svc.*")
        await c.serve("svc.>")
        replies = [
            body(await a.request("svc.echo", encode(new_request("svc.echo", i)), 10))
            for i in range(40)
        ]
        assert [r[1]["echo"] for r in replies] == list(range(40))
        assert len(hb.requests) + len(hc.requests) == 40  # each handled exactly once
        await b.unserve("svc.*")
        await c.unserve("svc.>")
        with pytest.raises(NoHandler):
            await a.request("svc.echo", encode(new_request("svc.echo", 1)), 30)


async def test_local_handler_first() -> None:
    async with (
        NatsServer.start() as srv,
        node([srv.url], "a") as (a, ha),
        node([srv.url], "b") as (b, hb),
    ):
        await a.serve("svc.*")
        await b.serve("svc.*")
        for _ in range(10):
            assert body(await a.request("svc.x", encode(new_request("svc.x")), 5))[1]["node"] == "a"
        assert len(ha.requests) == 10 and not hb.requests


async def test_request_client_send_to_client_and_eviction() -> None:
    async with (
        NatsServer.start() as srv,
        node([srv.url], "a") as (a, ha),
        node([srv.url], "b") as (b, hb),
        node([srv.url], "c") as (c, hc),
    ):
        with pytest.raises(UnknownClient):
            await a.request_client("c-1", encode(new_request("q")), 30)
        assert await a.send_to_client("c-1", encode(new_event("e"))) is False
        hb.clients.add("c-1")
        await b.attach_client("c-1")
        assert body(await a.request_client("c-1", encode(new_request("q")), 5))[1] == {
            "client": "c-1",
            "node": "b",
        }
        assert await a.send_to_client("c-1", b'{"x":1}') is False  # not an envelope: dropped
        frame = encode(new_event("direct", 1))
        assert await a.send_to_client("c-1", frame) is True
        assert hb.client_frames == [("c-1", frame)]
        # the client resumes its identity on node c: b must evict it
        hc.clients.add("c-1")
        await c.attach_client("c-1")  # c holds it at once; b lets go when the evict arrives
        async with asyncio.timeout(10):
            while hb.evicted != ["c-1"]:  # noqa: ASYNC110 - the evict is fire-and-forget
                await asyncio.sleep(0.01)
        assert body(await a.request_client("c-1", encode(new_request("q")), 5))[1]["node"] == "c"
        await c.detach_client("c-1")
        with pytest.raises(UnknownClient):
            await a.request_client("c-1", encode(new_request("q")), 30)
        assert not ha.evicted


async def test_node_death_fails_in_flight_requests_quickly() -> None:
    async with NatsServer.start() as srv, node([srv.url], "a", probe_interval=0.2) as (a, _):
        b_host = RecordingHost("b")
        b = NatsBackend([srv.url], node_id="b", accept_delay=0)
        await b.start(b_host)
        await b.serve("slow.*")
        loop = asyncio.get_running_loop()
        call = asyncio.ensure_future(a.request("slow.x", encode(new_request("slow.x")), 60))
        await asyncio.wait_for(b_host.handling.wait(), 10)
        async with asyncio.timeout(10):
            while "b" not in a._nodes:  # noqa: ASYNC110 - a has seen b's accept: it probes b
                await asyncio.sleep(0.01)
        t0 = loop.time()
        # crash b's link: its NATS connection drops without any goodbye from the backend
        assert b.nc is not None
        await b.nc.close()
        kind, err = body(await asyncio.wait_for(call, 30))
        assert kind == "error" and err["error"]["code"] == "DISCONNECTED"
        assert "went away" in err["error"]["message"]
        assert loop.time() - t0 < 5  # two missed probes, not the 60 s ttl
        await b.close()


async def test_node_death_before_accepting_fails_at_accept_timeout() -> None:
    async with (
        NatsServer.start() as srv,
        node([srv.url], "a", accept_timeout=1.0) as (a, _),
    ):
        b_host = RecordingHost("b")
        b = NatsBackend([srv.url], node_id="b", accept_delay=30)  # never accepts in time
        await b.start(b_host)
        await b.serve("slow.*")
        loop = asyncio.get_running_loop()
        call = asyncio.ensure_future(a.request("slow.x", encode(new_request("slow.x")), 60))
        await asyncio.wait_for(b_host.handling.wait(), 10)
        assert b.nc is not None
        await b.nc.close()
        t0 = loop.time()
        kind, err = body(await asyncio.wait_for(call, 30))
        assert kind == "error" and err["error"]["code"] == "DISCONNECTED"
        assert loop.time() - t0 < 5
        await b.close()


async def test_caller_cancel_reaches_the_remote_handler() -> None:
    async with (
        NatsServer.start() as srv,
        node([srv.url], "a") as (a, _),
        node([srv.url], "b") as (b, hb),
    ):
        await b.serve("slow.*")
        call = asyncio.ensure_future(a.request("slow.x", encode(new_request("slow.x")), 60))
        await asyncio.wait_for(hb.handling.wait(), 10)
        call.cancel()
        await asyncio.wait_for(hb.cancelled.wait(), 10)


async def test_caller_gives_up_at_timeout_plus_grace() -> None:
    """The handler node normally answers TIMEOUT itself (a broker host enforces the ttl); our
    recording host never answers, so the caller's own deadline must end the wait — before and
    after the accept check."""
    async with (
        NatsServer.start() as srv,
        node([srv.url], "a", grace=0.5) as (a, _),
        node([srv.url], "a2", grace=0.2, accept_timeout=0.2) as (a2, _),
        node([srv.url], "b") as (b, hb),
    ):
        await b.serve("slow.*")
        loop = asyncio.get_running_loop()
        # deadline (0.8 s) before the accept check (3 s)
        t0 = loop.time()
        kind, err = body(await a.request("slow.x", encode(new_request("slow.x")), 0.3))
        assert kind == "error" and err["error"]["code"] == "TIMEOUT"
        assert 0.75 <= loop.time() - t0 < 10
        # accept check (0.2 s: b accepted after 50 ms) and then the deadline (0.7 s)
        t0 = loop.time()
        kind, err = body(await a2.request("slow.x", encode(new_request("slow.x")), 0.5))
        assert kind == "error" and err["error"]["code"] == "TIMEOUT"
        assert 0.65 <= loop.time() - t0 < 10
        hb.block.set()


async def test_nats_cluster_node_killed_routing_resumes() -> None:
    # a talks to n0 first, b to n1 first; each knows another URL to fail over to
    async with (
        NatsCluster.start(3) as cluster,
        node([cluster.urls[0], cluster.urls[2]], "a", dont_randomize=True) as (a, _),
        node([cluster.urls[1], cluster.urls[2]], "b", dont_randomize=True) as (b, hb),
    ):
        await b.serve("svc.*")
        await watch(b, hb, "ev.*")
        await wait_routed(a, "svc.x")
        await cluster.servers[0].kill()  # a's NATS server dies
        await asyncio.wait_for(_reconnected(a), 15)
        await wait_routed(a, "svc.x")
        reply = body(await a.request("svc.x", encode(new_request("svc.x", 7)), 5))
        assert reply[1] == {"node": "b", "echo": 7}
        n = len(hb.events)
        await a.publish("ev.after", encode(new_event("ev.after")), None)
        await hb.wait_events(n + 1)
        assert hb.events[-1][0] == "ev.after"


async def test_nats_server_restart_both_nodes_reconnect() -> None:
    async with (
        NatsServer.start() as srv,
        node([srv.url], "a") as (a, _),
        node([srv.url], "b") as (b, hb),
    ):
        await b.serve("svc.*")
        hb.clients.add("c-9")
        await b.attach_client("c-9")
        await srv.kill()
        await srv.restart()
        await asyncio.wait_for(_reconnected(a), 15)
        await asyncio.wait_for(_reconnected(b), 15)
        await wait_routed(a, "svc.x")
        assert body(await a.request("svc.x", encode(new_request("svc.x", 1)), 5))[1]["node"] == "b"
        assert body(await a.request_client("c-9", encode(new_request("q")), 5))[1]["node"] == "b"


async def _reconnected(backend: NatsBackend) -> None:
    assert backend.nc is not None
    while not backend.nc.is_connected:  # noqa: ASYNC110 - nats-py exposes no reconnect event
        await asyncio.sleep(0.05)  # poll of a real condition, bounded by the caller's wait_for
    await backend.nc.flush()


async def wait_routed(backend: NatsBackend, topic: str) -> None:
    """Until a request on ``topic`` finds a handler: subscription interest can take a moment
    to propagate across cluster routes after a reconnect (bounded)."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        try:
            await backend.request(topic, encode(new_request(topic)), 2)
            return
        except NoHandler:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


def test_error_reply_helper_is_wire_valid() -> None:
    msg = new_error("corr-1", "DISCONNECTED", "x")
    assert decode(encode(msg)).type == "error"


async def test_start_fails_clearly_when_no_nats_server_answers() -> None:
    backend = NatsBackend([f"nats://127.0.0.1:{free_port()}"], start_timeout=1)
    with pytest.raises(ConnectionError, match="cannot connect to NATS"):
        await asyncio.wait_for(backend.start(RecordingHost("x")), 20)
