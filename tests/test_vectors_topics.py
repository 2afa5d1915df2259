"""spec/vectors/topics.json judged by every Python implementation of the topic grammar (§5.1).

Why so many judges: the grammar used to be copied by hand into the broker, the NATS backend, the
TypeScript client and the conformance strategies, and the copies disagreed on exactly these
code points (U+0080, U+0085, U+FEFF, ...). Now each one is generated from ``TopicString`` in
envelope.schema.json; these tests prove that each gives the schema's verdict: jsonschema, the
generated msgspec models, ``validate_topic``/``validate_pattern``, the broker's session over
frames, the NATS backend's subject-token check and the conformance suite's strategies. The
TypeScript guard and ``topicProblem`` are judged in test_vectors.py (through node).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from jsonschema import Draft202012Validator
from spec_support import body_validator, registry, vectors
from websocketmq import models
from websocketmq.backends.nats_subjects import Subjects
from websocketmq.errors import BadTopic, UnknownClient
from websocketmq.protocol.rules import TOPIC_EXCLUDED_RANGES
from websocketmq.protocol.session import Publish, Request, Send, ServerSession, SessionConfig
from websocketmq.protocol.session import Subscribe as SubscribeAction
from websocketmq.protocol.topics import validate_pattern, validate_topic
from wsmq_conformance.strategies import EXCLUDED_TOPIC_CHARACTERS, literal_tokens

__all__: list[str] = []

TOPICS = vectors("topics")
CODE_POINTS = [v for v in TOPICS if v.get("rule") in (None, "excluded-code-point")]
"""Vectors about which characters a token may hold (no limits), for judges without limits."""
LIMITS = ("too-many-tokens", "too-many-bytes")


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in items]


_SUBJECTS = Subjects("ns", "node")


def _token_ok(token: str) -> bool:
    """Whether the NATS backend takes ``token`` as a client ID (one subject token)."""
    try:
        _SUBJECTS.client(token, "req")
    except UnknownClient:
        return False
    return True


def _is_pattern(vector: dict[str, Any]) -> bool:
    return bool(vector["schema"] == "TopicPattern")


def test_the_vectors_cover_the_code_points_the_implementations_disagreed_on() -> None:
    """The issue's table plus U+00A0, U+2028, U+007F and a lone surrogate, each rejected."""
    rejected = {v["topic"] for v in TOPICS if not v["valid"]}
    for cp in (0x80, 0x85, 0xA0, 0x2028, 0xFEFF, 0x7F, 0xD800):
        assert f"a{chr(cp)}b" in rejected, hex(cp)
    assert len(TOPICS) >= 40 and sum(v["valid"] for v in TOPICS) >= 10


@pytest.mark.parametrize("vector", TOPICS, ids=_ids(TOPICS))
def test_topic_vector_by_jsonschema(vector: dict[str, Any]) -> None:
    """The recorded verdict is the schema's (with the wsmq extension keywords, §15.1)."""
    assert body_validator(vector["schema"]).is_valid(vector["topic"]) is vector["valid"]


@pytest.mark.parametrize("vector", CODE_POINTS, ids=_ids(CODE_POINTS))
def test_code_point_vector_by_plain_draft_2020_12(vector: dict[str, Any]) -> None:
    """The code points need no extension: any draft 2020-12 validator gives the same verdict."""
    base = "https://websocketmq.dev/spec/wsmq-1/envelope.schema.json"
    schema = {"$ref": f"{base}#/$defs/{vector['schema']}"}
    plain = Draft202012Validator(schema, registry=registry())
    assert plain.is_valid(vector["topic"]) is vector["valid"]


@pytest.mark.parametrize("vector", TOPICS, ids=_ids(TOPICS))
def test_topic_vector_by_generated_models(vector: dict[str, Any]) -> None:
    """msgspec with the generated aliases agrees, except on the two limits it cannot express
    (x-maxTokens, x-maxUtf8Bytes), which the broker checks after it (validate_pattern)."""
    model = getattr(models, vector["schema"])
    if vector["valid"] or vector["rule"] in LIMITS:
        msgspec.convert(vector["topic"], type=model)
    else:
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(vector["topic"], type=model)


@pytest.mark.parametrize("vector", TOPICS, ids=_ids(TOPICS))
def test_topic_vector_by_broker_validators(vector: dict[str, Any]) -> None:
    validate = validate_pattern if _is_pattern(vector) else validate_topic
    if vector["valid"]:
        assert validate(vector["topic"]) == vector["topic"]
    else:
        with pytest.raises(BadTopic):
            validate(vector["topic"])


def _session() -> ServerSession[str]:
    s: ServerSession[str] = ServerSession("c-1", SessionConfig(resume_secret=b"k" * 32))
    s.receive(_frame("event", "_client.register", {}))
    return s


def _frame(kind: str, topic: str, body: Any = None) -> str:
    header: dict[str, Any] = {"messageID": "m-1", "type": kind, "topic": topic, "timestamp": 1}
    if kind == "request":
        header["correlationID"] = "c-1"
    return json.dumps({"header": header, "body": body})


def _errors(actions: list[Any]) -> list[str]:
    sent = [json.loads(a.frame) for a in actions if isinstance(a, Send)]
    return [m["body"]["error"]["code"] for m in sent if m["header"]["type"] == "error"]


def _wire_code(vector: dict[str, Any]) -> set[str]:
    """What a broker answers: the vector's code; for a lone surrogate BAD_MESSAGE, since a
    frame escaping one has no UTF-8 form and is refused whole (spec §2.2 item 7)."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in vector["topic"]):
        return {"BAD_MESSAGE"}
    return {vector["error"]}


@pytest.mark.parametrize("vector", TOPICS, ids=_ids(TOPICS))
def test_topic_vector_by_the_broker_session(vector: dict[str, Any]) -> None:
    """Over frames: a TopicName as the topic of an event and of a request, a TopicPattern in
    ``_client.subscribe``: valid ones are routed, invalid ones answered BAD_TOPIC."""
    topic = vector["topic"]
    if _is_pattern(vector):
        cases = [(_frame("request", "_client.subscribe", {"topic": topic}), SubscribeAction)]
    else:
        cases = [(_frame("event", topic), Publish), (_frame("request", topic), Request)]
    for frame, action in cases:
        actions = _session().receive(frame)
        if vector["valid"]:
            assert _errors(actions) == [], vector["description"]
            assert any(isinstance(a, action) for a in actions)
        else:
            codes = _errors(actions)
            assert len(codes) == 1 and codes[0] in _wire_code(vector), (vector["id"], codes)
            assert not any(isinstance(a, action) for a in actions)


SINGLE_TOKENS = [v for v in CODE_POINTS if not _is_pattern(v) and "." not in v["topic"]]


@pytest.mark.parametrize("vector", SINGLE_TOKENS, ids=_ids(SINGLE_TOKENS))
def test_token_vector_by_the_nats_backend(vector: dict[str, Any]) -> None:
    """The NATS backend's subject-token check (client IDs as subjects) is the same grammar."""
    assert _token_ok(vector["topic"]) is vector["valid"]


def test_excluded_characters_are_the_generated_ranges() -> None:
    """The conformance copy of the rules lists the same code points as the runtime's."""
    from wsmq_conformance import rules as conformance_rules

    assert conformance_rules.TOPIC_EXCLUDED_RANGES == TOPIC_EXCLUDED_RANGES
    expected = {chr(c) for low, high in TOPIC_EXCLUDED_RANGES for c in range(low, high + 1)}
    assert set(EXCLUDED_TOPIC_CHARACTERS) == expected


def test_every_excluded_code_point_is_refused_by_broker_and_schema() -> None:
    """All of them, not only the vectors' sample: broker, schema and NATS token check."""
    schema = body_validator("TopicName")
    for char in EXCLUDED_TOPIC_CHARACTERS:
        topic = f"a{char}b"
        with pytest.raises(BadTopic):
            validate_topic(topic)
        assert not schema.is_valid(topic), f"U+{ord(char):04X}"
        assert not _token_ok(topic), f"U+{ord(char):04X}"


_TOPIC_NAME = body_validator("TopicName")


@given(literal_tokens)
def test_conformance_tokens_are_valid_for_broker_and_schema(token: str) -> None:
    """The strategy draws from the whole complement, so it would find a disagreement."""
    assert validate_topic(token) == token
    assert _TOPIC_NAME.is_valid(token)
