"""Control bodies read with the generated models (spec/protocol.md §10, §15.3).

Why the generated models and not field tables: ``control.schema.json`` already says what
``_client.register``, ``_client.subscribe``, ``_client.unsubscribe`` and ``_client.cancel``
carry; ``msgspec.convert`` into the Structs that ``python -m codegen`` writes from it checks
exactly that (types, lengths, patterns; unknown members ignored, §3.4) in one C pass, so a schema
change reaches the broker by regenerating, not by editing a copy here. Control messages are not
the hot path (publishes and requests read no control body and cost what they did); measured with
``python -m bench.bodies``, a subscribe or unsubscribe costs about 1 µs more per frame than with
the old field tables (3.4 vs 2.5 µs in ``receive``: the pattern runs as the schema's regular
expression), a register or cancel the same.

Each reader raises :class:`~websocketmq.errors.BadMessage` (a body that breaks its schema) or
:class:`~websocketmq.errors.BadTopic` (a pattern that breaks §5.2: §7.1 wants ``BAD_TOPIC`` for
it, not ``BAD_MESSAGE``), about ``correlation_id``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from ..errors import BadMessage, BadTopic
from ..models import CancelBody, RegisterBody, SubscribeBody, UnsubscribeBody
from .topics import validate_pattern

__all__ = ["read_cancel", "read_register", "read_subscribe", "read_unsubscribe"]

S = TypeVar("S", bound=msgspec.Struct)


def _convert(model: type[S], body: Any, what: str, correlation_id: str | None) -> S:
    try:
        return msgspec.convert(body, type=model)
    except msgspec.ValidationError as exc:
        raise BadMessage(f"{what}: {exc}", None, correlation_id) from None


def read_register(body: Any, correlation_id: str | None) -> RegisterBody:
    """``_client.register``: a null or absent body is ``{}`` (spec §6.2 item 1)."""
    return _convert(RegisterBody, {} if body is None else body, "_client.register", correlation_id)


def read_cancel(body: Any, correlation_id: str | None) -> CancelBody:
    """``_client.cancel`` (spec §8.8)."""
    return _convert(CancelBody, body, "_client.cancel", correlation_id)


def _pattern(model: type[S], body: Any, what: str, correlation_id: str | None) -> S:
    try:
        value = msgspec.convert(body, type=model)
    except msgspec.ValidationError as exc:
        topic = body.get("topic") if isinstance(body, dict) else None
        if isinstance(topic, str):
            _check_pattern(topic, correlation_id)  # a bad pattern is BAD_TOPIC (spec §7.1)
        raise BadMessage(f"{what}: {exc}", None, correlation_id) from None
    _check_pattern(value.topic, correlation_id)  # type: ignore[attr-defined]
    return value


def _check_pattern(pattern: str, correlation_id: str | None) -> None:
    """The limits msgspec cannot express (x-maxUtf8Bytes, x-maxTokens) and a clear message."""
    try:
        validate_pattern(pattern)
    except BadTopic as exc:
        exc.correlation_id = correlation_id
        raise


def read_subscribe(body: Any, correlation_id: str | None) -> SubscribeBody:
    """``_client.subscribe`` (spec §7.1); ``echo`` stays UNSET when absent."""
    return _pattern(SubscribeBody, body, "_client.subscribe", correlation_id)


def read_unsubscribe(body: Any, correlation_id: str | None) -> UnsubscribeBody:
    """``_client.unsubscribe`` (spec §7.2)."""
    return _pattern(UnsubscribeBody, body, "_client.unsubscribe", correlation_id)
