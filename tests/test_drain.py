"""Graceful drain (Broker.drain, docs/operations.md "Graceful shutdown"): a real ``wsmq serve
drain_app:broker`` (tests/drain_app.py) whose handler sleeps, SIGTERM in the middle of a request.

Within the graceful timeout the request's answer arrives and the process exits 0; meanwhile
``/readyz`` answers 503 ``draining`` (so a load balancer stops sending clients), new upgrades
get 503, and new requests on the connection are answered SHUTTING_DOWN at once. A request
longer than the timeout gets SHUTTING_DOWN, and the process still exits 0.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from httpget import http_get
from websocketmq import Message, ShuttingDown, connect
from websocketmq.testing import spawn_broker
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

__all__: list[str] = []

TESTS = Path(__file__).resolve().parent
"""Where drain_app.py is: the current directory of ``wsmq serve drain_app:broker``."""


async def _started(client: Any) -> asyncio.Queue[Any]:
    started: asyncio.Queue[Any] = asyncio.Queue()

    async def on_started(msg: Message) -> None:
        await started.put(msg.body)

    await client.subscribe("job.started", on_started)
    return started


async def _exit_status(proc: asyncio.subprocess.Process, within: float) -> int:
    async with asyncio.timeout(within):
        return await proc.wait()


async def test_sigterm_lets_the_request_in_flight_finish() -> None:
    args = ("drain_app:broker", "--graceful-timeout", "20")
    async with spawn_broker(*args, cwd=TESTS) as spawned:
        async with connect(spawned.url, auto_reconnect=False) as client:
            started = await _started(client)
            status, _, body = await http_get(spawned.port, "/readyz")
            assert (status.split()[1], body) == ("200", b"ready\n")
            job = asyncio.create_task(client.request("job.run", {"seconds": 2.0}, 30))
            assert await asyncio.wait_for(started.get(), 10) == {"seconds": 2.0}

            spawned.process.send_signal(signal.SIGTERM)
            # readiness fails first: the load balancer learns before anything closes
            async with asyncio.timeout(10):
                while True:
                    status, _, body = await http_get(spawned.port, "/readyz")
                    if status.split()[1] == "503":
                        break
                    await asyncio.sleep(0.05)  # the signal reaches the child asynchronously
            assert body == b"draining\n"
            assert not job.done()  # the handler is still sleeping
            with pytest.raises(InvalidStatus) as refused:
                await ws_connect(spawned.url, open_timeout=10)
            assert refused.value.response.status_code == 503
            with pytest.raises(ShuttingDown):
                await client.request("job.run", {"seconds": 0}, 10)  # new work: elsewhere

            assert await asyncio.wait_for(job, 15) == {"slept": 2.0}
        assert await _exit_status(spawned.process, 15) == 0


async def test_a_request_longer_than_the_timeout_gets_shutting_down() -> None:
    args = ("drain_app:broker", "--graceful-timeout", "0.5")
    async with spawn_broker(*args, cwd=TESTS) as spawned:
        async with connect(spawned.url, auto_reconnect=False) as client:
            started = await _started(client)
            job = asyncio.create_task(client.request("job.run", {"seconds": 60}, 90))
            await asyncio.wait_for(started.get(), 10)
            spawned.process.send_signal(signal.SIGTERM)
            with pytest.raises(ShuttingDown):
                await asyncio.wait_for(job, 15)
        assert await _exit_status(spawned.process, 15) == 0


async def test_drain_api_in_process() -> None:
    """``Broker.drain`` without the CLI: True once the request in flight is answered."""
    from websocketmq.testing import run_broker

    async with run_broker(port=0) as live:
        gate, entered = asyncio.Event(), asyncio.Event()

        @live.broker.subscribe("slow")
        async def slow(msg: Message, _: Any) -> str:
            entered.set()
            await gate.wait()
            return "done"

        async with connect(live.url, auto_reconnect=False) as client:
            job = asyncio.create_task(client.request("slow", None, 30))
            await asyncio.wait_for(entered.wait(), 10)
            assert await live.broker.drain(0.2) is False  # still running: timed out
            assert live.broker.draining
            gate.set()
            assert await live.broker.drain(10) is True
            assert await job == "done"


@pytest.mark.nats
async def test_a_cluster_node_drains_the_requests_it_runs_for_other_nodes() -> None:
    """Node A has the handler, node B (the client's) has none: B's request crosses NATS to A;
    SIGTERM on A mid-request, the answer still arrives through B, and A exits 0."""
    from nats_cluster import BrokerNode, NatsServer

    async with (
        NatsServer.start() as nats,
        BrokerNode.start(
            [nats.url], "a", ["drain_app:make_broker", "--graceful-timeout", "20"]
        ) as a,
        BrokerNode.start([nats.url], "b") as b,
        connect(b.ws_url, auto_reconnect=False) as client,
    ):
        started = await _started(client)
        job = asyncio.create_task(client.request("job.run", {"seconds": 2.0}, 30))
        assert await asyncio.wait_for(started.get(), 10) == {"seconds": 2.0}
        assert a._proc is not None
        proc = a._proc.proc
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(job, 20) == {"slept": 2.0}
        assert await _exit_status(proc, 15) == 0, a.output()
