"""Fuzz the envelope decoder and the topic validators: only documented protocol errors escape.

The decoder is total (design §1, STYLE 9): any text or bytes either decodes into a valid
envelope or raises a :class:`~websocketmq.errors.ProtocolError` subclass whose
``correlation_id`` is what the error reply must carry. A ``KeyError``, ``UnicodeError``,
``RecursionError`` or ``TypeError`` escaping would reach the broker's connection loop as an
unexpected exception, i.e. a disconnect (or worse, a dead task) driven by client input.

Examples per test: ``WSMQ_FUZZ_EXAMPLES`` (default 300); runs derandomized under CI so a failure
reproduces.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websocketmq.errors import BadMessage, BadTopic, ProtocolError
from websocketmq.limits import json_depth_exceeds
from websocketmq.protocol.envelope import INVALID_CORRELATION, Message, decode, encode
from websocketmq.protocol.topics import validate_pattern, validate_topic

__all__: list[str] = []

EXAMPLES = int(os.environ.get("WSMQ_FUZZ_EXAMPLES", "300"))
fuzz = settings(
    max_examples=EXAMPLES,
    derandomize=bool(os.environ.get("CI")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TYPES = ["event", "request", "response", "error"]


def check_total(frame: str | bytes) -> Message | ProtocolError:
    """Decode ``frame``; return the message or the documented error, fail on anything else."""
    try:
        msg = decode(frame)
    except ProtocolError as exc:
        corr = exc.correlation_id
        assert (isinstance(corr, str) and 0 < len(corr) <= 128) or corr == INVALID_CORRELATION
        assert exc.code in {"BAD_MESSAGE", "BAD_TOPIC", "TOO_LARGE"}
        return exc
    # What decodes is valid per §1.
    header = msg.header
    assert header.type in TYPES
    assert isinstance(header.message_id, str) and 0 < len(header.message_id) <= 128
    assert isinstance(header.topic, str) and 0 < len(header.topic) <= 255
    if header.type != "event":
        assert isinstance(header.correlation_id, str) and 0 < len(header.correlation_id) <= 128
    if header.ttl is not None:
        assert isinstance(header.ttl, int) and header.ttl > 0
    # and survives a round trip unchanged
    assert decode(encode(msg)) == msg
    return msg


@fuzz
@given(st.text())
@example("")
@example("null")
@example("[]")
@example('{"header": null}')
@example("\ud800")
@example('{"header":{"messageID":"a","type":"event","topic":"\\ud800"}}')
def test_arbitrary_text(frame: str) -> None:
    check_total(frame)


@fuzz
@given(st.binary())
@example(b"\xff\xfe\x00")
@example(b'{"header":{"messageID":"\xc3\x28","type":"event","topic":"t"}}')  # invalid UTF-8
def test_arbitrary_bytes(frame: bytes) -> None:
    check_total(frame)


# --- near-miss envelopes ----------------------------------------------------------------------

ids = st.text(min_size=1, max_size=20)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=10,
)


@st.composite
def valid_envelopes(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(TYPES))
    header: dict[str, Any] = {
        "messageID": draw(ids),
        "type": kind,
        "topic": draw(st.from_regex(r"[a-z]{1,8}(\.[a-z0-9]{1,8}){0,3}", fullmatch=True)),
        "timestamp": draw(st.integers(0, 2**53 - 1)),
    }
    if kind != "event" or draw(st.booleans()):
        header["correlationID"] = draw(ids)
    if kind == "request" and draw(st.booleans()):
        header["ttl"] = draw(st.integers(1, 300_000))
    envelope: dict[str, Any] = {"header": header}
    if kind == "error":  # an error's body must be an error body (spec §11.1)
        code = draw(st.from_regex(r"[A-Z][A-Z0-9_]{0,63}", fullmatch=True))
        envelope["body"] = {"error": {"code": code, "message": draw(st.text(max_size=20))}}
    elif draw(st.booleans()):
        envelope["body"] = draw(json_values)
    return envelope


HEADER_FIELDS = ["messageID", "correlationID", "type", "topic", "timestamp", "ttl", "source"]
WRONG_VALUES: list[Any] = [
    None,
    "",
    0,
    -1,
    1.5,
    True,
    [],
    {},
    "x" * 100_000,
    2**70,
    "\x00",
    "\u202e",
    [[[[[]]]]],
]


@st.composite
def near_misses(draw: st.DrawFn) -> dict[str, Any] | list[Any] | str:
    env = draw(valid_envelopes())
    header = env["header"]
    mutation = draw(
        st.sampled_from(
            ["drop", "wrong", "unknown_type", "extra", "header_type", "root_type", "deep_body"]
        )
    )
    if mutation == "drop":
        header.pop(draw(st.sampled_from(HEADER_FIELDS)), None)
    elif mutation == "wrong":
        header[draw(st.sampled_from(HEADER_FIELDS))] = draw(st.sampled_from(WRONG_VALUES))
    elif mutation == "unknown_type":
        header["type"] = draw(st.sampled_from(["Event", "publish", "", "responses", "ping"]))
    elif mutation == "extra":
        header[draw(st.text(max_size=10))] = draw(json_values)
        env[draw(st.text(max_size=10))] = draw(json_values)
    elif mutation == "header_type":
        env["header"] = draw(st.sampled_from(WRONG_VALUES))
    elif mutation == "root_type":
        return draw(st.sampled_from([[env], "envelope", 42]))  # type: ignore[return-value]
    else:
        body: Any = 1
        for _ in range(draw(st.integers(1, 400))):
            body = [body]
        env["body"] = body
    return env


@fuzz
@given(valid_envelopes())
def test_valid_envelopes_decode(envelope: dict[str, Any]) -> None:
    result = check_total(json.dumps(envelope))
    assert isinstance(result, Message), result


@fuzz
@given(near_misses(), st.booleans())
def test_near_miss_envelopes(envelope: Any, ascii_only: bool) -> None:
    check_total(json.dumps(envelope, ensure_ascii=ascii_only))


@pytest.mark.parametrize("field", HEADER_FIELDS)
@pytest.mark.parametrize("value", WRONG_VALUES, ids=repr)
def test_every_field_wrong_is_rejected_or_harmless(field: str, value: Any) -> None:
    """Table: each header field set to each bad value, on a request (correlation required)."""
    env = {
        "header": {"messageID": "m-1", "correlationID": "c-1", "type": "request", "topic": "t.a"},
        "body": None,
    }
    env["header"][field] = value
    result = check_total(json.dumps(env))
    # Only `source` (overwritten by the broker) and `timestamp` (informational int) may take
    # some of these; a required string field that is null/empty/huge/non-string must fail.
    if field in {"messageID", "type", "topic", "correlationID"}:
        assert isinstance(result, BadMessage), (field, value)
        # the error names the request's correlation ID when it is still readable (§2)
        if field != "correlationID" and field != "type":
            assert result.correlation_id == "c-1"


def test_missing_header_and_missing_fields() -> None:
    assert isinstance(check_total("{}"), BadMessage)
    for field in ("messageID", "type", "topic"):
        env: dict[str, Any] = {"header": {"messageID": "m", "type": "event", "topic": "t"}}
        del env["header"][field]
        assert isinstance(check_total(json.dumps(env)), BadMessage)
    # a request without a correlationID is rejected and the error points at its messageID
    err = check_total('{"header": {"messageID": "m-9", "type": "request", "topic": "t"}}')
    assert isinstance(err, BadMessage)
    assert err.correlation_id == "m-9"


@pytest.mark.parametrize("depth", [1_000, 10_000, 100_000])
def test_deep_nesting_is_a_bad_message_not_a_recursion_error(depth: int) -> None:
    frame = '{"header": {"messageID": "m", "type": "event", "topic": "t"}, "body": '
    frame += "[" * depth + "]" * depth + "}"
    assert json_depth_exceeds(frame, 64)  # what the broker checks first
    assert isinstance(check_total(frame), BadMessage)  # and the decoder is total regardless


def test_deep_nesting_with_little_stack_left() -> None:
    """RecursionError hits earlier when the caller is already deep; still only BadMessage."""
    frame = "[" * 300 + "]" * 300

    def recurse(n: int) -> Message | ProtocolError:
        return recurse(n - 1) if n else check_total(frame)

    limit = sys.getrecursionlimit()
    assert isinstance(recurse(limit - 400), BadMessage)


def test_topic_with_lone_surrogate_is_bad_topic() -> None:
    """Not reachable from the wire (the decoder rejects surrogates) but from server code/NATS.
    Found by this fuzz test; fixed in topics.py."""
    for validate in (validate_topic, validate_pattern):
        with pytest.raises(BadTopic):
            validate("a.\ud800")


@fuzz
@given(st.text(max_size=300, alphabet=st.characters(exclude_categories=["Cs"])))
@example("_internal.client.registered")
@example("a." * 40 + "a")
@example("é" * 200)
def test_topic_validators_total(text: str) -> None:
    for validate in (validate_topic, validate_pattern):
        try:
            assert validate(text) == text
        except BadTopic:
            continue
        raw = text.encode("utf-8", "surrogatepass")
        assert len(raw) <= 255
        assert text.count(".") < 32
        assert not any(ch.isspace() or ord(ch) < 0x20 for ch in text)
        if validate is validate_topic:
            assert "*" not in text and ">" not in text


def test_msgspec_raw_decoder_is_not_the_guard() -> None:
    """Documents the gap the depth guard closes: msgspec itself recurses on nesting."""
    with pytest.raises(RecursionError):
        msgspec.json.decode("[" * 5000 + "]" * 5000)
