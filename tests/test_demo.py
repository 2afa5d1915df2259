"""The seed demo: ``wsmq serve --demo`` as a subprocess, and the ping loop in-process."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime
from typing import Any

import pytest
from websocketmq import Message, connect
from websocketmq.demo import install_demo
from websocketmq.testing import run_broker, spawn_broker

__all__: list[str] = []


@dataclasses.dataclass
class TimeResp:
    CurrentTime: str


async def test_wsmq_serve_demo_answers_echo_and_time() -> None:
    async with spawn_broker("--demo") as broker:
        assert broker.url == f"ws://127.0.0.1:{broker.port}/ws"
        async with connect(broker.url) as client:
            assert await client.request("example.echo", {"message": "hi"}) == {"message": "hi"}
            resp = await client.request("time.now", type=TimeResp)
            assert datetime.fromisoformat(resp.CurrentTime).tzinfo is not None
        assert broker.process.returncode is None
    assert broker.process.returncode == 0  # SIGTERM → graceful exit 0


async def test_demo_pings_every_registered_client_and_logs_replies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="websocketmq.demo")
    async with run_broker(port=0) as live:
        loop_task = install_demo(live.broker, ping_every=0.05)
        pinged: asyncio.Queue[Any] = asyncio.Queue()

        async def on_ping(msg: Message) -> Any:
            pinged.put_nowait(msg.body)
            return {"message": "Pong from client", "echo": msg.body["message"]}

        try:
            async with connect(live.url) as client:
                await client.subscribe("server.ping", on_ping)
                body = await asyncio.wait_for(pinged.get(), 5)
                assert body["message"] == "Ping from server" and isinstance(body["timestamp"], int)
                await asyncio.wait_for(pinged.get(), 5)  # and again
        finally:
            loop_task.cancel()
    text = caplog.text
    assert "Client registered" in text and "Received ping response from client" in text
