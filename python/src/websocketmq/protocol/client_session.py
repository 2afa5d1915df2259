"""The client side of one wsmq/1 connection, as sans-I/O state (spec §6, §8, §12; design.md §4).

Everything the Python client *decides* lives here, with no asyncio and no socket: the
registration frame and the rules for its ack (§6.2, resume §6.4), the pending-request table
(the core's :class:`~websocketmq.protocol.rpc.PendingTable`), what an incoming frame means
(:meth:`ClientSession.receive` returns one typed action), the rules for answering a
server→client request (§8.4, §8.8), the subscription book-keeping that survives reconnects, the
reconnect backoff (:class:`Backoff`, §12.2) and the pacing under the broker's message rate
(:class:`~websocketmq.protocol.pacing.Pacer`, §12.1). The asyncio client
(``websocketmq.client``) is glue around it: it owns the socket, the futures and the tasks, and
turns each action into I/O in one ``match``.

Waiters (``W``: what a pending request waits on) and served handles (``T``: what runs a
server→client request) are opaque here, as in the broker's session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import (
    BadMessage,
    ConnectFailed,
    HandlerError,
    NoHandler,
    ProtocolError,
    RateLimited,
    TooLarge,
    WsmqError,
    error_from_wire,
)
from .envelope import Message, decode, encode, new_error, new_event, new_request, new_response
from .pacing import Pacer
from .rpc import Lookup, PendingTable
from .rules import NO_RECONNECT_CLOSE_CODES
from .topics import HandlerEntry, SubscriptionIndex

__all__ = [
    "Backoff",
    "CancelServed",
    "ClientAction",
    "ClientSession",
    "Deliver",
    "Drop",
    "Reply",
    "Serve",
    "Settle",
    "SlowDown",
    "Subscriptions",
    "reconnects_after",
]

W = TypeVar("W")
T = TypeVar("T")
Handler = Callable[[Message], Any]
Entry = HandlerEntry[Handler]

TOPIC_REGISTER = "_client.register"
TOPIC_REGISTERED = "_internal.client.registered"
TOPIC_CANCEL_IN = "_internal.cancel"
MAX_TTL_MS = 2**53 - 1
"""The largest ttl the wire format allows (§3.2); longer timeouts are sent as this."""


# -- actions: what one received frame asks the I/O layer to do -----------------------------


@dataclass(slots=True)
class Settle(Generic[W]):
    """The answer to a pending request: resolve ``waiter`` with ``message``."""

    waiter: W
    message: Message


@dataclass(slots=True)
class Deliver:
    """An event for these handlers (registration order does not matter for events)."""

    entries: tuple[Entry, ...]
    message: Message


@dataclass(slots=True)
class Serve:
    """A server→client request for ``entry`` (the first registered match); the I/O layer runs
    it and records its handle with :meth:`ClientSession.served_start`."""

    entry: Entry
    message: Message
    correlation_id: str


@dataclass(slots=True)
class CancelServed(Generic[T]):
    """``_internal.cancel`` for a request being served: stop ``handle`` and never answer."""

    handle: T


@dataclass(slots=True)
class Reply:
    """Send this frame (an answer the session gave on its own: NO_HANDLER, RATE_LIMITED)."""

    frame: bytes


@dataclass(slots=True)
class SlowDown:
    """The broker dropped an event of ours over its message rate (``RATE_LIMITED``, reason
    ``message-rate``, §12.1): pace down (:meth:`~websocketmq.protocol.pacing.Pacer.limited`)."""


@dataclass(slots=True)
class Drop:
    """Nothing to do; ``reason`` is for the log (None: nothing worth logging)."""

    reason: str | None = None


ClientAction = Settle[W] | Deliver | Serve | CancelServed[T] | Reply | SlowDown | Drop


# -- reconnect backoff (spec §12.2) ----------------------------------------------------------


@dataclass(slots=True)
class Backoff:
    """Reconnect delays as data: full jitter over ``[cap/2, cap]``, the cap doubling per failed
    attempt from ``minimum`` up to ``maximum``; reset after every registered connection, except
    that connections closed with 4029 in a row add a ``penalty`` step each (§12.2: reconnect
    with a longer backoff)."""

    minimum: float = 0.1
    maximum: float = 10.0
    attempt: int = 0
    penalty: int = 0

    def lost(self, close_code: int | None) -> None:
        """A registered connection ended with ``close_code``."""
        self.penalty = self.penalty + 1 if close_code == 4029 else 0

    def next_window(self) -> tuple[float, float]:
        """The ``(low, high)`` bounds of the next delay (draw uniformly in between)."""
        cap = min(self.maximum, self.minimum * 2 ** (self.attempt + self.penalty))
        self.attempt += 1
        return cap / 2, cap

    def connected(self) -> None:
        """A reconnect succeeded: the next loss starts from the first step again."""
        self.attempt = 0


def reconnects_after(close_code: int | None) -> bool:
    """Whether a client reconnects by itself after this close code (spec §12.2)."""
    return close_code not in NO_RECONNECT_CLOSE_CODES


# -- subscriptions -----------------------------------------------------------------------------


@dataclass(slots=True)
class Subscriptions:
    """Handlers by pattern, with the counts that decide when the broker must be told.

    The broker is subscribed once per pattern (on its first handler) and unsubscribed when the
    last goes; ``echo`` is per pattern. The same handler on the same pattern is one entry
    (``key``), so an ``on_connect`` hook that subscribes after every reconnect does not stack.
    """

    index: SubscriptionIndex[Entry] = field(default_factory=SubscriptionIndex)
    patterns: dict[str, int] = field(default_factory=dict)
    echo: set[str] = field(default_factory=set)
    by_key: dict[tuple[str, Handler], Entry] = field(default_factory=dict)
    seq: int = 0

    def existing(self, pattern: str, handler: Handler) -> Entry | None:
        """The entry of this handler on this pattern, if subscribed already."""
        key = _key(pattern, handler)
        return None if key is None else self.by_key.get(key)

    def add(self, pattern: str, handler: Handler) -> tuple[Entry, bool]:
        """A new entry; True when it is the pattern's first (tell the broker)."""
        self.seq += 1
        entry = Entry(self.seq, pattern, handler)
        count = self.patterns.get(pattern, 0)
        self.patterns[pattern] = count + 1
        self.index.add(pattern, entry)
        key = _key(pattern, handler)
        if key is not None:
            self.by_key[key] = entry
        return entry, count == 0

    def remove(self, entry: Entry) -> bool | None:
        """Forget ``entry``: None if it was gone already, True if it was the pattern's last
        (tell the broker), False otherwise."""
        if not self.index.remove(entry.pattern, entry):
            return None
        key = _key(entry.pattern, entry.fn)
        if key is not None and self.by_key.get(key) is entry:
            del self.by_key[key]
        left = self.patterns[entry.pattern] - 1
        if left:
            self.patterns[entry.pattern] = left
            return False
        del self.patterns[entry.pattern]
        self.echo.discard(entry.pattern)
        return True

    def body(self, pattern: str) -> dict[str, Any]:
        """The ``_client.subscribe`` body for ``pattern`` (§7.2)."""
        body: dict[str, Any] = {"topic": pattern}
        if pattern in self.echo:
            body["echo"] = True
        return body


def _key(pattern: str, handler: Handler) -> tuple[str, Handler] | None:
    """The idempotency key of a subscription; None for an unhashable callable (never merged)."""
    try:
        hash(handler)
    except TypeError:
        return None
    return (pattern, handler)


# -- the session -------------------------------------------------------------------------------


class ClientSession(Generic[W, T]):
    """What one client knows and decides across its connections (one per :class:`Client`)."""

    def __init__(
        self,
        *,
        page_session_id: str | None = None,
        max_concurrent_handlers: int = 256,
        backoff: Backoff | None = None,
    ) -> None:
        self.page_session_id = page_session_id
        self.max_concurrent_handlers = max_concurrent_handlers
        self.backoff = backoff or Backoff()
        self.client_id: str | None = None
        self.resume_token: str | None = None
        self.resumed = False
        self.registration: dict[str, Any] = {}
        """The last registration ack's body (§6.2)."""
        self.max_message_size = 0
        """The broker's ``maxMessageSize`` (0: unknown, not checked)."""
        self.pending: PendingTable[W] = PendingTable()
        self.served: dict[str, T] = {}
        self.subscriptions = Subscriptions()
        self.pacer = Pacer()
        self._register_id: str | None = None

    # -- registration (§6.2, §6.4) -----------------------------------------------------------

    def register_frame(self, auth: Any = None) -> bytes:
        """The ``_client.register`` event: credential, page session, and the previous identity
        with its resume token when reconnecting."""
        body: dict[str, Any] = {}
        if auth is not None:
            body["auth"] = auth
        if self.page_session_id is not None:
            body["pageSessionID"] = self.page_session_id
        if self.client_id is not None and self.resume_token is not None:
            body["brokerClientID"] = self.client_id
            body["resumeToken"] = self.resume_token
        msg = new_event(TOPIC_REGISTER, body)
        self._register_id = msg.header.message_id
        try:
            return encode(msg)
        except Exception as exc:
            raise BadMessage(f"the auth credential cannot be encoded as JSON: {exc}") from exc

    def registered(self, frame: str | bytes, now: float, url: str = "") -> bool:
        """Read one frame while waiting for the ack: True once registered; raises the broker's
        error (``Unauthenticated`` …), or ``ConnectFailed`` (reason ``not-wsmq``) for a peer
        that does not speak wsmq/1; False: keep waiting."""
        try:
            msg = decode(frame)
        except ProtocolError as exc:
            raise ConnectFailed(
                f"{url} is not a wsmq/1 broker: its first frame is not a wsmq/1 envelope "
                f"({exc.message}); check the URL's host, port and path",
                {"url": url, "reason": "not-wsmq"},
            ) from None
        if msg.type == "error":
            raise error_from_wire(msg.body, msg.correlation_id)
        if msg.type == "event" and msg.topic == TOPIC_REGISTERED:
            ack = msg.body if isinstance(msg.body, dict) else {}
            self.registration = ack
            self.client_id = ack.get("brokerClientID")
            self.resume_token = ack.get("resumeToken")
            self.resumed = bool(ack.get("resumed"))
            size = ack.get("maxMessageSize")
            self.max_message_size = size if isinstance(size, int) and size > 0 else 0
            rate, burst = ack.get("messageRate"), ack.get("messageBurst")
            self.pacer.configure(
                rate if isinstance(rate, int | float) else None,
                burst if isinstance(burst, int | float) else None,
                now=now,
            )
            return True
        if msg.header.message_id == self._register_id:
            raise ConnectFailed(
                f"{url} is not a wsmq/1 broker: it echoed the registration back instead of "
                "acknowledging it (an echo server?); check the URL's host, port and path",
                {"url": url, "reason": "not-wsmq"},
            )
        return False

    # -- outgoing ----------------------------------------------------------------------------

    def check_size(self, frame: bytes) -> None:
        """§12.1: fail an oversize frame locally with TOO_LARGE instead of sending it (the
        broker would close the connection 1009, failing every other request in flight)."""
        limit = self.max_message_size
        if limit and len(frame) > limit:
            raise TooLarge(f"message is {len(frame)} bytes, the broker accepts {limit}")

    def publish_frame(self, topic: str, body: Any, traceparent: str | None) -> bytes:
        """An event for ``topic``, encoded and size-checked."""
        msg = new_event(topic, body)
        msg.header.traceparent = traceparent
        frame = encode_out(msg)
        self.check_size(frame)
        return frame

    def request(
        self, topic: str, body: Any, timeout: float, traceparent: str | None
    ) -> tuple[str, bytes]:
        """A request for ``topic``: its correlation ID and frame, encoded and size-checked.
        The wire ttl is an integer in 1..2^53-1 (§3.2) whatever the caller asked (``math.inf``:
        no deadline of its own); the caller keeps its own deadline."""
        ms = timeout * 1000
        ttl_ms = MAX_TTL_MS if not ms < MAX_TTL_MS else max(1, int(ms))
        msg = new_request(topic, body, ttl_ms)
        msg.header.traceparent = traceparent
        frame = encode_out(msg)
        self.check_size(frame)
        return msg.header.message_id, frame

    @staticmethod
    def cancel_frame(correlation_id: str) -> bytes:
        """``_client.cancel`` for a request the caller gave up on (§8.8.1)."""
        return encode(new_event("_client.cancel", {"correlationID": correlation_id}))

    @staticmethod
    def answer_error(reply: Message) -> WsmqError | None:
        """The exception an answer carries (None for a response)."""
        if reply.header.type == "error":
            return error_from_wire(reply.body, reply.header.correlation_id)
        return None

    @staticmethod
    def rate_limited(error: WsmqError) -> bool:
        """Whether ``error`` is the broker dropping the message over its message rate (§12.1):
        the request was never run, so it may be sent again after pacing down."""
        details = error.details
        return (
            isinstance(error, RateLimited)
            and isinstance(details, dict)
            and details.get("reason") == "message-rate"
        )

    # -- incoming ----------------------------------------------------------------------------

    def receive(self, frame: str | bytes) -> ClientAction[W, T]:
        """What one frame from the broker means (§3.5 item 4: an invalid one is dropped, never
        answered; §8.7: a late or unknown answer is dropped)."""
        try:
            msg = decode(frame)
        except ProtocolError as exc:
            return Drop(f"dropping invalid message from broker: {exc}")
        header = msg.header
        kind = header.type
        if kind == "response" or kind == "error":
            waiter = self.pending.settle(header.correlation_id or "")
            if not isinstance(waiter, Lookup):
                return Settle(waiter, msg)
            if kind == "error" and self.rate_limited(error_from_wire(msg.body)):
                return SlowDown()  # about an event of ours: the error carries its messageID
            return Drop()
        if kind == "event":
            topic = header.topic
            if topic == TOPIC_CANCEL_IN:
                body = msg.body if isinstance(msg.body, dict) else {}
                handle = self.served.pop(str(body.get("correlationID")), None)
                return Drop() if handle is None else CancelServed(handle)
            if topic.startswith("_"):
                return Drop()
            entries = self.subscriptions.index.match(topic)
            return Deliver(entries, msg) if entries else Drop()
        corr = header.correlation_id or ""
        entries = self.subscriptions.index.match(header.topic)
        if not entries:
            err = NoHandler(f"client has no handler for {header.topic!r}")
            return Reply(encode(new_error(corr, err)))
        if len(self.served) >= self.max_concurrent_handlers:
            limited = RateLimited("too many server requests in flight on this client")
            return Reply(encode(new_error(corr, limited)))
        return Serve(min(entries, key=_seq), msg, corr)

    # -- serving server→client requests (§8.4, §8.8) ----------------------------------------

    def served_start(self, correlation_id: str, handle: T) -> None:
        """A handler started for this request."""
        self.served[correlation_id] = handle

    def served_end(self, correlation_id: str, handle: T) -> None:
        """The handler ``handle`` ended (answered, failed or cancelled)."""
        if self.served.get(correlation_id) is handle:
            del self.served[correlation_id]

    @staticmethod
    def answer(request: Message, result: Any) -> Message:
        """The answer to ``request`` from a handler's return value: a ``Message`` the handler
        built as a response or error is sent as it is (readdressed), anything else is the body
        of a response."""
        corr = request.header.correlation_id or ""
        if isinstance(result, Message) and result.header.type in ("response", "error"):
            result.header.correlation_id = corr
            result.header.topic = corr
            return result
        return new_response(request, result)

    @staticmethod
    def failure(correlation_id: str, exc: BaseException) -> Message:
        """The error answer for a handler that raised: a ``WsmqError`` keeps its code, anything
        else is ``HANDLER_ERROR`` naming the exception (§11)."""
        if isinstance(exc, WsmqError):
            return new_error(correlation_id, exc)
        return new_error(correlation_id, HandlerError(f"{type(exc).__name__}: {exc}"))

    def answer_frame(self, out: Message, correlation_id: str) -> tuple[bytes, str | None]:
        """Encode a handler's answer; one that cannot be encoded or is over the broker's
        ``maxMessageSize`` becomes an error answer, so the server caller never waits it out.
        Returns the frame and, when it had to be replaced, why (for the log)."""
        try:
            frame = encode(out)
            self.check_size(frame)
            return frame, None
        except WsmqError as exc:
            return encode(new_error(correlation_id, exc)), None
        except Exception as exc:
            err = HandlerError(f"the handler's answer cannot be encoded: {exc}")
            return encode(new_error(correlation_id, err)), str(exc)

    # -- connection loss -----------------------------------------------------------------------

    def lost(self) -> tuple[list[W], list[T]]:
        """The connection went: every pending waiter (fail them with DISCONNECTED, §8.9) and
        every served handle (cancel them: the answer could not be delivered)."""
        return self.pending.drain(), list(self.served.values())


def encode_out(msg: Message) -> bytes:
    """Encode an outgoing publish or request; a body that is not JSON-encodable is the caller's
    error, reported as a typed ``BadMessage`` rather than the encoder's bare exception."""
    try:
        return encode(msg)
    except Exception as exc:
        raise BadMessage(f"the body of {msg.header.topic!r} cannot be encoded: {exc}") from exc


def _seq(entry: Entry) -> int:
    return entry.seq
