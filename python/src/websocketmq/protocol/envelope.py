"""The wsmq/1 envelope: msgspec Structs, a total decoder and helpers (design.md §1, §2).

:func:`decode` is *total*: any ``str`` or ``bytes`` either becomes a valid :class:`Message` or
raises :class:`~websocketmq.errors.BadMessage` / :class:`~websocketmq.errors.BadTopic` whose
``correlation_id`` is what an error envelope about that frame must carry (§2: the request's
correlationID, else the offending messageID when readable, else ``"_invalid"``). Topic *syntax*
is checked by the session, not here, because responses use the correlation ID as topic.

No per-message schema validation beyond what msgspec does while decoding into typed Structs:
that is the hot path, and msgspec's typed decode is both the parser and the validator. Its
constraints are the schema's: the header fields are typed with the generated aliases
(``models.MessageID``, ``Topic``, ``Timestamp``) and the per-type correlationID check uses the
generated ``rules.MAX_ID_LENGTH``, so no limit is written here.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Literal

import msgspec

from ..errors import BadMessage, WsmqError, valid_code
from ..models import MessageID, Timestamp, Topic
from .ids import next_id
from .rules import MAX_ID_LENGTH

__all__ = [
    "INVALID_CORRELATION",
    "TRACEPARENT_RE",
    "Envelope",
    "Header",
    "Message",
    "MessageType",
    "decode",
    "encode",
    "new_error",
    "new_event",
    "new_request",
    "new_response",
    "now_ms",
]

MessageType = Literal["event", "request", "response", "error"]
INVALID_CORRELATION = "_invalid"
"""Correlation ID of an error about a frame whose IDs could not be read (§2)."""

TRACEPARENT_RE = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-[^\s]*)?")
"""A W3C Trace Context ``traceparent`` (version-traceid-parentid-flags, spec §3.2); later
versions may append fields after a ``-``. A header value not matching it is ignored."""
_MAX_INT = 2**53 - 1  # the largest integer every language reads exactly (Ttl, Timestamp)


class Header(
    msgspec.Struct,
    omit_defaults=True,
    rename={"message_id": "messageID", "correlation_id": "correlationID"},
):
    """Envelope header; field names on the wire are the seed's camelCase (spec §3.2)."""

    message_id: str
    type: MessageType
    topic: str
    timestamp: int
    correlation_id: str | None = None
    ttl: int | None = None
    source: str | None = None
    traceparent: str | None = None
    """W3C ``traceparent`` of the span that sent this message (spec §3.2, OPTIONAL)."""


class _WireHeader(
    msgspec.Struct, rename={"message_id": "messageID", "correlation_id": "correlationID"}
):
    """What the decoder accepts: ``correlationID``/``ttl`` are checked per type afterwards,
    because on an event they must be ignored whatever their JSON type (spec §3.2)."""

    message_id: MessageID
    type: MessageType
    topic: Topic
    timestamp: Timestamp
    correlation_id: Any = msgspec.UNSET
    ttl: Any = msgspec.UNSET
    source: str | msgspec.UnsetType = msgspec.UNSET
    traceparent: Any = msgspec.UNSET


class _WireMessage(msgspec.Struct):
    header: _WireHeader
    body: Any = None


class Message(msgspec.Struct):
    """One envelope: what handlers receive and what ``request`` returns.

    ``body`` is any JSON value (``None`` when absent). The properties are shortcuts for the
    header fields handlers read most.
    """

    header: Header
    body: Any = None

    @property
    def topic(self) -> str:
        """The message's topic."""
        return self.header.topic

    @property
    def type(self) -> MessageType:
        """``event``, ``request``, ``response`` or ``error``."""
        return self.header.type

    @property
    def correlation_id(self) -> str | None:
        """Correlation ID (requests and their answers)."""
        return self.header.correlation_id

    @property
    def source(self) -> str | None:
        """Client ID of the sender, as set by the broker (``None`` for server-originated)."""
        return self.header.source


Envelope = Message
"""Alias: the spec calls it an envelope, the seed calls it a message."""

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_WireMessage)
_any_decoder = msgspec.json.Decoder()


def now_ms() -> int:
    """Milliseconds since the Unix epoch (the header's informational ``timestamp``)."""
    return time.time_ns() // 1_000_000


def encode(msg: Message) -> bytes:
    """Encode an envelope to the UTF-8 JSON of one text frame."""
    return _encoder.encode(msg)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _fallback_parse(frame: str | bytes) -> Any:
    """The frame's JSON value when the typed decoder refused it, else :data:`_NOT_JSON`.

    msgspec refuses some valid JSON (RFC 8259): a string escaping a lone surrogate
    (``"\\ud83d"``, what ``JSON.stringify`` makes of half an emoji) and numbers beyond the
    double range (``1e309``). Its untyped decoder refuses them the same way, so the IDs of such
    a frame are read with the stdlib parser, which accepts both (and, like RFC 8259 but unlike
    the stdlib default, not ``NaN``/``Infinity``). Only reached on the error path.
    """
    try:
        return _any_decoder.decode(frame)
    except (msgspec.DecodeError, RecursionError, ValueError):
        pass
    try:
        return json.loads(frame, parse_constant=_no_constant)
    except (ValueError, RecursionError, TypeError):
        return _NOT_JSON


_NOT_JSON: Any = object()


def _readable_ids(raw: Any) -> str | None:
    """Best-effort correlation for an error about an undecodable frame (§3.5 item 2), else
    ``None``; ``raw`` is :func:`_fallback_parse`'s value."""
    header = raw.get("header") if isinstance(raw, dict) else None
    if not isinstance(header, dict):
        return None
    corr = header.get("correlationID")
    if header.get("type") == "request" and _readable_id(corr):
        return str(corr)
    mid = header.get("messageID")
    return str(mid) if _readable_id(mid) else None


def _readable_id(value: Any) -> bool:
    """A 1-128 character string that can be written back: not holding a lone surrogate."""
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and not _has_surrogate(value)


def _has_surrogate(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _unreadable_json(raw: Any) -> str | None:
    """Why a JSON value the typed decoder refused has no wsmq meaning, or None if it is not
    one of those cases: the first lone surrogate or out-of-range number, with its path, so the
    sender learns what to fix (spec §2.2 items 7 and 8)."""
    stack: list[tuple[str, Any]] = [("$", raw)]
    while stack:
        path, value = stack.pop()
        if len(path) > 120:  # the sender's member names: echo a bounded amount
            path = path[:120] + "..."
        if isinstance(value, str):
            if _has_surrogate(value):
                return (
                    f"the string at {path} escapes a lone surrogate, which denotes no Unicode "
                    "text and has no UTF-8 form (spec §2.2 item 7)"
                )
        elif isinstance(value, float):
            if value != value or value in (_INF, -_INF):
                return (
                    f"the number at {path} is outside the range of a 64-bit float "
                    "(spec §2.2 item 8)"
                )
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                if _has_surrogate(key):
                    return (
                        f"a member name in {path} escapes a lone surrogate, which has no "
                        "UTF-8 form (spec §2.2 item 7)"
                    )
                stack.append((f"{path}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


_INF = float("inf")


def _bad(text: str, correlation_id: str | None, answer: bool = True) -> BadMessage:
    exc = BadMessage(text, None, correlation_id or INVALID_CORRELATION)
    exc.answer = answer
    return exc


def _is_error_body(body: Any) -> bool:
    """Whether ``body`` is an error body (spec §11.1, ``ErrorBody`` in envelope.schema.json).

    One without ``code`` is the seed clients' shape for a handler that threw
    (``{"error": {"message": "..."}}``): valid, and read as ``HANDLER_ERROR`` by
    :func:`~websocketmq.errors.error_from_wire`, the one place error bodies are read."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("message"), str):
        return False
    return "code" not in err or valid_code(err["code"])


def _readable_type(raw: Any) -> bool:
    """False when the frame's ``type`` reads as response/error: those are never answered."""
    header = raw.get("header") if isinstance(raw, dict) else None
    return not (isinstance(header, dict) and header.get("type") in ("response", "error"))


def decode(frame: str | bytes) -> Message:
    """Decode one text frame into a valid :class:`Message` or raise :class:`BadMessage`.

    Checks beyond the types (spec §3.2): ``correlationID`` is a 1-128 character string on
    request, response and error; ``ttl`` on a request is absent or an integer 1..2^53-1; both
    are ignored (dropped) on events. The raised error's ``correlation_id`` is what the error
    envelope about it must carry, and ``answer`` says whether to answer at all (§3.5).
    """
    try:
        wire = _decoder.decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError) as exc:
        raw = _fallback_parse(frame)
        if raw is _NOT_JSON:
            raise _bad(f"invalid JSON: {exc}", None) from exc
        why = _unreadable_json(raw) or f"invalid envelope: {exc}"
        raise _bad(why, _readable_ids(raw), _readable_type(raw)) from exc
    h = wire.header
    kind = h.type
    source = h.source if isinstance(h.source, str) else None
    trace = h.traceparent
    if trace is not msgspec.UNSET:  # spec §3.2: ignored unless a valid W3C traceparent
        trace = trace if type(trace) is str and TRACEPARENT_RE.fullmatch(trace) else None
    else:
        trace = None
    if kind == "event":
        header = Header(h.message_id, kind, h.topic, h.timestamp, None, None, source, trace)
        return Message(header, wire.body)
    corr = h.correlation_id
    answer = kind == "request"
    if type(corr) is not str or not 0 < len(corr) <= MAX_ID_LENGTH:
        raise _bad(
            f"correlationID (1-128 characters) is required on a {kind}", h.message_id, answer
        )
    ttl = h.ttl
    if kind != "request" or ttl is msgspec.UNSET:
        ttl = None
    elif type(ttl) is not int or not 0 < ttl <= _MAX_INT:
        raise _bad("ttl must be an integer number of milliseconds >= 1", corr)
    if kind == "error" and not _is_error_body(wire.body):
        text = 'an error body must be {"error": {"code", "message"}} (spec §11.1)'
        raise _bad(text, corr, False)
    header = Header(h.message_id, kind, h.topic, h.timestamp, corr, ttl, source, trace)
    return Message(header, wire.body)


def new_event(topic: str, body: Any = None, *, source: str | None = None) -> Message:
    """An event (publish) on ``topic``."""
    return Message(
        Header(next_id(), "event", topic, now_ms(), source=source),
        body,
    )


def new_request(
    topic: str, body: Any = None, ttl_ms: int | None = None, *, source: str | None = None
) -> Message:
    """A request on ``topic`` with a fresh correlation ID and an optional ttl in ms."""
    mid = next_id()
    return Message(
        Header(
            message_id=mid,
            type="request",
            topic=topic,
            correlation_id=mid,
            timestamp=now_ms(),
            ttl=ttl_ms,
            source=source,
        ),
        body,
    )


def new_response(request: Message, body: Any = None) -> Message:
    """The response to ``request`` carrying ``body`` (the seed's ``model.NewResponse``)."""
    corr = request.header.correlation_id or request.header.message_id
    return Message(
        Header(
            message_id=next_id(),
            type="response",
            topic=corr,
            correlation_id=corr,
            timestamp=now_ms(),
        ),
        body,
    )


def _invalid_code(exc: WsmqError) -> dict[str, Any]:
    text = f"an error with the invalid code {exc.code!r} was raised"
    return {"error": {"code": "INTERNAL", "message": text}}


def new_error(
    correlation_id: str | None,
    code: str | WsmqError,
    message: str = "",
    details: Any = None,
) -> Message:
    """An error envelope answering ``correlation_id`` (``"_invalid"`` when ``None``).

    ``code`` may be an exception, whose code, message and details are used.
    """
    if isinstance(code, WsmqError):
        # WsmqError() checks its code, but ``exc.code`` is writable: never put a code on the
        # wire that breaks §11.3 (the peer would drop the envelope and wait out its ttl)
        body = code.to_wire() if valid_code(code.code) else _invalid_code(code)
    else:
        if not valid_code(code):
            raise ValueError(f"invalid wsmq error code {code!r} (spec §11.3)")
        err: dict[str, Any] = {"code": code, "message": message or code}
        if details is not None:
            err["details"] = details
        body = {"error": err}
    corr = correlation_id or INVALID_CORRELATION
    return Message(
        Header(
            message_id=next_id(),
            type="error",
            topic=corr,
            correlation_id=corr,
            timestamp=now_ms(),
        ),
        body,
    )
