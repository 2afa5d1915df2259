"""spec/vectors/bodies.json judged by the broker's session, not only by jsonschema (§10, §15.2).

Why: the session reads control bodies with the generated models (protocol/bodies.py); these
tests prove that what a client sends is accepted or refused by the session exactly as the vector
says, with the vector's error code, and that the bodies the session itself sends (the ack, the
pong, ``_internal.cancel``) are valid by the schema. Frames go through :meth:`receive`, as the
socket would deliver them.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from spec_support import body_validator, vectors
from websocketmq import models
from websocketmq.protocol.envelope import new_request
from websocketmq.protocol.session import (
    Answer,
    CancelRequest,
    Registered,
    Send,
    ServerSession,
    SessionConfig,
    State,
    Subscribe,
    Unsubscribe,
)

__all__: list[str] = []

BODIES = vectors("bodies")
CLIENT_SENT = {"RegisterBody", "SubscribeBody", "UnsubscribeBody", "CancelBody", "ErrorBody"}
RECEIVED = [v for v in BODIES if v["schema"] in CLIENT_SENT]


def _frame(kind: str, topic: str, body: Any, corr: str | None = None) -> str:
    header: dict[str, Any] = {"messageID": "m-1", "type": kind, "topic": topic, "timestamp": 1}
    if corr is not None:
        header["correlationID"] = corr
    return json.dumps({"header": header, "body": body})


def _session(register: bool = True) -> ServerSession[str]:
    s: ServerSession[str] = ServerSession("c-1", SessionConfig(resume_secret=b"k" * 32))
    if register:
        s.receive(_frame("event", "_client.register", {}))
    return s


def _errors(actions: list[Any]) -> list[str]:
    sent = [json.loads(a.frame) for a in actions if isinstance(a, Send)]
    return [m["body"]["error"]["code"] for m in sent if m["header"]["type"] == "error"]


def test_every_client_sent_schema_has_valid_and_invalid_vectors() -> None:
    for schema in CLIENT_SENT:
        verdicts = {v["valid"] for v in RECEIVED if v["schema"] == schema}
        assert verdicts == {True, False}, schema


@pytest.mark.parametrize("vector", RECEIVED, ids=[v["id"] for v in RECEIVED])
def test_body_vector_by_the_broker_session(vector: dict[str, Any]) -> None:
    schema, body = vector["schema"], vector["body"]
    if schema == "RegisterBody":
        s = _session(register=False)
        actions = s.receive(_frame("event", "_client.register", body))
        routed = any(isinstance(a, Registered) for a in actions)
        if not vector["valid"]:
            assert s.state is State.OPEN  # stays unregistered (spec §6.2 item 4)
    elif schema == "ErrorBody":  # a client's answer to a server→client request (spec §8.4)
        s = _session()
        request = new_request("server.ping", {}, 5000)
        s.send_request(request, "waiter")
        corr = request.header.correlation_id
        actions = s.receive(_frame("error", str(corr), body, corr))
        routed = any(isinstance(a, Answer) and a.waiter == "waiter" for a in actions)
        if not vector["valid"]:  # an invalid answer is dropped unanswered (spec §3.5 item 3)
            assert not routed and _errors(actions) == []
            return
    else:
        s = _session()
        if schema == "CancelBody":
            actions, action = s.receive(_frame("event", "_client.cancel", body)), CancelRequest
        else:
            topic = "_client.subscribe" if schema == "SubscribeBody" else "_client.unsubscribe"
            action = Subscribe if schema == "SubscribeBody" else Unsubscribe
            actions = s.receive(_frame("request", topic, body, "c-1"))
        routed = any(isinstance(a, action) for a in actions)
    if vector["valid"]:
        assert routed and _errors(actions) == [], vector["description"]
    else:
        assert not routed
        assert _errors(actions) == [vector["error"]], vector["description"]


def _body(frame: bytes) -> Any:
    return json.loads(frame)["body"]


def test_bodies_the_session_sends_are_valid_by_schema_and_model() -> None:
    """The broker-sent schemas of bodies.json, judged on what the session really produces."""
    s = _session(register=False)
    produced: dict[str, Any] = {}
    ack = s.receive(_frame("event", "_client.register", {"pageSessionID": "p-1"}))
    produced["RegisteredBody"] = _body(next(a.frame for a in ack if isinstance(a, Send)))
    pong = s.receive(_frame("request", "_client.ping", None, "c-ping"))
    produced["PongResult"] = _body(next(a.frame for a in pong if isinstance(a, Send)))
    request = new_request("server.slow", {}, 5000)
    s.send_request(request, "w")
    cancel = s.give_up(str(request.header.correlation_id), "TIMEOUT")
    assert cancel is not None
    produced["InternalCancelBody"] = _body(cancel)
    for schema, body in produced.items():
        assert body_validator(schema).is_valid(body), (schema, body)
        msgspec.convert(body, type=getattr(models, schema))
    # The rest are built by the broker, not the session; conformance case 2.9.1 validates every
    # frame the reference broker sends against the schema.
    assert {v["schema"] for v in BODIES} - CLIENT_SENT - set(produced) <= {
        "ClientPresenceBody",
        "ClientDeregisteredBody",
        "SubscribeResult",
        "UnsubscribeResult",
    }
