"""spec/vectors/semantics.json (client-to-broker) against the reference broker over a real socket.

Why a barrier instead of a wait: after the vector's frame the test sends a ``_client.ping``
request; the broker handles a connection's frames in order, so every answer to the vector's
frame arrives before the ping's response. Whatever arrived in between is the outcome: an error
envelope with the expected code, or no error at all (accept / drop). Broker-to-client vectors
describe client behaviour and are exercised by the client test suites.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from spec_support import vectors
from websocketmq.testing import run_broker
from websockets.asyncio.client import ClientConnection, connect

__all__: list[str] = []

C2B = [v for v in vectors("semantics") if v["direction"] == "client-to-broker"]
_barriers = itertools.count()


async def _until_barrier(ws: ClientConnection) -> list[dict[str, Any]]:
    """Send a ping request and return every envelope received before its response."""
    corr = f"barrier-{next(_barriers)}"
    await ws.send(
        json.dumps(
            {
                "header": {
                    "messageID": corr,
                    "correlationID": corr,
                    "type": "request",
                    "topic": "_client.ping",
                    "timestamp": 0,
                    "ttl": 10_000,
                },
                "body": None,
            }
        )
    )
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while True:
            message = json.loads(await ws.recv())
            header = message["header"]
            if header.get("correlationID") == corr and header["type"] in ("response", "error"):
                assert header["type"] == "response", message
                return received
            received.append(message)


async def _first_error_code(ws: ClientConnection) -> str:
    """The code of the next error envelope (other envelopes, e.g. the ack, are skipped)."""
    async with asyncio.timeout(10):
        while True:
            message = json.loads(await ws.recv())
            if message["header"]["type"] == "error":
                code: str = message["body"]["error"]["code"]
                return code


def _error_codes(envelopes: list[dict[str, Any]]) -> list[str]:
    return [e["body"]["error"]["code"] for e in envelopes if e["header"]["type"] == "error"]


@pytest.mark.parametrize("vector", C2B, ids=[v["id"] for v in C2B])
async def test_semantic_vector_against_reference_broker(vector: dict[str, Any]) -> None:
    async with (
        run_broker() as broker,
        connect(broker.url, subprotocols=["wsmq.v1"]) as ws,  # type: ignore[list-item]
    ):
        setup = vector.get("setup", [])
        for frame in setup:
            await ws.send(frame)
        if setup:  # a barrier would register the connection implicitly (§6.3)
            await _until_barrier(ws)
        await ws.send(vector["frame"])
        expect = vector["expect"]
        if "error" in expect:
            # Requests are routed asynchronously, so the error may follow a later barrier:
            # wait for the first error envelope instead.
            assert await _first_error_code(ws) == expect["error"], vector["description"]
        else:
            assert _error_codes(await _until_barrier(ws)) == [], vector["description"]
