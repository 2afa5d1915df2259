"""Hypothesis strategies: JSON bodies, topics and patterns, and near-miss envelopes.

Valid data is drawn from the rules of the spec (topic tokens, wildcard placement, JSON values
that every implementation can represent: integers within ±2**53, finite floats); invalid data
is a valid envelope with exactly one rule broken, so a server that accepts it is wrong about
that rule and nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from .rules import TOPIC_EXCLUDED_RANGES

__all__ = [
    "EXCLUDED_TOPIC_CHARACTERS",
    "Mutation",
    "bad_envelopes",
    "expected_code",
    "json_values",
    "literal_tokens",
    "matches",
    "pattern_and_topic",
]

SAFE_INT = 2**53 - 1

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-SAFE_INT, SAFE_INT),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=40),
)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Arbitrary JSON values (nesting stays shallow enough for any sane depth limit)."""
    return st.recursive(
        _scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(st.text(max_size=12), children, max_size=5),
        ),
        max_leaves=max_leaves,
    )


EXCLUDED_TOPIC_CHARACTERS = "".join(
    chr(c) for low, high in TOPIC_EXCLUDED_RANGES for c in range(low, high + 1)
)
"""Every code point spec §5.1 excludes from topics (generated from the schema, .rules)."""

# A token: 1+ characters, none '.', '*', '>' or excluded (spec §5.1): exactly the complement,
# so the characters implementations used to disagree on (U+0085, U+FEFF, ...) come up too.
_token_chars = st.characters(blacklist_characters=".*>" + EXCLUDED_TOPIC_CHARACTERS)
literal_tokens = st.text(_token_chars, min_size=1, max_size=8)


def matches(pattern: str, topic: str) -> bool:
    """Reference matcher (NATS subject semantics): '*' = one token, '>' = one or more, last."""
    p, t = pattern.split("."), topic.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(t) > i
        if i >= len(t) or (tok != "*" and tok != t[i]):
            return False
    return len(p) == len(t)


@st.composite
def pattern_and_topic(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A (pattern tokens, topic tokens) pair built *from* the topic, so that matches, near
    misses and the classic edge cases ('>' with no token left, '*' against a missing token)
    all come up within a few examples."""
    alphabet = st.sampled_from(["a", "b", "é"])
    topic = draw(st.lists(alphabet, min_size=1, max_size=4))
    base = [draw(st.sampled_from([t, t, "*", "b" if t != "b" else "a"])) for t in topic]
    mode = draw(st.sampled_from(["same", "gt-tail", "gt-extra", "shorter", "longer"]))
    if mode == "gt-tail":
        k = draw(st.integers(0, len(base) - 1))
        pattern = [*base[:k], ">"]
    elif mode == "gt-extra":
        pattern = [*base, ">"]
    elif mode == "shorter" and len(base) > 1:
        pattern = base[:-1]
    elif mode == "longer":
        pattern = [*base, draw(st.sampled_from(["a", "*"]))]
    else:
        pattern = base
    return pattern, topic


Mutation = tuple[str, str]  # (description, frame)


def _base(type_: str) -> dict[str, Any]:
    h: dict[str, Any] = {
        "messageID": "m-bad",
        "type": type_,
        "topic": "conformance.echo",
        "timestamp": 1764110000000,
    }
    if type_ == "request":
        h["correlationID"] = "c-bad"
    return {"header": h, "body": {"k": 1}}


_not_string: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.integers(-5, 5), st.booleans(), st.just([]), st.just({})
)


@st.composite
def bad_envelopes(draw: st.DrawFn) -> Mutation:
    """A frame that breaks exactly one envelope rule; every server MUST answer it with an error."""
    kind = draw(
        st.sampled_from(
            [
                "not-json",
                "not-object",
                "no-header",
                "header-not-object",
                "messageID",
                "type",
                "topic",
                "request-no-correlation",
                "wildcard-publish",
                "reserved-publish",
                "ttl",
                "timestamp",
                "source",
            ]
        )
    )
    env = _base(draw(st.sampled_from(["event", "request"])))
    h = env["header"]
    if kind == "not-json":
        text = draw(st.sampled_from(['{"header":', "{", "nope", '{"header": {}}}', "[1,"]))
        return kind, text
    if kind == "not-object":
        return kind, json.dumps(draw(st.one_of(_not_string, st.text(max_size=5))))
    if kind == "no-header":
        del env["header"]
    elif kind == "header-not-object":
        env["header"] = draw(_not_string.filter(lambda v: not isinstance(v, dict)))
    elif kind == "messageID":
        h["messageID"] = draw(st.one_of(_not_string, st.just(""), st.just("x" * 129)))
    elif kind == "type":
        h["type"] = draw(
            st.one_of(
                _not_string,
                st.text(max_size=8).filter(
                    lambda t: t not in ("event", "request", "response", "error")
                ),
            )
        )
    elif kind == "topic":
        h["topic"] = draw(
            st.one_of(
                _not_string,
                st.sampled_from(["", ".", "a..b", "a.", ".a", "a b", "a\tb", "x" * 256]),
                st.sampled_from(EXCLUDED_TOPIC_CHARACTERS).map(lambda c: f"a{c}b"),
            )
        )
    elif kind == "request-no-correlation":
        h["type"] = "request"
        h.pop("correlationID", None)
        if draw(st.booleans()):
            h["correlationID"] = draw(st.one_of(_not_string, st.just("")))
    elif kind == "wildcard-publish":
        h["type"] = draw(st.sampled_from(["event", "request"]))
        h["correlationID"] = "c-bad"
        h["topic"] = draw(st.sampled_from(["a.*", "a.>", "*", ">", "a.*.b"]))
    elif kind == "reserved-publish":
        h["type"] = "event"
        h["topic"] = draw(st.sampled_from(["_x", "_internal.client.registered", "_client.nope"]))
    elif kind == "ttl":
        h["type"] = "request"
        h["correlationID"] = "c-bad"
        h["ttl"] = draw(st.one_of(st.integers(-1000, 0), st.just("5000"), st.just(1.5)))
    elif kind == "timestamp":
        if draw(st.booleans()):
            del h["timestamp"]
        else:
            h["timestamp"] = draw(
                st.one_of(
                    st.none(),
                    st.just("1764110000000"),
                    st.just(-1),
                    st.just(2**53),
                    st.just(1.5),
                    st.just([]),
                )
            )
    elif kind == "source":
        h["source"] = draw(_not_string.filter(lambda v: v is not None))
    if kind != "header-not-object" and "header" in env:
        env["header"] = h
    return kind, json.dumps(env)


def expected_code(kind: str, frame: str) -> str:
    """The error code the spec names for a :func:`bad_envelopes` frame: shape problems are
    BAD_MESSAGE (§3.5, including a topic that is not a 1-255 character string, and one escaping
    a lone surrogate, §2.2 item 7), grammar problems of a well-shaped topic BAD_TOPIC (§5.1),
    reserved topics FORBIDDEN (§5.3)."""
    if kind == "wildcard-publish":
        return "BAD_TOPIC"
    if kind == "reserved-publish":
        return "FORBIDDEN"
    if kind == "topic":
        topic = json.loads(frame)["header"]["topic"]
        if isinstance(topic, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in topic):
            return "BAD_MESSAGE"  # a lone surrogate refuses the whole frame (§2.2 item 7)
        if isinstance(topic, str) and 1 <= len(topic) <= 255:
            return "BAD_TOPIC"
    return "BAD_MESSAGE"
