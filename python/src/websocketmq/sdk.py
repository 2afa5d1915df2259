"""Runtime support of SDKs generated from a catalogue (spec/catalogue.md §7, docs/catalogue.md).

Generated ``<Name>Client`` / ``<Name>Server`` classes are thin: each method names its
:class:`Endpoint` (topic template, body and response types, declared errors) and calls one of the
functions here, which do the work the same way for every operation:

* **Checked at the boundary.** Every body that arrives (request, event, response, server
  request) goes through :func:`load`: ``msgspec.convert(..., strict=True)`` into the generated
  Struct, which checks types, required fields, unknown fields and every constraint in one C pass
  (never jsonschema per message). A body that breaks its schema raises
  :class:`~websocketmq.errors.InvalidBody` whose ``details`` are ``{"pointer", "rule",
  "topic"}``; handlers are never called with it. Every body sent goes through :func:`dump` first,
  so a sender learns about its own mistake locally instead of from the peer.
* **Only the public Broker/Client API** (``broker.subscribe``, ``publish``,
  ``request_to_client``, ``get_client``; ``client.request``, ``client.subscribe``,
  ``client.publish``): the SDK layer is independent of how the broker is built inside.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from .errors import BadTopic, InternalError, InvalidBody, WsmqError, _Coded
from .protocol.envelope import Message, encode, new_error

if TYPE_CHECKING:
    from .broker import Broker, Subscription
    from .client import Client, ClientSubscription

__all__ = [
    "Context",
    "DeclaredError",
    "Endpoint",
    "call",
    "call_client",
    "dump",
    "handle",
    "load",
    "problem_of",
    "publish",
    "publish_from_server",
    "serve",
    "subscribe",
    "subscribe_on_server",
]

log = logging.getLogger("websocketmq.sdk")

B = TypeVar("B")
R = TypeVar("R")

_AT = re.compile(r" - at `\$(.*)`$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Object missing required field"), "required"),
    (re.compile(r"^Object contains unknown field"), "additionalProperties"),
    (re.compile(r"^Invalid enum value"), "enum"),
    (re.compile(r"^Expected `\w+`, got"), "type"),
    (re.compile(r"^Expected `str` matching regex"), "pattern"),
    (re.compile(r"^Expected `str` of length >="), "minLength"),
    (re.compile(r"^Expected `str` of length <="), "maxLength"),
    (re.compile(r"^Expected `array` of length >="), "minItems"),
    (re.compile(r"^Expected `array` of length <="), "maxItems"),
    (re.compile(r"^Expected `\w+` >= "), "minimum"),
    (re.compile(r"^Expected `\w+` <= "), "maximum"),
    (re.compile(r"^Expected `\w+` > "), "exclusiveMinimum"),
    (re.compile(r"^Expected `\w+` < "), "exclusiveMaximum"),
)
_BAD_PARAM = re.compile(r"[\s.*>\x00-\x1f\x7f]")


def problem_of(exc: msgspec.ValidationError) -> tuple[str, str, str]:
    """``(pointer, rule, text)`` for a msgspec validation error (spec/catalogue.md §7.2).

    ``pointer`` is an RFC 6901 JSON pointer into the body (``""`` is the body itself; for
    ``required`` and ``additionalProperties`` it is the object, as JSON Schema reports them);
    ``rule`` is the JSON Schema keyword that failed.
    """
    text = str(exc)
    m = _AT.search(text)
    path = m.group(1) if m else ""
    head = text[: m.start()] if m else text
    pointer = "".join("/" + (k or i) for k, i in _PATH_PART.findall(path))
    rule = next((name for pat, name in _RULES if pat.search(head)), "type")
    return pointer, rule, head


def load(body: Any, tp: Any, topic: str, what: str = "body") -> Any:
    """Check an arriving ``body`` against its generated type; raises InvalidBody."""
    try:
        return msgspec.convert(body, tp, strict=True)
    except msgspec.ValidationError as exc:
        pointer, rule, text = problem_of(exc)
        where = pointer or "the body"
        raise InvalidBody(
            f"{what} of {topic!r} breaks its schema at {where}: {text}",
            {"pointer": pointer, "rule": rule, "topic": topic},
        ) from None


def dump(value: Any, tp: Any, topic: str, what: str = "body") -> Any:
    """The JSON-ready form of an outgoing body, checked against its type first.

    Accepts the generated Struct or plain JSON data (dicts, lists); raises InvalidBody (locally)
    when it breaks the schema, so nothing invalid is ever put on the wire.
    """
    try:
        data = msgspec.to_builtins(value)
    except TypeError as exc:
        raise InvalidBody(
            f"{what} of {topic!r} cannot be encoded: {exc}",
            {"pointer": "", "rule": "type", "topic": topic},
        ) from None
    load(data, tp, topic, what)
    return data


class DeclaredError(_Coded):
    """Base of the exception classes generated for a catalogue's declared ``errors``.

    ``OutOfStock("none left")`` raised in a handler answers with code ``OUT_OF_STOCK``; the
    generated client raises the same class when that code comes back (``remote=True``). The
    constructor is that of the fixed-code errors: ``(message, details, correlation_id)``.
    """


@dataclass(frozen=True)
class Endpoint(Generic[B, R]):
    """One catalogue topic as the runtime needs it (generated, one per operation)."""

    topic: str
    """The template: ``chat.{room}.message``."""
    body: Any
    """The body's generated type (a Struct or a type alias such as ``Literal[...]``; ``B``)."""
    response: Any = None
    """The response's generated type (``R``), ``None`` for an event."""
    errors: Mapping[str, type[DeclaredError]] = field(default_factory=dict)
    params: tuple[str, ...] = ()
    _tokens: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tokens", tuple(self.topic.split(".")))

    @property
    def pattern(self) -> str:
        """Subscription pattern for every instance: parameters are ``*``."""
        return self.with_params({})

    def with_params(self, values: Mapping[str, str | None]) -> str:
        """The topic (or pattern, for parameters left ``None``) for these parameter values."""
        out = []
        for token in self._tokens:
            if token.startswith("{"):
                value = values.get(token[1:-1])
                if value is None:
                    out.append("*")
                    continue
                if not isinstance(value, str) or value == "" or _BAD_PARAM.search(value):
                    raise BadTopic(
                        f"parameter {token} of {self.topic!r} must be one topic token "
                        f"(no '.', '*', '>', whitespace or control characters): {value!r}"
                    )
                out.append(value)
            else:
                out.append(token)
        return ".".join(out)

    def topic_for(self, args: tuple[str, ...]) -> str:
        """The literal topic for positional parameter values."""
        return self.with_params(dict(zip(self.params, args, strict=True)))

    def params_of(self, topic: str) -> dict[str, str]:
        """Parameter values of a literal topic that matched :attr:`pattern`."""
        if not self.params:
            return {}
        tokens = topic.split(".")
        return {t[1:-1]: tokens[i] for i, t in enumerate(self._tokens) if t.startswith("{")}

    def declared(self, exc: WsmqError) -> WsmqError:
        """The generated exception for a declared code, else ``exc`` itself."""
        cls = self.errors.get(exc.code)
        if cls is None or isinstance(exc, cls):
            return exc
        err = cls(exc.message, exc.details, exc.correlation_id, remote=exc.remote)
        err.__cause__ = exc
        return err


@dataclass(frozen=True)
class Context:
    """What a generated server handler gets besides the body."""

    client_id: str | None
    """The sending client (``None`` for a request from server code)."""
    message: Message
    """The raw envelope."""
    params: dict[str, str] = field(default_factory=dict)
    """Values of the topic's ``{name}`` parameters."""


async def _result(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _answer(ep: Endpoint[Any, Any], result: Any, topic: str) -> Any:
    """A handler's answer, checked; a wrong one is the handler's bug: INTERNAL, not sent."""
    assert ep.response is not None
    try:
        return dump(result, ep.response, topic, "response")
    except InvalidBody as exc:
        log.error("handler for %s answered a body that breaks its schema: %s", topic, exc.message)
        raise InternalError(exc.message, exc.details) from None


# -- client side ------------------------------------------------------------------------------


async def call(
    client: Client, ep: Endpoint[B, R], args: tuple[str, ...], body: B, timeout: float | None
) -> R:
    """Client→server request: checked body out, checked response back."""
    assert ep.response is not None
    topic = ep.topic_for(args)
    data = dump(body, ep.body, topic)
    try:
        raw = await client.request(topic, data, timeout)
    except WsmqError as exc:
        raise ep.declared(exc) from exc.__cause__
    result: R = load(raw, ep.response, topic, "response")
    return result


async def publish(client: Client, ep: Endpoint[B, Any], args: tuple[str, ...], body: B) -> None:
    """Client publishes a checked event."""
    topic = ep.topic_for(args)
    await client.publish(topic, dump(body, ep.body, topic))


def _report(on_invalid: Callable[[InvalidBody], Any] | None, exc: InvalidBody) -> None:
    if on_invalid is None:
        log.warning("dropped: %s", exc.message)
    else:
        on_invalid(exc)


async def subscribe(
    client: Client,
    ep: Endpoint[B, Any],
    handler: Callable[..., Any],
    filters: Mapping[str, str | None],
    on_invalid: Callable[[InvalidBody], Any] | None,
) -> ClientSubscription:
    """Client subscribes to a server event: ``handler(body, *params)`` gets checked bodies only;
    an invalid one goes to ``on_invalid`` (default: a warning in the log) and is dropped."""

    async def on_event(msg: Message) -> None:
        try:
            body = load(msg.body, ep.body, msg.topic)
        except InvalidBody as exc:
            _report(on_invalid, exc)
            return
        await _result(handler(body, *ep.params_of(msg.topic).values()))

    return await client.subscribe(ep.with_params(filters), on_event)


async def handle(
    client: Client,
    ep: Endpoint[B, R],
    handler: Callable[..., Any],
    on_invalid: Callable[[InvalidBody], Any] | None,
) -> ClientSubscription:
    """Client answers a server→client request: an invalid request is answered INVALID_BODY
    without calling ``handler``; the handler's answer is checked before it is sent."""

    async def on_request(msg: Message) -> Any:
        try:
            body = load(msg.body, ep.body, msg.topic)
        except InvalidBody as exc:
            _report(on_invalid, exc)
            raise
        result = await _result(handler(body, *ep.params_of(msg.topic).values()))
        return _answer(ep, result, msg.topic)

    return await client.subscribe(ep.pattern, on_request)


# -- server side ------------------------------------------------------------------------------


def serve(broker: Broker, ep: Endpoint[B, R], handler: Callable[[B, Context], Any]) -> Subscription:
    """Register the server handler of a client→server request (``handler(body, ctx)``)."""

    async def finish(pending: Awaitable[Any], topic: str) -> Any:
        return _answer(ep, await pending, topic)

    # Sync on purpose: the broker runs a sync handler inline and only spawns a task for an
    # async one, so a sync application handler keeps the broker's fast path (bench.validation).
    def on_request(msg: Message, client_id: str | None) -> Any:
        body = load(msg.body, ep.body, msg.topic)  # InvalidBody: the broker answers with it
        result = handler(body, Context(client_id, msg, ep.params_of(msg.topic)))
        if inspect.isawaitable(result):
            return finish(result, msg.topic)
        return _answer(ep, result, msg.topic)

    return broker.subscribe(ep.pattern, on_request)


def subscribe_on_server(
    broker: Broker, ep: Endpoint[B, Any], handler: Callable[[B, Context], Any]
) -> Subscription:
    """Register a server handler for a client event. An invalid event is not handled: the
    publishing client (when connected to this node) gets an INVALID_BODY report whose
    ``correlationID`` is the event's ``messageID`` (spec/protocol.md §4.4)."""

    def on_event(msg: Message, client_id: str | None) -> Any:  # sync: see serve()
        try:
            body = load(msg.body, ep.body, msg.topic)
        except InvalidBody as exc:
            log.warning("dropped event from %s: %s", client_id, exc.message)
            conn = broker.get_client(client_id) if client_id else None
            if conn is not None:
                conn.send(encode(new_error(msg.header.message_id, exc)))
            return None
        return handler(body, Context(client_id, msg, ep.params_of(msg.topic)))

    return broker.subscribe(ep.pattern, on_event)


async def publish_from_server(
    broker: Broker, ep: Endpoint[B, Any], args: tuple[str, ...], body: B
) -> None:
    """Server code publishes a checked event."""
    topic = ep.topic_for(args)
    await broker.publish(topic, dump(body, ep.body, topic))


async def call_client(
    broker: Broker,
    client_id: str,
    ep: Endpoint[B, R],
    args: tuple[str, ...],
    body: B,
    timeout: float | None,
) -> R:
    """Server→client request: checked body out, checked response back."""
    assert ep.response is not None
    topic = ep.topic_for(args)
    data = dump(body, ep.body, topic)
    try:
        raw = await broker.request_to_client(client_id, topic, data, timeout)
    except WsmqError as exc:
        raise ep.declared(exc) from exc.__cause__
    result: R = load(raw, ep.response, topic, "response")
    return result
