"""Hypothesis round-trips with strategies derived from the schema itself (STYLE 8, 9).

``from_schema`` turns a (bundled) schema node into a strategy for the keyword subset our schemas
use, so every generated envelope is valid by construction and the test follows the schema when
it changes. Each example is encoded with ``json``, checked by jsonschema, decoded by the generated
models and by the broker's decoder, and compared with the original. Near-miss mutations of valid
envelopes (a required field dropped, a field given a wrong type) must be rejected by jsonschema
and by the broker's decoder alike.
"""

from __future__ import annotations

import json
from typing import Any

import hypothesis_profiles  # noqa: F401  (registers and loads the profiles)
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from spec_support import body_validator, envelope_validator, judge_frame
from websocketmq import models
from websocketmq.errors import ProtocolError
from websocketmq.protocol.envelope import decode

from codegen.schema import bundle

__all__: list[str] = []

SCHEMA = bundle()
DEFS: dict[str, Any] = SCHEMA["$defs"]
MAX_INT = 2**53 - 1

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_INT, max_value=MAX_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
any_json = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
"""Any JSON value whose numbers every decoder represents exactly (|int| ≤ 2^53 - 1)."""

extra_members = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda k: not k[0].islower()), any_json, max_size=2
)
"""Unknown members (names no schema uses: they never start lower-case) to test §3.4."""


def from_schema(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A strategy for values valid against ``node`` (our keyword subset only)."""
    if "$ref" in node:
        return from_schema(DEFS[node["$ref"].rsplit("/", 1)[1]])
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "oneOf" in node:
        return st.one_of([from_schema(branch) for branch in node["oneOf"]])
    kind = node.get("type")
    if kind == "string":
        if "pattern" in node:
            strategy = st.from_regex(node["pattern"], fullmatch=True)
            lo, hi = node.get("minLength", 0), node.get("maxLength", 10**9)
            return strategy.filter(lambda s: lo <= len(s) <= hi)
        return st.text(
            min_size=node.get("minLength", 0), max_size=min(node.get("maxLength", 40), 40)
        )
    if kind == "integer":
        return st.integers(node.get("minimum", -MAX_INT), node.get("maximum", MAX_INT))
    if kind == "number":
        lo = node.get("minimum")
        return st.integers(lo, MAX_INT) | st.floats(lo, 1e300, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "object":
        props: dict[str, Any] = node.get("properties", {})
        required = set(node.get("required", []))
        fixed = {k: from_schema(v) for k, v in props.items() if k in required}
        optional = {k: from_schema(v) for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(fixed, optional=optional).flatmap(
            lambda d: extra_members.map(lambda extra: {**extra, **d})
        )
    return any_json


envelopes = from_schema(SCHEMA)
MESSAGE_MODELS = {
    "event": models.EventMessage,
    "request": models.RequestMessage,
    "response": models.ResponseMessage,
    "error": models.ErrorMessage,
}


@given(envelopes)
def test_schema_strategy_roundtrips_through_every_decoder(value: dict[str, Any]) -> None:
    frame = json.dumps(value)
    assert envelope_validator().is_valid(value)
    header = value["header"]
    # generated models
    model = MESSAGE_MODELS[header["type"]]
    typed = msgspec.json.decode(frame, type=model)
    assert typed.header.messageID == header["messageID"]  # type: ignore[attr-defined]
    assert typed.header.topic == header["topic"]  # type: ignore[attr-defined]
    assert typed.header.timestamp == header["timestamp"]  # type: ignore[attr-defined]
    typed_body: Any = typed.body  # type: ignore[attr-defined]
    if header["type"] == "error":  # a typed Struct: unknown members are dropped (§3.4)
        error = value["body"]["error"]
        # §11.1: code may be absent (a seed client's thrown error, read as HANDLER_ERROR)
        assert typed_body.error.code == error.get("code", msgspec.UNSET)
        assert typed_body.error.message == error["message"]
    else:
        decoded_body = None if typed_body is msgspec.UNSET else msgspec.to_builtins(typed_body)
        assert decoded_body == value.get("body")
    # broker decoder, and its own encoding decodes back to the same message
    message = decode(frame)
    assert message.header.type == header["type"]
    assert message.header.message_id == header["messageID"]
    assert message.body == value.get("body")
    if header["type"] != "event":
        assert message.header.correlation_id == header["correlationID"]
    if header["type"] == "request":
        assert message.header.ttl == header.get("ttl")


REQUIRED_HEADER = ["messageID", "type", "topic", "timestamp"]
WRONG_VALUES = [None, 1.5, [], {}, True, ""]


@given(envelopes, st.data())
def test_near_misses_are_rejected_by_schema_and_broker(value: dict[str, Any], data: Any) -> None:
    header = dict(value["header"])
    field = data.draw(st.sampled_from([*REQUIRED_HEADER, "correlationID"]), label="field")
    if field == "correlationID" and header["type"] == "event":
        field = "messageID"  # correlationID is ignored on events: not a near miss there
    if data.draw(st.booleans(), label="drop"):
        header.pop(field, None)
    else:
        header[field] = data.draw(st.sampled_from(WRONG_VALUES), label="wrong")
    mutated = {**value, "header": header}
    frame = json.dumps(mutated)
    assert not judge_frame(frame)
    with pytest.raises(ProtocolError) as info:
        decode(frame)
    assert info.value.code == "BAD_MESSAGE"


CONTROL_BODIES = sorted(
    name for name in DEFS if name.endswith(("Body", "Result")) and name != "PingBody"
)


@pytest.mark.parametrize("name", CONTROL_BODIES)
@given(data=st.data())
def test_control_bodies_roundtrip_through_generated_models(name: str, data: Any) -> None:
    """Every control/error body the schema allows converts into its generated model and back."""
    body = data.draw(from_schema(DEFS[name]), label=name)
    assert body_validator(name).is_valid(body)
    model = getattr(models, name)
    typed = msgspec.convert(body, type=model)
    known = {k: v for k, v in body.items() if k in DEFS[name].get("properties", {})}
    assert msgspec.to_builtins(typed) == msgspec.to_builtins(msgspec.convert(known, type=model))
    for key, value in known.items():
        if not isinstance(value, dict):
            assert getattr(typed, key) == value
