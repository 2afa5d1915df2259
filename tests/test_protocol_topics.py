"""Topic rules and the subscription index (design.md §3)."""

from __future__ import annotations

import pytest
from websocketmq.errors import BadTopic
from websocketmq.protocol.topics import (
    SubscriptionIndex,
    matches,
    validate_pattern,
    validate_topic,
)

__all__: list[str] = []


@pytest.mark.parametrize("topic", ["a", "a.b", "example.echo", "_client.register", "é.ü"])
def test_valid_topics(topic: str) -> None:
    assert validate_topic(topic) == topic


@pytest.mark.parametrize(
    "topic",
    ["", ".", "a.", ".a", "a..b", "a.*", "a.>", "a b", "a\tb", "x" * 256, ".".join("a" * 33)],
)
def test_invalid_topics(topic: str) -> None:
    with pytest.raises(BadTopic):
        validate_topic(topic)


@pytest.mark.parametrize("pattern", ["a.*", "a.>", ">", "*", "*.b.>", "a.b"])
def test_valid_patterns(pattern: str) -> None:
    assert validate_pattern(pattern) == pattern


@pytest.mark.parametrize("pattern", ["a.>.b", "a*", "a.b*", "", "a..*", ">.a"])
def test_invalid_patterns(pattern: str) -> None:
    with pytest.raises(BadTopic):
        validate_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.*", "a", False),
        ("a.>", "a.b.c", True),
        ("a.>", "a", False),
        (">", "x.y", True),
        ("*.b", "a.b", True),
        ("a.b", "a.b", True),
        ("a.b", "a.c", False),
    ],
)
def test_matches_and_index_agree(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected
    index: SubscriptionIndex[str] = SubscriptionIndex()
    index.add(pattern, "v")
    assert (index.match(topic) == ("v",)) is expected


def test_index_returns_each_value_once_and_forgets_removed() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    index.add("a.*", "x")
    index.add("a.b", "x")
    index.add("a.>", "y")
    assert sorted(index.match("a.b")) == ["x", "y"]
    assert index.remove("a.*", "x")
    assert sorted(index.match("a.b")) == ["x", "y"]  # still via a.b
    assert index.remove("a.b", "x")
    assert index.match("a.b") == ("y",)
    assert not index.remove("a.b", "x")
    assert index.remove("a.>", "y")
    assert index.match("a.b") == () and len(index) == 0
