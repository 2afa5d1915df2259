"""The Python client against the broker-to-client semantic vectors (spec/vectors/semantics.json).

These four vectors describe what a *client* does with frames from its broker: answer a request it
has no handler for with ``NO_HANDLER``, ignore an ``_internal.cancel`` for an unknown correlation,
drop an answer to an unknown correlation and an invalid frame — never answering either (no
loops, spec §4.5). The real broker never sends such frames on demand, so a tiny raw
``websockets`` server on 127.0.0.1:0 plays the broker: it acknowledges registration, answers
``_client.subscribe``, sends each vector frame followed by a marker request, and records every
answer. The client answers frames in order, so whatever arrives before the marker's answer is
exactly what the vector frame caused.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from spec_support import vectors
from websocketmq import connect
from websockets.asyncio.server import ServerConnection, serve

__all__: list[str] = []

ACK = {
    "brokerClientID": "fake-1",
    "status": "registered",
    "resumeToken": "token-1",
    "resumed": False,
    "protocol": "wsmq/1",
    "pingInterval": 600_000,
    "maxMessageSize": 1_048_576,
}


def _frame(kind: str, topic: str, body: Any, corr: str | None = None) -> str:
    header: dict[str, Any] = {"messageID": corr or f"f-{topic}", "type": kind, "topic": topic}
    header["timestamp"] = 0
    if corr is not None:
        header["correlationID"] = corr
    return json.dumps({"header": header, "body": body})


async def test_client_meets_the_broker_to_client_semantic_vectors() -> None:
    cases = [v for v in vectors("semantics") if v["direction"] == "broker-to-client"]
    assert [v["id"] for v in cases] == ["sem-036", "sem-037", "sem-038", "sem-039"]
    answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    peer: asyncio.Future[ServerConnection] = asyncio.get_running_loop().create_future()

    async def fake_broker(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            head = msg["header"]
            if head["topic"] == "_client.register":
                await ws.send(_frame("event", "_internal.client.registered", ACK))
                if not peer.done():
                    peer.set_result(ws)
            elif head["type"] == "request" and head["topic"] == "_client.subscribe":
                corr = head["correlationID"]
                reply = {"topic": msg["body"]["topic"], "subscribed": True}
                await ws.send(_frame("response", corr, reply, corr))
            else:
                answers.put_nowait(msg)

    async with serve(fake_broker, "127.0.0.1", 0, subprotocols=["wsmq.v1"]) as server:  # type: ignore[list-item]
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/ws", auto_reconnect=False) as client:
            await client.subscribe("vector.marker", lambda m: "marker")
            ws = await asyncio.wait_for(peer, 5)
            for n, vector in enumerate(cases):
                marker = f"marker-{n}"
                await ws.send(vector["frame"])
                await ws.send(_frame("request", "vector.marker", {}, marker))
                caused: list[dict[str, Any]] = []
                while (got := await asyncio.wait_for(answers.get(), 5))["header"].get(
                    "correlationID"
                ) != marker:
                    caused.append(got)
                assert got["header"]["type"] == "response" and got["body"] == "marker"
                expect = vector["expect"]
                if "error" in expect:
                    sent = json.loads(vector["frame"])["header"]
                    assert len(caused) == 1, (vector["id"], caused)
                    head = caused[0]["header"]
                    assert head["type"] == "error"
                    assert head["correlationID"] == head["topic"] == sent["correlationID"]
                    assert caused[0]["body"]["error"]["code"] == expect["error"]
                else:
                    assert expect == {"drop": True}
                    assert caused == [], (vector["id"], caused)
            assert client.connected  # nothing the vectors sent broke the connection
