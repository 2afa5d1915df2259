"""Topics and subscription patterns (design.md §3): validation, matching, a subscription index.

Tokens are separated by ``.``; a token is one or more characters, none of them ``.``, ``*``,
``>`` or a code point spec §5.1 excludes (controls, spaces, surrogates, U+FEFF). Patterns may
use ``*`` (exactly one token) and ``>`` (one or more tokens, last position only): NATS subject
semantics, so topics map one-to-one onto NATS subjects; except that a pattern starting with a
wildcard never matches a reserved topic (spec §5.2), so ``>`` catches no control traffic. A
topic is at most ``MAX_TOPIC_BYTES`` UTF-8 bytes and ``MAX_TOPIC_TOKENS`` tokens. The token
grammar and both limits come from the generated :mod:`.rules` (``TopicString`` in
envelope.schema.json), so this module checks exactly what the schema says. Topics starting with
``_`` are reserved for the control topics of §4.

:class:`SubscriptionIndex` is a token trie with a per-topic match cache: a publish looks up its
topic once and gets every subscriber, and repeated publishes on the same topic cost one dict hit.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Hashable, Iterator
from functools import lru_cache
from typing import Any, Generic, TypeVar

from ..errors import BadTopic
from .rules import MAX_TOPIC_BYTES, MAX_TOPIC_TOKENS, TOKEN_RE

__all__ = [
    "MAX_TOPIC_BYTES",
    "MAX_TOPIC_TOKENS",
    "HandlerEntry",
    "SubscriptionIndex",
    "is_reserved",
    "matches",
    "validate_pattern",
    "validate_topic",
]

_LITERAL_RE = re.compile(rf"{TOKEN_RE}(?:\.{TOKEN_RE})*")
_PATTERN_RE = re.compile(rf"(?:{TOKEN_RE}|\*)(?:\.(?:{TOKEN_RE}|\*))*(?:\.>)?|>")


def _check_size(topic: str, what: str) -> None:
    try:
        size = len(topic.encode())
    except UnicodeEncodeError:  # lone surrogates (JSON "\ud800") are not UTF-8
        raise BadTopic(f"{what} is not valid UTF-8") from None
    if size > MAX_TOPIC_BYTES:
        raise BadTopic(f"{what} longer than {MAX_TOPIC_BYTES} bytes")
    if topic.count(".") >= MAX_TOPIC_TOKENS:
        raise BadTopic(f"{what} has more than {MAX_TOPIC_TOKENS} tokens")


@lru_cache(maxsize=4096)
def validate_topic(topic: str) -> str:
    """Return ``topic`` if it is a valid literal topic (publish, request), else raise BadTopic."""
    if not isinstance(topic, str) or not _LITERAL_RE.fullmatch(topic):
        raise BadTopic(f"invalid topic {topic!r} (literal tokens separated by '.', no wildcards)")
    _check_size(topic, "topic")
    return topic


@lru_cache(maxsize=4096)
def validate_pattern(pattern: str) -> str:
    """Return ``pattern`` if it is a valid subscription pattern, else raise BadTopic."""
    if not isinstance(pattern, str) or not _PATTERN_RE.fullmatch(pattern):
        raise BadTopic(
            f"invalid pattern {pattern!r} ('*' matches one token, '>' one or more, last only)"
        )
    _check_size(pattern, "pattern")
    return pattern


def is_reserved(topic: str) -> bool:
    """Topics starting with ``_`` are reserved for the protocol (§3)."""
    return topic.startswith("_")


def matches(pattern: str, topic: str) -> bool:
    """Whether the literal ``topic`` matches ``pattern`` (NATS semantics, except that a
    leading wildcard never matches a reserved topic: spec §5.2)."""
    pt = pattern.split(".")
    tt = topic.split(".")
    if pt[0] in ("*", ">") and topic.startswith("_"):
        return False
    for i, p in enumerate(pt):
        if p == ">":
            return len(tt) > i
        if i >= len(tt) or (p != "*" and p != tt[i]):
            return False
    return len(pt) == len(tt)


V = TypeVar("V", bound=Hashable)


class _Node(Generic[V]):
    __slots__ = ("children", "tail", "values")

    def __init__(self) -> None:
        self.children: dict[str, _Node[V]] = {}
        self.values: dict[V, None] = {}  # insertion-ordered set: first registered first
        self.tail: dict[V, None] = {}  # values subscribed with '>' at this node


F = TypeVar("F", bound=Callable[..., Any])


class HandlerEntry(Generic[F]):
    """One handler registered on a pattern, as the broker and the client keep them in a
    :class:`SubscriptionIndex`. Hashed by its registration number and equal only to itself,
    so the same function on two patterns stays two entries; ``seq`` gives "first registered
    wins" for requests."""

    __slots__ = ("fn", "is_async", "pattern", "seq")

    def __init__(self, seq: int, pattern: str, fn: F) -> None:
        self.seq = seq
        self.pattern = pattern
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)

    def __hash__(self) -> int:
        return self.seq

    def __eq__(self, other: object) -> bool:
        return self is other


class SubscriptionIndex(Generic[V]):
    """Pattern → values, matched by literal topic; each matching value is returned once.

    Order follows the trie, not registration; callers that need "first registered wins" (request
    handlers) keep their own sequence numbers.

    The same value may be added under several patterns; :meth:`match` returns it once.
    Mutations clear the match cache, so subscribe/unsubscribe storms cost a little, publishes
    on a stable set of subscriptions cost one dict lookup.
    """

    def __init__(self, cache_size: int = 4096) -> None:
        self._root: _Node[V] = _Node()
        self._cache: dict[str, tuple[V, ...]] = {}
        self._cache_size = cache_size
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, pattern: str, value: V) -> bool:
        """Add ``value`` under ``pattern``; False if it was already there."""
        node = self._root
        tokens = pattern.split(".")
        for tok in tokens[:-1]:
            node = node.children.setdefault(tok, _Node())
        last = tokens[-1]
        if last == ">":
            bucket = node.tail
        else:
            node = node.children.setdefault(last, _Node())
            bucket = node.values
        if value in bucket:
            return False
        bucket[value] = None
        self._count += 1
        self._cache.clear()
        return True

    def remove(self, pattern: str, value: V) -> bool:
        """Remove ``value`` from ``pattern``; False if it was not there. Prunes empty nodes."""
        path: list[tuple[_Node[V], str]] = []
        node = self._root
        tokens = pattern.split(".")
        for tok in tokens[:-1]:
            child = node.children.get(tok)
            if child is None:
                return False
            path.append((node, tok))
            node = child
        last = tokens[-1]
        if last == ">":
            bucket = node.tail
        else:
            child = node.children.get(last)
            if child is None:
                return False
            path.append((node, last))
            node = child
            bucket = node.values
        if value not in bucket:
            return False
        del bucket[value]
        self._count -= 1
        self._cache.clear()
        for parent, tok in reversed(path):
            if node.children or node.values or node.tail:
                break
            del parent.children[tok]
            node = parent
        return True

    def match(self, topic: str) -> tuple[V, ...]:
        """Every value whose pattern matches the literal ``topic``, each once."""
        hit = self._cache.get(topic)
        if hit is not None:
            return hit
        found: dict[V, None] = {}
        tokens = topic.split(".")
        if topic.startswith("_"):  # spec §5.2: leading wildcards never match reserved topics
            child = self._root.children.get(tokens[0])
            if child is not None:
                self._walk(child, tokens, 1, found)
        else:
            self._walk(self._root, tokens, 0, found)
        result = tuple(found)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[topic] = result
        return result

    def _walk(self, node: _Node[V], tokens: list[str], i: int, found: dict[V, None]) -> None:
        if node.tail and i < len(tokens):
            found.update(node.tail)
        if i == len(tokens):
            found.update(node.values)
            return
        tok = tokens[i]
        child = node.children.get(tok)
        if child is not None:
            self._walk(child, tokens, i + 1, found)
        star = node.children.get("*")
        if star is not None and tok != "*":
            self._walk(star, tokens, i + 1, found)

    def patterns(self) -> Iterator[str]:
        """Every pattern that has at least one value (for re-announcing interest)."""
        yield from self._patterns(self._root, [])

    def _patterns(self, node: _Node[V], prefix: list[str]) -> Iterator[str]:
        if node.tail:
            yield ".".join([*prefix, ">"])
        if node.values and prefix:
            yield ".".join(prefix)
        for tok, child in node.children.items():
            yield from self._patterns(child, [*prefix, tok])
