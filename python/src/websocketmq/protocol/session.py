"""The broker side of one wsmq/1 connection, as a sans-I/O state machine (design.md §2-§4).

Feed it what the socket received (:meth:`ServerSession.receive`: a text frame as ``str``, a
binary frame as ``bytes``); it returns a list of *actions*: frames to send, a close to perform,
and events the broker must act on (publish, request, subscribe…). It never imports asyncio, never
reads the socket and keeps no futures: the I/O layer owns all that.

Rules, in the order :meth:`receive` applies them:

0. While AUTH_PENDING (first-message authentication, docs/security.md §5) the first frame must
   be a ``_client.register`` event whose body carries ``"auth"``: it becomes
   :class:`Authenticate` (credential removed from the body) and the I/O layer, having run its
   hook, calls :meth:`ServerSession.authenticated` (the frame is then processed as below) or
   :meth:`ServerSession.auth_refused`; anything else, or :meth:`ServerSession.auth_expired`, is
   ``UNAUTHENTICATED`` then close 1008 (4001 for the deadline). Nothing else happens before.
1. Nothing is processed once the session is CLOSING or CLOSED.
2. A frame over ``max_message_size`` → ``TOO_LARGE`` error, then close 1009 (spec §12).
3. A binary frame → ``BAD_MESSAGE``; the connection stays open (spec §2.2).
4. A frame nesting JSON deeper than ``limits.max_json_depth`` → ``BAD_MESSAGE``, checked on
   the raw text before decoding (docs/security.md §4: the parser recurses per level).
5. An undecodable frame → ``BAD_MESSAGE`` about it, unless it reads as response/error (§3.5).
6. An event or request over the connection's message rate → ``RATE_LIMITED``, dropped.
   Every error the client caused (2-6 and the FORBIDDEN/BAD_TOPIC/… of 7-10) is charged to
   the protocol-error budget; once it is spent: ``RATE_LIMITED`` error, then close 4029.
7. ``_client.register`` while OPEN registers (resume if the token verifies); while REGISTERED it
   is ``ALREADY_REGISTERED``. Any other message while OPEN registers implicitly: the ack is sent
   first, then the message is processed (design.md §4).
8. Events: ``_client.cancel`` → :class:`CancelRequest`; other ``_`` topics → ``FORBIDDEN``; bad
   topic → ``BAD_TOPIC``; else :class:`Publish` with ``source`` set to this client.
9. Requests: ``_client.subscribe``/``_client.unsubscribe`` → :class:`Subscribe`/
   :class:`Unsubscribe` (pattern checked; ``_`` patterns are FORBIDDEN); ``_client.ping`` is
   answered here; other ``_`` topics → FORBIDDEN; bad topic → BAD_TOPIC; else the ttl is
   defaulted/clamped and :class:`Request` is emitted.
10. Responses/errors settle the pending server→client request with that correlation exactly once
   (:class:`Answer`); late or duplicate ones are dropped; never-sent ones get
   ``UNKNOWN_CORRELATION`` (about the answer's messageID; the answer itself is not answered).
   An answer that settles nothing takes a token of the message rate (over it: a fault), and a
   duplicate or never-sent one is charged to the error budget.

Counting (``counts``, the ``wsmq_messages_received_total`` of docs/operations.md): given a dict,
the session adds one per received frame under what it found the frame to be: its envelope type
once decoded, else ``binary`` or ``other`` (not decoded: too large, too deep, not an envelope,
or arrived while CLOSING/CLOSED). The decoder is the authority on what a frame is, and counting
here costs one dict update per frame instead of a search through its text.

State transitions (state as data: :data:`TRANSITIONS`)::

    AUTH_PENDING --authenticated--> OPEN --register/any message--> REGISTERED
    (only with first-message authentication)

    AUTH_PENDING, OPEN, REGISTERED --close--> CLOSING --closed--> CLOSED
    every state --closed--> CLOSED
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from ..errors import (
    AlreadyRegistered,
    BadMessage,
    BadTopic,
    Forbidden,
    ProtocolError,
    RateLimited,
    RequestTimeout,
    TooLarge,
    Unauthenticated,
    UnknownCorrelation,
    WsmqError,
)
from ..limits import DEFAULT_LIMITS, ConnectionGuard, Limits, json_depth_exceeds, sniff_correlation
from ..models import SubscribeBody
from .bodies import read_cancel, read_register, read_subscribe, read_unsubscribe
from .envelope import INVALID_CORRELATION, Message, decode, encode, new_error, new_event, now_ms
from .envelope import new_response as _new_response
from .rpc import Lookup, PendingTable
from .tokens import issue_token, verify_token
from .topics import is_reserved, validate_topic

__all__ = [
    "TRANSITIONS",
    "Action",
    "Answer",
    "Authenticate",
    "CancelRequest",
    "Close",
    "Publish",
    "Registered",
    "Request",
    "Send",
    "ServerSession",
    "SessionConfig",
    "State",
    "Subscribe",
    "Trigger",
    "Unsubscribe",
    "too_large_frame",
]

W = TypeVar("W")
A = TypeVar("A")

TOPIC_REGISTERED = "_internal.client.registered"
TOPIC_CANCEL_OUT = "_internal.cancel"


class State(Enum):
    """Lifecycle of a connection (spec §2.3)."""

    AUTH_PENDING = "auth-pending"
    OPEN = "open"
    REGISTERED = "registered"
    CLOSING = "closing"
    CLOSED = "closed"


class Trigger(Enum):
    """What moves a session between states."""

    AUTHENTICATED = "authenticated"  # the first-message auth hook accepted the connection
    REGISTER = "register"  # explicit _client.register or implicit on the first message
    CLOSE = "close"  # we decided to close (limit, shutdown, eviction)
    CLOSED = "closed"  # the transport is gone


TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (State.AUTH_PENDING, Trigger.AUTHENTICATED): State.OPEN,
    (State.AUTH_PENDING, Trigger.CLOSE): State.CLOSING,
    (State.AUTH_PENDING, Trigger.CLOSED): State.CLOSED,
    (State.OPEN, Trigger.REGISTER): State.REGISTERED,
    (State.OPEN, Trigger.CLOSE): State.CLOSING,
    (State.OPEN, Trigger.CLOSED): State.CLOSED,
    (State.REGISTERED, Trigger.CLOSE): State.CLOSING,
    (State.REGISTERED, Trigger.CLOSED): State.CLOSED,
    (State.CLOSING, Trigger.CLOSE): State.CLOSING,
    (State.CLOSING, Trigger.CLOSED): State.CLOSED,
    (State.CLOSED, Trigger.CLOSE): State.CLOSED,
    (State.CLOSED, Trigger.CLOSED): State.CLOSED,
}
"""Every legal transition; anything else is a bug (``KeyError``)."""


@dataclass(slots=True)
class Send:
    """Send this text frame."""

    frame: bytes


@dataclass(slots=True)
class Close:
    """Close the WebSocket with this code and reason (after the frames before it)."""

    code: int
    reason: str


@dataclass(slots=True)
class Registered:
    """The client is registered (ack already in the actions); tell the registry and backend."""

    client_id: str
    page_session_id: str | None
    resumed: bool
    previous_id: str  # the ID the connection had before (differs when resumed)


@dataclass(slots=True)
class Publish:
    """A client event to route (``source`` set)."""

    message: Message


@dataclass(slots=True)
class Request:
    """A client request to route to a server handler (``source`` set, ttl defaulted/clamped)."""

    message: Message


@dataclass(slots=True)
class Subscribe:
    """A ``_client.subscribe`` request: authorize, subscribe, then :meth:`respond`."""

    message: Message
    pattern: str
    echo: bool


@dataclass(slots=True)
class Unsubscribe:
    """A ``_client.unsubscribe`` request: unsubscribe, then :meth:`respond`."""

    message: Message
    pattern: str


@dataclass(slots=True)
class CancelRequest:
    """``_client.cancel``: the client gave up on its request; cancel the handler, no answer."""

    correlation_id: str


@dataclass(slots=True)
class Answer(Generic[W]):
    """The answer (response or error) to a server→client request this session sent."""

    waiter: W
    message: Message


@dataclass(slots=True)
class Authenticate:
    """First-message authentication (rule 0): judge ``credential`` (the body's ``"auth"``,
    already removed from ``message``), then call :meth:`ServerSession.authenticated` or
    :meth:`ServerSession.auth_refused`."""

    message: Message
    credential: Any


Action = (
    Send
    | Close
    | Registered
    | Publish
    | Request
    | Subscribe
    | Unsubscribe
    | CancelRequest
    | Answer[W]
    | Authenticate
)
"""Everything :meth:`ServerSession.receive` can ask of the I/O layer (``Action[W]``)."""
Output = Send | Close
"""The actions that only write to the transport."""


@dataclass(slots=True)
class SessionConfig:
    """The broker options the protocol core needs (see ``BrokerOptions`` for the docs)."""

    resume_secret: bytes
    max_message_size: int = 1 << 20
    default_ttl_ms: int = 30_000
    max_ttl_ms: int = 300_000
    ping_interval_ms: int = 20_000
    resume_token_ttl: float = 3600.0
    registration_topic: str = "_client.register"
    limits: Limits = DEFAULT_LIMITS
    """JSON depth, message rate and protocol-error budget (websocketmq.limits)."""


def _error_frame(exc: WsmqError) -> bytes:
    return encode(new_error(exc.correlation_id or INVALID_CORRELATION, exc))


def _undecoded(frame: str | bytes) -> str:
    """How a frame the session did not decode is counted (module docstring, "Counting")."""
    return "binary" if isinstance(frame, bytes) else "other"


def too_large_frame(text: str) -> bytes:
    """The ``TOO_LARGE`` error that precedes every close 1009 (spec §12): sent by the session
    for a whole frame over the limit, and by the transport when the WebSocket layer stops a
    message early (too big, too many fragments), so every size violation reads the same."""
    return _error_frame(TooLarge(text, None, INVALID_CORRELATION))


class ServerSession(Generic[W]):
    """Broker-side protocol state of one connection; ``W`` is the I/O layer's waiter type."""

    def __init__(
        self,
        client_id: str,
        config: SessionConfig,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] | None = None,
        *,
        auth_pending: bool = False,
        counts: dict[str, int] | None = None,
    ) -> None:
        self.client_id = client_id
        self.config = config
        self.counts = counts
        """Received frames by kind (module docstring, "Counting"), or None: not counted."""
        self.state = State.AUTH_PENDING if auth_pending else State.OPEN
        self.page_session_id: str | None = None
        self.pending: PendingTable[W] = PendingTable()
        self._clock = clock
        """Wall clock: resume-token expiry (tokens cross nodes and restarts)."""
        if monotonic is None:
            monotonic = time.monotonic if clock is time.time else clock
        self.monotonic = monotonic
        """Rate limit and error budget: their buckets refill only while time moves forward,
        so a wall-clock step back would starve them (tests pass one fake clock for both)."""
        self.guard = ConnectionGuard(config.limits, monotonic())
        self._faults = 0

    # -- state -----------------------------------------------------------------------------

    def _move(self, trigger: Trigger) -> None:
        self.state = TRANSITIONS[(self.state, trigger)]

    def close(self) -> list[Close]:
        """Start closing (we decided to); callers add the close code they need."""
        self._move(Trigger.CLOSE)
        return []

    def closed(self) -> list[W]:
        """The transport is gone: returns every pending waiter, to fail with DISCONNECTED."""
        self._move(Trigger.CLOSED)
        return self.pending.drain()

    # -- input -----------------------------------------------------------------------------

    def receive(self, frame: str | bytes) -> list[Action[W]]:
        """Process one received frame and return the actions it causes (see module rules)."""
        state = self.state
        if state is State.CLOSING or state is State.CLOSED:
            self._count(_undecoded(frame))
            return []
        if state is State.AUTH_PENDING:
            return self._first_frame(frame)
        actions = self._receive(frame)
        return self._charge(actions) if self._faults else actions

    # -- first-message authentication (rule 0) ----------------------------------------------

    def _first_frame(self, frame: str | bytes) -> list[Action[W]]:
        config = self.config
        msg: Message | None = None
        if (
            isinstance(frame, str)
            and len(frame) <= config.max_message_size
            and not json_depth_exceeds(frame, config.limits.max_json_depth)
        ):
            try:
                msg = decode(frame)
            except WsmqError:
                msg = None
        self._count(msg.header.type if msg is not None else _undecoded(frame))
        body = msg.body if msg is not None else None
        if (
            msg is not None
            and msg.header.type == "event"
            and msg.header.topic == config.registration_topic
            and isinstance(body, dict)
            and "auth" in body
        ):
            return [Authenticate(msg, body.pop("auth"))]
        return list(self.auth_refused(msg))

    def authenticated(self, msg: Message) -> list[Action[W]]:
        """The hook accepted the :class:`Authenticate` message: process it as the first frame
        (nothing if the deadline passed meanwhile)."""
        if self.state is not State.AUTH_PENDING:
            return []
        self._move(Trigger.AUTHENTICATED)
        counts = self.counts
        if counts is not None:  # counted when it arrived: not again when processed now
            counts[msg.header.type] -= 1
        return self.receive(encode(msg).decode())

    def auth_refused(self, msg: Message | None) -> list[Output]:
        """The first frame did not authenticate: ``UNAUTHENTICATED``, close 1008."""
        if self.state is not State.AUTH_PENDING:
            return []
        self._move(Trigger.CLOSE)
        corr = msg.header.message_id if msg is not None else INVALID_CORRELATION
        err = Unauthenticated("authentication failed", None, corr)
        return [Send(_error_frame(err)), Close(1008, "authentication failed")]

    def auth_expired(self) -> list[Output]:
        """The authentication deadline passed: ``UNAUTHENTICATED``, close 4001."""
        if self.state is not State.AUTH_PENDING:
            return []
        self._move(Trigger.CLOSE)
        err = Unauthenticated("authentication deadline passed", None, INVALID_CORRELATION)
        return [Send(_error_frame(err)), Close(4001, "authentication deadline")]

    def registration_expired(self, deadline: float) -> list[Output]:
        """The registration deadline passed and the connection never registered (it sent
        nothing it could be registered by): ``TIMEOUT`` then close 4002 (spec §12.1), so a
        silent socket does not hold a connection slot for ever. While AUTH_PENDING the
        authentication deadline applies instead."""
        if self.state is not State.OPEN:
            return []
        self._move(Trigger.CLOSE)
        err = RequestTimeout(
            f"no registration within {deadline:g} s of connecting: send _client.register "
            "(or any message) first",
            {"reason": "registration-deadline"},
            INVALID_CORRELATION,
        )
        return [Send(_error_frame(err)), Close(4002, "registration deadline")]

    # -- faults --------------------------------------------------------------------------------

    def refuse(self, frame: bytes) -> list[Output]:
        """The I/O layer refused a client message with ``frame`` (an error it built: in-flight
        limit, duplicate correlation): charge it like a session fault (spec §12.1), so the
        actions are that Send, plus RATE_LIMITED and close 4029 once the budget is spent."""
        self._faults += 1
        return self._charge([Send(frame)])

    def _fault(self, exc: WsmqError) -> bytes:
        """The error frame for something the client did wrong, charged to its error budget."""
        self._faults += 1
        return _error_frame(exc)

    def _charge(self, actions: list[A]) -> list[A | Output]:
        """Charge this frame's faults to the error budget; spent → RATE_LIMITED, close 4029."""
        faults, self._faults = self._faults, 0
        now = self.monotonic()
        for _ in range(faults):
            if not self.guard.fault(now) and self.state is not State.CLOSING:
                self._move(Trigger.CLOSE)
                err = RateLimited(
                    f"too many protocol errors ({self.guard.errors}); closing",
                    {"reason": "error-budget"},  # spec §12.1
                    INVALID_CORRELATION,
                )
                return [*actions, Send(_error_frame(err)), Close(4029, "too many errors")]
        return list(actions)

    def _count(self, kind: str) -> None:
        """Count one received frame as ``kind`` (module docstring, "Counting")."""
        counts = self.counts
        if counts is not None:
            counts[kind] = counts.get(kind, 0) + 1

    def _receive(self, frame: str | bytes) -> list[Action[W]]:
        limit = self.config.max_message_size
        size = len(frame)
        if size > limit // 4 and isinstance(frame, str):
            size = len(frame.encode("utf-8", "surrogatepass"))
        if size > limit:
            self._count(_undecoded(frame))
            self._move(Trigger.CLOSE)
            text = f"message of {size} bytes exceeds {limit}"
            return [Send(too_large_frame(text)), Close(1009, "message too big")]
        if isinstance(frame, bytes):
            self._count("binary")
            bad = BadMessage("binary frames are not allowed; send JSON text", None, None)
            return [Send(self._fault(bad))]
        if self.guard.too_deep(frame):
            self._count("other")
            depth = self.config.limits.max_json_depth
            corr = sniff_correlation(frame) or INVALID_CORRELATION
            bad = BadMessage(f"JSON nesting depth exceeds {depth}", None, corr)
            return [Send(self._fault(bad))]
        try:
            msg = decode(frame)
        except ProtocolError as exc:
            self._count("other")
            frame_out = self._fault(exc)
            return [Send(frame_out)] if exc.answer else []
        self._count(msg.header.type)
        return self._receive_message(msg)

    def _receive_message(self, msg: Message) -> list[Action[W]]:
        header = msg.header
        if header.type in ("event", "request") and self.guard.over_rate(self.monotonic()):
            corr = header.correlation_id if header.type == "request" else header.message_id
            limited = RateLimited(
                "message rate limit exceeded; message dropped", {"reason": "message-rate"}, corr
            )
            return [Send(self._fault(limited))]
        actions: list[Action[W]] = []
        if self.state is State.OPEN:
            if header.type == "event" and header.topic == self.config.registration_topic:
                return self._register(msg)
            actions = self._register(None)
        elif header.type == "event" and header.topic == self.config.registration_topic:
            err = AlreadyRegistered(
                "this connection is already registered", None, header.message_id
            )
            return [Send(self._fault(err))]
        kind = header.type
        try:
            if kind == "event":
                actions.append(self._event(msg))
            elif kind == "request":
                actions.append(self._request(msg))
            else:
                answer = self._answer(msg)
                if answer is not None:
                    actions.append(answer)
        except WsmqError as exc:
            actions.append(Send(self._fault(exc)))
        return actions

    def _register(self, msg: Message | None) -> list[Action[W]]:
        previous = self.client_id
        resumed = False
        if msg is not None:
            try:
                body = read_register(msg.body, msg.header.message_id)
            except BadMessage as err:
                return [Send(self._fault(err))]  # stays OPEN (spec §6.2), charged
            page = body.pageSessionID
            self.page_session_id = page if isinstance(page, str) else None
            old_id = body.brokerClientID
            token = body.resumeToken
            if (
                isinstance(old_id, str)
                and isinstance(token, str)
                and old_id
                and verify_token(
                    self.config.resume_secret,
                    old_id,
                    token,
                    self._clock(),
                    self.config.resume_token_ttl,
                )
            ):
                self.client_id = old_id
                resumed = True
        self._move(Trigger.REGISTER)
        ack: dict[str, Any] = {"brokerClientID": self.client_id}
        if self.page_session_id is not None:
            ack["pageSessionID"] = self.page_session_id
        ack.update(
            status="registered",
            resumeToken=issue_token(
                self.config.resume_secret,
                self.client_id,
                self._clock(),
                self.config.resume_token_ttl,
            ),
            resumed=resumed,
            protocol="wsmq/1",
            pingInterval=self.config.ping_interval_ms,
            maxMessageSize=self.config.max_message_size,
            # spec §6.2/§12.1: announced so that clients pace themselves under the rate
            # instead of learning it from refusals charged to their error budget
            messageRate=self.config.limits.message_rate,
            messageBurst=self.config.limits.message_burst,
        )
        ack_msg = new_event(TOPIC_REGISTERED, ack)
        if msg is not None:  # spec §6.2: the ack's correlationID is the register's messageID
            ack_msg.header.correlation_id = msg.header.message_id
        frame = encode(ack_msg)
        return [
            Send(frame),
            Registered(self.client_id, self.page_session_id, resumed, previous),
        ]

    def _event(self, msg: Message) -> CancelRequest | Publish:
        header = msg.header
        topic = header.topic
        if topic == "_client.cancel":
            return CancelRequest(read_cancel(msg.body, header.message_id).correlationID)
        if is_reserved(topic):
            raise Forbidden(f"clients may not publish on {topic!r}", None, header.message_id)
        try:
            validate_topic(topic)
        except BadTopic as exc:
            exc.correlation_id = header.message_id
            raise
        header.source = self.client_id
        return Publish(msg)

    def _request(self, msg: Message) -> Send | Subscribe | Unsubscribe | Request:
        header = msg.header
        topic = header.topic
        corr = header.correlation_id
        if is_reserved(topic):
            if topic == "_client.subscribe" or topic == "_client.unsubscribe":
                return self._subscription(msg, topic == "_client.subscribe")
            if topic == "_client.ping":
                return Send(encode(_new_response(msg, {"timestamp": now_ms()})))
            raise Forbidden(f"clients may not send requests on {topic!r}", None, corr)
        try:
            validate_topic(topic)
        except BadTopic as exc:
            exc.correlation_id = corr
            raise
        ttl = header.ttl
        if ttl is None:
            header.ttl = self.config.default_ttl_ms
        elif ttl > self.config.max_ttl_ms:
            header.ttl = self.config.max_ttl_ms
        header.source = self.client_id
        return Request(msg)

    def _subscription(self, msg: Message, subscribe: bool) -> Subscribe | Unsubscribe:
        corr = msg.header.correlation_id
        read = read_subscribe if subscribe else read_unsubscribe
        body = read(msg.body, corr)  # BAD_MESSAGE, or BAD_TOPIC for a bad pattern (§7.1)
        if is_reserved(body.topic):
            raise Forbidden(f"clients may not subscribe to {body.topic!r}", None, corr)
        if isinstance(body, SubscribeBody):
            return Subscribe(msg, body.topic, body.echo is True)
        return Unsubscribe(msg, body.topic)

    def _answer(self, msg: Message) -> Answer[W] | Send | None:
        corr = msg.header.correlation_id
        assert corr is not None  # decode() guarantees it for responses and errors
        waiter = self.pending.settle(corr)
        if isinstance(waiter, Lookup):
            return self._unsettling(msg, waiter)
        return Answer(waiter, msg)

    def _unsettling(self, msg: Message, why: Lookup) -> Send | None:
        """An answer that settles nothing (spec §8.7). Unlike answers that settle a request
        (bounded by the requests the broker sent), these cost the broker work without bound,
        so each takes a token of the message rate, and one over the rate is a fault (never
        answered: §4.5). A duplicate of an answer already given is a fault in any case; a late
        answer to a request the broker gave up on (timeout, cancel) is an honest race and
        costs only its rate token (spec §12.1, rule 10 of this module)."""
        if self.guard.over_rate(self.monotonic()):
            self._faults += 1
            return None
        if why is Lookup.LATE:
            return None
        if why is Lookup.DUPLICATE:
            self._faults += 1
            return None
        corr = msg.header.correlation_id
        err = UnknownCorrelation(
            f"no request with correlationID {corr!r} was sent to you", None, msg.header.message_id
        )
        return Send(self._fault(err))

    # -- output ----------------------------------------------------------------------------

    def send_request(self, msg: Message, waiter: W) -> None:
        """Record a server→client request as pending; the caller sends its frame."""
        assert msg.header.correlation_id is not None
        self.pending.add(msg.header.correlation_id, waiter)

    def give_up(self, correlation_id: str, reason: str) -> bytes | None:
        """Forget a pending server→client request (timeout, shutdown); returns the
        ``_internal.cancel`` frame to send, or None if it was not pending."""
        if self.pending.discard(correlation_id) is None:
            return None
        body = {"correlationID": correlation_id, "reason": reason}
        return encode(new_event(TOPIC_CANCEL_OUT, body))

    def give_up_all(self, reason: str) -> list[tuple[W, bytes]]:
        """Forget every pending server→client request (shutdown): each waiter with the
        ``_internal.cancel`` frame to send the client (spec §8.8 rule 2)."""
        out: list[tuple[W, bytes]] = []
        for corr in self.pending.correlations():
            waiter = self.pending.discard(corr)
            if waiter is not None:
                body = {"correlationID": corr, "reason": reason}
                out.append((waiter, encode(new_event(TOPIC_CANCEL_OUT, body))))
        return out

    @staticmethod
    def respond(request: Message, body: Any) -> bytes:
        """The response frame to a client request."""
        return encode(_new_response(request, body))

    @staticmethod
    def fail(request: Message, exc: WsmqError) -> bytes:
        """The error frame answering a client request."""
        return encode(new_error(request.header.correlation_id, exc))
