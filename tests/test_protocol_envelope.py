"""Envelope codec: round trips, the total decoder's errors and their correlation (spec §3)."""

from __future__ import annotations

import json

import pytest
from websocketmq.errors import BadMessage
from websocketmq.protocol.envelope import (
    decode,
    encode,
    new_error,
    new_event,
    new_request,
    new_response,
)

__all__: list[str] = []


def frame(header: dict[str, object], body: object = None) -> str:
    return json.dumps({"header": header, "body": body})


def test_round_trip_uses_seed_field_names() -> None:
    req = new_request("example.echo", {"a": [1, 2]}, 5000)
    wire = json.loads(encode(req))
    assert wire["header"]["messageID"] == req.header.message_id
    assert wire["header"]["correlationID"] == req.header.correlation_id
    assert wire["header"]["ttl"] == 5000
    assert decode(encode(req)) == req


def test_response_and_error_answer_the_request() -> None:
    req = new_request("a.b", None)
    resp = new_response(req, 42)
    assert resp.header.correlation_id == resp.header.topic == req.header.correlation_id
    err = new_error(req.header.correlation_id, "NO_HANDLER", "none")
    assert err.body == {"error": {"code": "NO_HANDLER", "message": "none"}}


def test_event_body_is_always_present_on_the_wire() -> None:
    assert json.loads(encode(new_event("a.b")))["body"] is None


@pytest.mark.parametrize(
    ("text", "correlation", "answer"),
    [
        ("{", "_invalid", True),
        ("[]", "_invalid", True),
        ('"x"', "_invalid", True),
        (frame({"messageID": "m1", "type": "nope", "topic": "t", "timestamp": 1}), "m1", True),
        (frame({"messageID": "m1", "type": "event", "topic": "t"}), "m1", True),
        (frame({"messageID": 7, "type": "event", "topic": "t", "timestamp": 1}), "_invalid", True),
        (frame({"messageID": "m1", "type": "request", "topic": "t", "timestamp": 1}), "m1", True),
        (
            frame(
                {
                    "messageID": "m1",
                    "correlationID": "c1",
                    "type": "request",
                    "topic": "t",
                    "timestamp": 1,
                    "ttl": 0,
                }
            ),
            "c1",
            True,
        ),
        (
            frame(
                {
                    "messageID": "m1",
                    "correlationID": "c1",
                    "type": "request",
                    "topic": 5,
                    "timestamp": 1,
                }
            ),
            "c1",
            True,
        ),
        (frame({"messageID": "m1", "type": "response", "topic": "t", "timestamp": 1}), "m1", False),
    ],
)
def test_decoder_errors_carry_the_correlation_to_answer(
    text: str, correlation: str, answer: bool
) -> None:
    with pytest.raises(BadMessage) as info:
        decode(text)
    assert info.value.code == "BAD_MESSAGE"
    assert info.value.correlation_id == correlation
    assert info.value.answer is answer


def test_event_ignores_correlation_and_ttl_of_any_type_and_unknown_fields() -> None:
    msg = decode(
        frame(
            {
                "messageID": "m",
                "type": "event",
                "topic": "t",
                "timestamp": 1,
                "ttl": "x",
                "correlationID": 3,
                "future": {"x": 1},
            },
            [1],
        )
    )
    assert msg.header.ttl is None and msg.header.correlation_id is None and msg.body == [1]


def test_absent_body_is_null() -> None:
    msg = decode(
        json.dumps({"header": {"messageID": "m", "type": "event", "topic": "t", "timestamp": 0}})
    )
    assert msg.body is None
