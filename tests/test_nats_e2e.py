"""Scale-out end to end: broker node *processes* sharing one logical broker through real NATS.

Every bullet of issue 6 has a scenario here: cross-node pub/sub (clients and server handlers,
wildcards), exactly-one handler per request (queue group) and NO_HANDLER at once, server→client
RPC from any node, registered/deregistered events cluster-wide, unique IDs, resume on another
node (old connection closed 4009), and the faults (broker node killed with requests in flight,
NATS server restarted, NATS cluster node killed). Nodes run ``tests/nats_cluster.py node`` (the
same Broker + NatsBackend as ``wsmq serve --nats``, plus handlers that say which node answered);
one test drives ``python -m websocketmq serve --nats`` itself. Clients are the Python client or
raw ``websockets`` where the test needs the wire (resume, close codes).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import websockets
from nats_cluster import (
    NATS_SERVER,
    SKIP_REASON,
    BrokerNode,
    NatsCluster,
    NatsServer,
    TcpBalancer,
)
from websocketmq import Message, NoHandler, UnknownClient
from websocketmq.client import connect
from websocketmq.errors import Disconnected, WsmqError

pytestmark = [
    pytest.mark.nats,
    pytest.mark.skipif(NATS_SERVER is None, reason=SKIP_REASON),
    pytest.mark.timeout(90),
]

__all__: list[str] = []

WAIT = 15.0  # bound for "eventually" conditions on this shared, slow machine


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = WAIT) -> None:
    """Retry ``check`` until it holds (bounded). For cluster-wide effects that are
    asynchronous by design (events, reconnects), never as a substitute for a ready signal."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.1)


class Inbox:
    """Collects events a client receives, with a wait for the n-th."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self._cond = asyncio.Condition()

    async def __call__(self, msg: Message) -> None:
        async with self._cond:
            self.items.append((msg.topic, msg.body))
            self._cond.notify_all()

    async def wait(self, n: int, within: float = WAIT) -> list[tuple[str, Any]]:
        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(lambda: len(self.items) >= n), within)
        return self.items


async def test_wsmq_serve_nats_flag_routes_across_nodes() -> None:
    """The CLI wiring: `wsmq serve --nats URL` on two nodes, only one with the fixture."""
    async with (
        NatsServer.start() as srv,
        BrokerNode.start([srv.url], "a", ["--conformance"]) as a,
        BrokerNode.start([srv.url], "b", ["--nats-namespace", "default"]) as b,
        connect(a.ws_url) as ca,
        connect(b.ws_url) as cb,
    ):
        # b has no conformance handlers: the request crosses to a through the queue group
        assert await cb.request("conformance.echo", {"x": 1}, 10) == {"x": 1}
        inbox = Inbox()
        await cb.subscribe("chat.>", inbox)
        await ca.publish("chat.room", {"from": "a"})
        # a server-side publish on node a reaches b's client too
        assert await ca.request(
            "conformance.publish", {"topic": "chat.server", "body": {"n": 1}}, 10
        ) == {"published": 1}
        items = await inbox.wait(2)
        assert items == [("chat.room", {"from": "a"}), ("chat.server", {"n": 1})]


async def test_publish_reaches_clients_and_server_handlers_on_every_node() -> None:
    async with (
        NatsServer.start() as srv,
        BrokerNode.start([srv.url], "a", app=True) as a,
        BrokerNode.start([srv.url], "b", app=True) as b,
        BrokerNode.start([srv.url], "c", app=True) as c,
        connect(a.ws_url) as ca,
        connect(b.ws_url) as cb,
        connect(c.ws_url) as cc,
    ):
        got_b, got_c, got_a = Inbox(), Inbox(), Inbox()
        await cb.subscribe("fan.>", got_b)
        await cc.subscribe("fan.*.c", got_c)  # '*' in the middle: wildcards map 1:1
        await cc.subscribe("fan.end", got_c)
        await ca.subscribe("fan.>", got_a)  # the publisher itself: no echo by default
        for i in range(20):
            await ca.publish("fan.x", {"i": i})
        await ca.publish("fan.b.c", "mid")
        await ca.publish("fan.b.d", "not for c")
        await ca.publish("fan.end", "end")
        items_b = await got_b.wait(23)
        # one publisher, one topic: in order (different topics may interleave differently)
        assert [i for i in items_b if i[0] == "fan.x"] == [("fan.x", {"i": i}) for i in range(20)]
        assert sorted(i for i in items_b if i[0] != "fan.x") == [
            ("fan.b.c", "mid"),
            ("fan.b.d", "not for c"),
            ("fan.end", "end"),
        ]
        # two patterns, two topics: order is guaranteed per topic only (docs/deployment.md)
        assert sorted(await got_c.wait(2)) == [("fan.b.c", "mid"), ("fan.end", "end")]
        assert got_a.items == []
        # server handlers for fan.> on every node saw every event exactly once
        for client in (ca, cb, cc):

            async def all_seen(client: Any = client) -> bool:
                stats = await client.request("node.stats", None, 5)
                return len(stats["fan"]) >= 23

            await eventually(all_seen, "server handlers saw the events")
            stats = await client.request("node.stats", None, 5)
            fan_x = [tuple(e) for e in stats["fan"] if e[0] == "fan.x"]
            assert fan_x == [("fan.x", {"i": i}) for i in range(20)]  # in order per topic
            assert len(stats["fan"]) == 23
        assert len(got_b.items) == 23 and len(got_c.items) == 2  # nothing duplicated


async def test_request_answered_by_exactly_one_handler_and_no_handler_at_once() -> None:
    async with (
        NatsServer.start() as srv,
        BrokerNode.start([srv.url], "a", app=True) as a,
        BrokerNode.start([srv.url], "b", ["--serve-work"], app=True) as b,
        BrokerNode.start([srv.url], "c", ["--serve-work"], app=True) as c,
        connect(a.ws_url) as ca,
        connect(b.ws_url) as cb,
        connect(c.ws_url) as cc,
    ):
        answers = await asyncio.gather(*(ca.request("work.job", {"i": i}, 10) for i in range(30)))
        nodes = [r["node"] for r in answers]
        assert set(nodes) <= {"b", "c"}
        served_b = (await cb.request("node.stats", None, 5))["work"]
        served_c = (await cc.request("node.stats", None, 5))["work"]
        assert served_b + served_c == 30  # every request handled once, none twice
        assert nodes.count("b") == served_b
        t0 = time.monotonic()
        with pytest.raises(NoHandler):
            await ca.request("nobody.serves.this", None, 20)
        assert time.monotonic() - t0 < 5  # at once, not at the 20 s ttl


async def test_request_to_client_from_any_node() -> None:
    async with (
        NatsServer.start() as srv,
        BrokerNode.start([srv.url], "a", app=True) as a,
        BrokerNode.start([srv.url], "b", app=True) as b,
        connect(a.ws_url) as ca,
        connect(b.ws_url) as cb,
    ):

        def answer(msg: Message) -> Any:
            return {"me": cb.client_id, "got": msg.body}

        await cb.subscribe("ask.me", answer)
        # node a asks a client connected to node b
        reply = await ca.request(
            "node.call", {"client": cb.client_id, "topic": "ask.me", "body": 42}, 10
        )
        assert reply == {"node": "a", "reply": {"me": cb.client_id, "got": 42}}
        # the client's own error code comes back across nodes too
        with pytest.raises(NoHandler):
            await ca.request("node.call", {"client": cb.client_id, "topic": "no.handler"}, 10)
        t0 = time.monotonic()
        with pytest.raises(UnknownClient):
            await ca.request("node.call", {"client": "c-nobody", "topic": "ask.me"}, 20)
        assert time.monotonic() - t0 < 5


async def test_registration_events_cluster_wide_and_unique_ids() -> None:
    async with (
        NatsServer.start() as srv,
        BrokerNode.start([srv.url], "a", app=True) as a,
        BrokerNode.start([srv.url], "b", app=True) as b,
        connect(a.ws_url) as watcher,
    ):
        clients = [await connect((a if i % 2 else b).ws_url) for i in range(8)]
        ids = [c.client_id for c in clients]
        assert len(set(ids)) == 8 and all(ids)

        async def registered_seen() -> bool:
            stats = await watcher.request("node.stats", None, 5)
            return set(ids) <= set(stats["registered"])

        await eventually(registered_seen, "node a saw every registration (4 on node b)")
        for client in clients:
            await client.close()

        async def deregistered_seen() -> bool:
            stats = await watcher.request("node.stats", None, 5)
            return set(ids) <= set(stats["deregistered"])

        await eventually(deregistered_seen, "node a saw every deregistration")


async def _raw_register(url: str, body: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    ws = await websockets.connect(url)
    frame = {
        "header": {
            "messageID": "r1",
            "type": "event",
            "topic": "_client.register",
            "timestamp": 0,
        },
        "body": body,
    }
    await ws.send(json.dumps(frame))
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if msg["header"]["topic"] == "_internal.client.registered":
            return ws, msg["body"]


async def test_resume_on_another_node_evicts_the_old_connection() -> None:
    async with (
        NatsServer.start() as srv,
        BrokerNode.start([srv.url], "a", app=True) as a,
        BrokerNode.start([srv.url], "b", app=True) as b,
        connect(a.ws_url) as asker,
    ):
        old, ack = await _raw_register(a.ws_url, {})
        client_id, token = ack["brokerClientID"], ack["resumeToken"]
        new, ack2 = await _raw_register(
            b.ws_url, {"brokerClientID": client_id, "resumeToken": token}
        )
        assert ack2["resumed"] is True and ack2["brokerClientID"] == client_id
        await asyncio.wait_for(old.wait_closed(), WAIT)
        assert old.close_code == 4009
        # the identity now lives on node b: a server→client request from node a reaches it

        async def serve_one() -> None:
            while True:
                msg = json.loads(await new.recv())
                if msg["header"]["type"] == "request":
                    corr = msg["header"]["correlationID"]
                    await new.send(
                        json.dumps(
                            {
                                "header": {
                                    "messageID": "r2",
                                    "type": "response",
                                    "topic": corr,
                                    "correlationID": corr,
                                    "timestamp": 0,
                                },
                                "body": "from b",
                            }
                        )
                    )
                    return

        server = asyncio.create_task(serve_one())
        reply = await asyncio.wait_for(
            asker.request("node.call", {"client": client_id, "topic": "q"}, 10), WAIT
        )
        assert reply == {"node": "a", "reply": "from b"}
        await server
        # a bad token does not resume (fresh ID, not an error)
        other, ack3 = await _raw_register(
            b.ws_url, {"brokerClientID": client_id, "resumeToken": token[:-2] + "xx"}
        )
        assert ack3["resumed"] is False and ack3["brokerClientID"] != client_id
        await other.close()
        await new.close()


async def test_broker_node_killed_in_flight_requests_fail_and_clients_resume_elsewhere() -> None:
    async with (
        NatsServer.start() as srv,
        BrokerNode.start([srv.url], "a", app=True) as a,
        BrokerNode.start([srv.url], "b", ["--serve-work"], app=True) as b,
        TcpBalancer.start([b.ws_url, a.ws_url]) as lb,
        connect(a.ws_url) as caller,
        connect(lb.url, reconnect_min=0.05, reconnect_max=0.5) as roamer,
    ):
        assert (await roamer.request("node.whoami", None, 5))["node"] == "b"  # via the LB
        roamer_id = roamer.client_id
        roamer_inbox = Inbox()
        await roamer.subscribe("fan.>", roamer_inbox)
        # requests from a client on node a, served by the handler on node b, in flight
        calls = [
            asyncio.create_task(caller.request("work.slow", {"sleepMs": 60_000}, 45))
            for _ in range(5)
        ]
        # and one from the roamer itself (its own connection is on b: served locally)
        own = asyncio.create_task(roamer.request("work.slow", {"sleepMs": 60_000}, 45))
        # and a server→client request from node a to a client on b that is handling it
        handling = asyncio.Event()

        async def slow_answer(msg: Message) -> Any:
            handling.set()
            await asyncio.sleep(60)

        victim = await connect(b.ws_url, auto_reconnect=False)
        await victim.subscribe("ask.slow", slow_answer)
        s2c = asyncio.create_task(
            caller.request(
                "node.call",
                {"client": victim.client_id, "topic": "ask.slow", "timeoutMs": 45_000},
                50,
            )
        )
        await asyncio.wait_for(handling.wait(), WAIT)

        async def all_in_handlers() -> bool:  # ask node b (the roamer is connected to it)
            return (await roamer.request("node.stats", None, 5))["work"] == 6

        await eventually(all_in_handlers, "the 6 requests reached the handlers on node b")
        t0 = time.monotonic()
        await b.kill()
        for call in calls:
            with pytest.raises(WsmqError) as info:
                await asyncio.wait_for(call, WAIT)
            assert info.value.code == "DISCONNECTED"
        with pytest.raises(Disconnected):
            await asyncio.wait_for(own, WAIT)
        with pytest.raises(WsmqError) as info:
            await asyncio.wait_for(s2c, WAIT)
        assert info.value.code == "DISCONNECTED"
        assert time.monotonic() - t0 < 10  # detected, far from the 45 s ttl: nobody hangs
        # the roamer reconnects through the load balancer to node a and keeps its identity
        await roamer.wait_connected(WAIT)
        assert roamer.client_id == roamer_id and roamer.resumed
        assert (await roamer.request("node.whoami", None, 5))["node"] == "a"
        # its subscription came along (the client re-subscribed on node a)
        await caller.publish("fan.after", "moved")
        assert await roamer_inbox.wait(1) == [("fan.after", "moved")]
        # new requests now find no handler (b was the only one), at once
        with pytest.raises(NoHandler):
            await caller.request("work.slow", {}, 20)
        await victim.close()


async def test_nats_server_restart_routing_resumes() -> None:
    async with (
        NatsServer.start() as srv,
        BrokerNode.start([srv.url], "a", app=True) as a,
        BrokerNode.start([srv.url], "b", ["--serve-work"], app=True) as b,
        connect(a.ws_url) as ca,
        connect(b.ws_url) as cb,
    ):
        assert (await ca.request("work.x", None, 5))["node"] == "b"
        inbox = Inbox()
        await cb.subscribe("fan.>", inbox)
        await srv.kill()
        # while NATS is down each node still serves its own clients
        assert (await cb.request("work.local", None, 5))["node"] == "b"

        async def cut_off() -> bool:  # and says clearly when it cannot reach the others
            try:
                await ca.request("work.x", None, 5)
            except WsmqError as exc:
                return exc.code == "DISCONNECTED"
            return False

        await eventually(cut_off, "node a reports that it cannot reach NATS")
        await srv.restart()

        async def routed() -> bool:
            try:
                return (await ca.request("work.x", None, 2))["node"] == "b"
            except WsmqError:
                return False

        await eventually(routed, "requests cross nodes again after the NATS restart")

        async def delivered() -> bool:  # events are at-most-once: publish until one arrives
            await ca.publish("fan.after", "x")
            await asyncio.sleep(0.1)
            return ("fan.after", "x") in inbox.items

        await eventually(delivered, "events cross nodes again after the NATS restart")


async def test_nats_cluster_node_killed_brokers_fail_over() -> None:
    async with (
        NatsCluster.start(3) as cluster,
        BrokerNode.start(cluster.urls, "a", app=True) as a,
        BrokerNode.start(cluster.urls, "b", ["--serve-work"], app=True) as b,
        connect(a.ws_url) as ca,
        connect(b.ws_url) as cb,
    ):

        async def routed() -> bool:
            try:
                return (await ca.request("work.x", None, 2))["node"] == "b"
            except WsmqError:
                return False

        await eventually(routed, "cluster interest propagated")
        # kill the NATS server node a is connected to (nats-py picks one at random)
        url = (await ca.request("node.whoami", None, 5))["natsURL"]
        victim = next(s for s in cluster.servers if s.url.endswith(url.rsplit(":", 1)[1]))
        await victim.kill()

        async def moved() -> bool:
            now = (await ca.request("node.whoami", None, 5))["natsURL"]
            return now is not None and now != url

        await eventually(moved, "node a reconnected to another NATS server")
        await eventually(routed, "requests cross nodes again after the failover")
        inbox = Inbox()
        await cb.subscribe("fan.>", inbox)

        async def delivered() -> bool:
            await ca.publish("fan.failover", 1)
            await asyncio.sleep(0.1)
            return ("fan.failover", 1) in inbox.items

        await eventually(delivered, "events cross nodes after the failover")


async def test_event_burst_from_nats_does_not_close_healthy_subscribers() -> None:
    """A burst arriving from NATS is more than a connection's send queue (1024 frames): the
    node must let its writers drain between events instead of closing subscribers 4008 (nats-py
    hands a subscription's backlog over without yielding). Every event arrives, in order."""
    count = 2000
    async with (
        NatsServer.start() as srv,
        BrokerNode.start([srv.url], "a", app=True) as a,
        BrokerNode.start([srv.url], "b", app=True) as b,
        connect(a.ws_url) as publisher,
    ):
        subscribers = [await connect(b.ws_url, auto_reconnect=False) for _ in range(5)]
        inboxes = [Inbox() for _ in subscribers]
        for client, inbox in zip(subscribers, inboxes, strict=True):
            await client.subscribe("burst.x", inbox)
        for i in range(count):
            await publisher.publish("burst.x", i)
        for client, inbox in zip(subscribers, inboxes, strict=True):
            items = await inbox.wait(count, within=60)
            assert [body for _, body in items] == list(range(count))
            assert client.connected
            await client.close()


async def test_broker_node_stopped_answers_its_remote_requests_shutting_down() -> None:
    async with (
        NatsServer.start() as srv,
        BrokerNode.start([srv.url], "a", app=True) as a,
        BrokerNode.start([srv.url], "b", ["--serve-work"], app=True) as b,
        connect(a.ws_url) as caller,
        connect(b.ws_url, auto_reconnect=False) as on_b,
    ):
        call = asyncio.create_task(caller.request("work.slow", {"sleepMs": 60_000}, 45))

        async def in_handler() -> bool:
            return (await on_b.request("node.stats", None, 5))["work"] == 1

        await eventually(in_handler, "the request reached the handler on node b")
        t0 = time.monotonic()
        await b.stop()  # SIGTERM: graceful
        with pytest.raises(WsmqError) as info:
            await asyncio.wait_for(call, WAIT)
        assert info.value.code == "SHUTTING_DOWN"
        assert time.monotonic() - t0 < 10


async def test_conformance_suite_across_nodes(tmp_path: Any) -> None:
    """The whole core conformance suite, connected to node b while every fixture handler lives
    on node a: requests, server publishes, server→client callbacks and event counts all cross
    NATS. The protocol must not be able to tell a cluster from a single broker."""
    report = tmp_path / "conformance.json"
    async with (
        NatsServer.start() as srv,
        BrokerNode.start([srv.url], "a", ["--conformance"]),
        BrokerNode.start([srv.url], "b") as b,
    ):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wsmq_conformance",
            b.ws_url,
            "-q",
            "--json",
            str(report),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 80)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    summary = json.loads(report.read_text())["summary"]
    assert summary["FAILED"] == 0 and summary["NON-STRICT"] == 0, out.decode()
    assert summary["OK"] > 100
