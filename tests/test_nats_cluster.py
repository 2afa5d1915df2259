"""The NATS behaviour the scale-out backend is built on, pinned against real ``nats-server``s.

Why: ``NatsBackend`` turns "no responders" into ``NO_HANDLER``/``UNKNOWN_CLIENT``, relies on
queue groups for "exactly one handler in the cluster", and on nats-py re-establishing
subscriptions after a server restart.  If a nats-server or nats-py upgrade changes any of
that, these tests say so before the broker-level tests fail in confusing ways.  They also test
the process helpers in ``nats_cluster`` themselves (ready signal, kill, restart on same port).
"""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats_cluster import NATS_SERVER, SKIP_REASON, NatsCluster, NatsServer

pytestmark = [
    pytest.mark.nats,
    pytest.mark.skipif(NATS_SERVER is None, reason=SKIP_REASON),
    pytest.mark.timeout(60),
]

__all__: list[str] = []


async def test_no_responders_is_immediate_on_single_server() -> None:
    async with NatsServer.start() as server:
        nc = await nats.connect(server.url, allow_reconnect=False)
        try:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            with pytest.raises(NoRespondersError):
                await nc.request("wsmq.t.r.nobody", b"x", timeout=10)
            # "at once" means: long before the 10 s request timeout
            assert loop.time() - t0 < 5
        finally:
            await nc.close()


async def test_queue_group_delivers_each_request_to_exactly_one_member_across_cluster() -> None:
    async with NatsCluster.start(3) as cluster:
        conns = [await nats.connect(u, allow_reconnect=False) for u in cluster.urls]
        try:
            got: list[int] = []

            for i, nc in enumerate(conns):

                async def handler(msg: Msg, i: int = i) -> None:
                    got.append(i)
                    await msg.respond(str(i).encode())

                await nc.subscribe("wsmq.t.r.svc", queue="wsmq.handlers", cb=handler)
                await nc.flush()
            # the cluster helper waited for interest to propagate; every request is answered
            # by one member, never by two (queue group semantics hold across routes)
            answers = [await conns[0].request("wsmq.t.r.svc", b"", timeout=5) for _ in range(60)]
            assert len(answers) == 60
            assert len(got) == 60  # no request handled twice
        finally:
            for nc in conns:
                await nc.close()


async def test_wildcards_map_one_to_one() -> None:
    async with NatsServer.start() as server:
        nc = await nats.connect(server.url, allow_reconnect=False)
        try:
            seen: list[str] = []
            done = asyncio.Event()

            async def cb(msg: Msg) -> None:
                seen.append(msg.subject)
                if msg.subject.endswith("end"):
                    done.set()

            await nc.subscribe("wsmq.t.t.a.*.c", cb=cb)
            await nc.subscribe("wsmq.t.t.x.>", cb=cb)
            for subject in ["wsmq.t.t.a.b.c", "wsmq.t.t.a.b.b.c", "wsmq.t.t.x", "wsmq.t.t.x.y.z"]:
                await nc.publish(subject, b"")
            await nc.publish("wsmq.t.t.x.end", b"")
            await asyncio.wait_for(done.wait(), 5)
            assert seen == ["wsmq.t.t.a.b.c", "wsmq.t.t.x.y.z", "wsmq.t.t.x.end"]
        finally:
            await nc.close()


async def test_restart_on_same_port_and_subscriptions_come_back() -> None:
    async with NatsServer.start() as server:
        reconnected = asyncio.Event()

        async def on_reconnect() -> None:
            reconnected.set()

        nc = await nats.connect(
            server.url,
            reconnect_time_wait=0.1,
            max_reconnect_attempts=-1,
            reconnected_cb=on_reconnect,
        )
        try:

            async def echo(msg: Msg) -> None:
                await msg.respond(msg.data)

            await nc.subscribe("wsmq.t.c.client1", cb=echo)
            await server.kill()
            assert not server.running
            await server.restart()
            await asyncio.wait_for(reconnected.wait(), 15)
            other = await nats.connect(server.url, allow_reconnect=False)
            try:
                msg = await other.request("wsmq.t.c.client1", b"hi", timeout=5)
                assert msg.data == b"hi"
            finally:
                await other.close()
        finally:
            await nc.close()
