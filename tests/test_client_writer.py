"""The client's coalesced writes (``websocketmq.client.writer``, issue 18) over a real broker on
127.0.0.1: with the batch, without it (the public ``websockets`` path the probe falls back to),
and mixed (a batch limit so small that frames alternate between the two paths), requests all
get their own answers and one publisher's events reach a subscriber in publish order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websocketmq.client.writer as writer_module
from websocketmq import Message, connect
from websocketmq.client.writer import FrameWriter, batching_supported
from websocketmq.testing import run_broker

__all__: list[str] = []

EVENTS = 600


async def _echo(msg: Message, _client: str | None) -> Any:
    return msg.body


async def _exercise(batch: bool) -> FrameWriter:
    """250 requests at once (under the in-flight cap of 256) and 600 ordered publishes;
    returns the publisher's writer."""
    async with run_broker(message_rate=0) as live:
        live.broker.subscribe("w.echo", _echo)
        got: list[int] = []
        done = asyncio.Event()

        def on_event(msg: Message) -> None:
            got.append(msg.body)
            if len(got) == EVENTS:
                done.set()

        sub = await connect(live.url, auto_reconnect=False)
        pub = await connect(live.url, auto_reconnect=False)
        try:
            await sub.subscribe("w.events", on_event)
            writer = pub._writer
            assert writer is not None
            writer.enabled = batch
            answers = await asyncio.gather(*(pub.request("w.echo", i, 20) for i in range(250)))
            assert answers == list(range(250))
            for i in range(EVENTS):
                await pub.publish("w.events", i)
            await asyncio.wait_for(done.wait(), 20)
            assert got == list(range(EVENTS))  # one publisher, one topic: publish order
            return writer
        finally:
            await pub.close()
            await sub.close()


async def test_batched_writes_keep_answers_and_order() -> None:
    writer = await _exercise(batch=True)
    assert writer.batched >= 250 + EVENTS  # every frame went through the batch


async def test_unbatched_fallback_keeps_answers_and_order() -> None:
    writer = await _exercise(batch=False)
    assert writer.batched == 0


async def test_frames_alternating_between_batch_and_public_path_stay_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(writer_module, "BATCH_LIMIT", 120)  # about one frame per batch
    writer = await _exercise(batch=True)
    assert 0 < writer.batched < 250 + EVENTS


async def test_the_probe_accepts_websockets_connections_and_refuses_others() -> None:
    async with run_broker() as live:
        client = await connect(live.url, auto_reconnect=False)
        try:
            assert client._ws is not None and batching_supported(client._ws)
        finally:
            await client.close()

    class Bare:
        """A connection class without the internals the batch needs."""

    assert not batching_supported(Bare())  # type: ignore[arg-type]
    assert FrameWriter(Bare()).enabled is False  # type: ignore[arg-type]
