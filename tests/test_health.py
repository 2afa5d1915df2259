"""``/healthz`` and ``/readyz`` (docs/operations.md, "Health") over real HTTP, with a real
``nats-server`` that the test stops and restarts: readiness must follow the backend.

Why: a node whose NATS connection is down still accepts clients but drops every cross-node
event; a load balancer must see that within seconds (503) and see it recover (200).
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from httpget import http_get
from nats_cluster import NATS_SERVER, SKIP_REASON, NatsServer
from websocketmq.testing import run_broker

__all__: list[str] = []

WITHIN = 5.0
"""Seconds /readyz may take to follow the backend (the issue: "within a few seconds")."""


async def _status(port: int, path: str) -> tuple[int, bytes]:
    status, _, body = await http_get(port, path)
    return int(status.split()[1]), body


async def _until(port: int, want: int, limit: float = WITHIN) -> float:
    """Poll /readyz until it answers ``want``; returns how long that took (s)."""
    start = time.monotonic()
    while True:
        code, _ = await _status(port, "/readyz")
        if code == want:
            return time.monotonic() - start
        if time.monotonic() - start > limit:
            raise AssertionError(f"/readyz did not answer {want} within {limit} s (got {code})")
        await asyncio.sleep(0.05)


async def test_memory_backend_is_ready_until_shutdown() -> None:
    async with run_broker() as live:
        assert await _status(live.port, "/healthz") == (200, b"ok\n")
        assert await _status(live.port, "/readyz") == (200, b"ready\n")
        closing = asyncio.create_task(live.broker.close())
        await closing
        assert await _status(live.port, "/readyz") == (503, b"shutting down\n")
        assert (await _status(live.port, "/healthz"))[0] == 200  # alive, just not ready


async def test_readyz_reports_draining() -> None:
    async with run_broker() as live:
        live.broker._draining = True  # what Broker.drain() sets (issue 16)
        assert await _status(live.port, "/readyz") == (503, b"draining\n")
        live.broker._draining = False
        assert await _status(live.port, "/readyz") == (200, b"ready\n")


@pytest.mark.nats
@pytest.mark.skipif(NATS_SERVER is None, reason=SKIP_REASON)
@pytest.mark.timeout(90)
async def test_readyz_follows_nats_down_and_up(caplog: pytest.LogCaptureFixture) -> None:
    from websocketmq.backends.nats import NatsBackend

    async with NatsServer.start() as nats:
        backend = NatsBackend([nats.url], reconnect_time_wait=0.1)
        async with run_broker(backend=backend) as live:
            assert await _status(live.port, "/readyz") == (200, b"ready\n")
            await nats.stop()
            took = await _until(live.port, 503)
            assert (await _status(live.port, "/readyz"))[1] == b"backend down\n"
            assert (await _status(live.port, "/healthz"))[0] == 200

            # The outage floods: 2,000 cross-node publishes fail (nats-py's reconnect buffer
            # fills). The log must stay bounded (websocketmq.logs.RepeatFilter).
            caplog.set_level(logging.WARNING, logger="websocketmq")
            for i in range(2000):
                await live.broker.publish("flood.topic", {"i": i, "pad": "x" * 1024})
            lost = backend.counters()["publish_failures"]
            lines = [r for r in caplog.records if r.name == "websocketmq.backends.nats"]
            assert lost > 100, lost  # the flood really dropped publishes…
            assert len(lines) <= 10, [r.getMessage() for r in lines]  # …in a few lines

            await nats.restart()
            back = await _until(live.port, 200, limit=WITHIN + 5)
        assert took < WITHIN and back < WITHIN + 5
