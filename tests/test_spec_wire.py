"""What the reference broker puts on the wire validates against the spec's schemas (§3, §10, §11).

Why: the vectors prove that decoders *accept* the right frames; this proves the reference broker
*emits* only frames and control bodies the schemas (and hence every other client) accept, and
that it follows the spec's correlation rules. Real broker, real socket on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from spec_support import body_validator, envelope_validator
from websocketmq.errors import RequestTimeout
from websocketmq.testing import RunningBroker
from websockets.asyncio.client import ClientConnection, connect

__all__: list[str] = []

_ids = itertools.count()


def _frame(type_: str, topic: str, body: Any = None, **header: Any) -> tuple[str, str]:
    mid = f"t-{next(_ids)}"
    h = {"messageID": mid, "type": type_, "topic": topic, "timestamp": 1764110000000, **header}
    if type_ == "request":
        h.setdefault("correlationID", mid)
    return mid, json.dumps({"header": h, "body": body})


def _valid(message: dict[str, Any], body_schema: str | None = None) -> dict[str, Any]:
    errors = [e.message for e in envelope_validator().iter_errors(message)]
    assert not errors, (message, errors[:3])
    if body_schema is not None:
        errors = [e.message for e in body_validator(body_schema).iter_errors(message["body"])]
        assert not errors, (message, errors[:3])
    return message


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(10):
        message: dict[str, Any] = json.loads(await ws.recv())
    return _valid(message)


async def _register(ws: ClientConnection, body: Any = None) -> dict[str, Any]:
    mid, frame = _frame("event", "_client.register", body if body is not None else {})
    await ws.send(frame)
    ack = _valid(await _recv(ws), "RegisteredBody")
    assert ack["header"]["topic"] == "_internal.client.registered"
    assert ack["header"].get("correlationID") in (mid, None)
    return ack


async def _call(ws: ClientConnection, topic: str, body: Any, schema: str) -> dict[str, Any]:
    mid, frame = _frame("request", topic, body)
    await ws.send(frame)
    answer = await _recv(ws)
    assert answer["header"]["type"] == "response", answer
    assert answer["header"]["correlationID"] == mid == answer["header"]["topic"]
    return _valid(answer, schema)


async def test_subprotocol_negotiation(live: RunningBroker) -> None:
    """§2.1: wsmq.v1 is selected when offered; a client offering none is accepted."""
    async with connect(live.url, subprotocols=["wsmq.v1"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "wsmq.v1"
        await _register(ws)
    async with connect(live.url) as ws:
        assert ws.subprotocol is None
        await _register(ws, {"pageSessionID": "seed-page"})


async def test_registration_ack_and_resume(live: RunningBroker) -> None:
    """§6.2, §6.4: the ack validates; a valid token resumes the ID, a forged one does not."""
    async with connect(live.url) as ws:
        ack = (await _register(ws, {"pageSessionID": "p-1"}))["body"]
        assert ack["pageSessionID"] == "p-1" and ack["status"] == "registered"
        assert ack["resumed"] is False and ack["protocol"] == "wsmq/1"
    client_id, token = ack["brokerClientID"], ack["resumeToken"]
    async with connect(live.url) as ws:
        again = (await _register(ws, {"brokerClientID": client_id, "resumeToken": token}))["body"]
        assert again["brokerClientID"] == client_id and again["resumed"] is True
    async with connect(live.url) as ws:
        # Flip the last character so the forgery always differs from the real token.
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        forged = {"brokerClientID": client_id, "resumeToken": tampered}
        other = (await _register(ws, forged))["body"]
        assert other["brokerClientID"] != client_id and other["resumed"] is False


async def test_control_responses_and_errors_validate(live: RunningBroker) -> None:
    """§7.1, §7.2, §9, §11.1: control answers and error envelopes match their schemas."""
    async with connect(live.url) as ws:
        await _register(ws)
        sub = await _call(ws, "_client.subscribe", {"topic": "chat.*"}, "SubscribeResult")
        assert sub["body"] == {"topic": "chat.*", "subscribed": True}
        unsub = await _call(ws, "_client.unsubscribe", {"topic": "chat.>"}, "UnsubscribeResult")
        assert unsub["body"]["unsubscribed"] is False
        await _call(ws, "_client.ping", {"anything": 1}, "PongResult")
        mid, frame = _frame("event", "_internal.client.registered", {})
        await ws.send(frame)
        error = _valid(await _recv(ws), "ErrorBody")
        assert error["header"]["type"] == "error"
        assert error["header"]["correlationID"] == mid == error["header"]["topic"]
        assert error["body"]["error"]["code"] == "FORBIDDEN"


async def test_delivery_carries_the_publisher_as_source(live: RunningBroker) -> None:
    """§4.1, §7.4: a delivery is a valid event whose source is the publisher's ID."""
    async with connect(live.url) as sub, connect(live.url) as pub:
        await _register(sub)
        pub_id = (await _register(pub))["body"]["brokerClientID"]
        await _call(sub, "_client.subscribe", {"topic": "chat.>"}, "SubscribeResult")
        _, frame = _frame("event", "chat.room1.msg", {"text": "hi"}, source="forged")
        await pub.send(frame)
        delivery = await _recv(sub)
        assert delivery["header"]["type"] == "event"
        assert delivery["header"]["topic"] == "chat.room1.msg"
        assert delivery["header"]["source"] == pub_id
        assert delivery["body"] == {"text": "hi"}


async def test_server_to_client_request_and_internal_cancel(live: RunningBroker) -> None:
    """§8.4, §8.8: the request a client receives validates; on timeout it gets _internal.cancel."""
    async with connect(live.url) as ws:
        client_id = (await _register(ws))["body"]["brokerClientID"]
        call = asyncio.create_task(live.broker.request_to_client(client_id, "client.add", [1, 2]))
        request = await _recv(ws)
        header = request["header"]
        assert header["type"] == "request" and header["topic"] == "client.add"
        assert isinstance(header.get("ttl"), int)
        corr = header["correlationID"]
        answer = {"messageID": "a-1", "type": "response", "topic": corr, "correlationID": corr}
        await ws.send(json.dumps({"header": {**answer, "timestamp": 1}, "body": 3}))
        assert await asyncio.wait_for(call, 10) == 3

        slow = asyncio.create_task(
            live.broker.request_to_client(client_id, "client.slow", None, 0.2)
        )
        request = await _recv(ws)
        cancel = _valid(await _recv(ws), "InternalCancelBody")
        assert cancel["header"]["topic"] == "_internal.cancel"
        assert cancel["body"] == {
            "correlationID": request["header"]["correlationID"],
            "reason": "TIMEOUT",
        }
        with pytest.raises(RequestTimeout):
            await asyncio.wait_for(slow, 10)
