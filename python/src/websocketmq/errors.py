"""One exception tree for everything WebSocketMQ raises (design.md §5).

Every exception carries the wire ``code`` it maps to, a human ``message``, optional ``details``
(any JSON value) and, when known, the ``correlation_id`` of the request it concerns, so an error
caught on one side can be put on the wire unchanged and rebuilt on the other side::

    WsmqError(code, message, details, correlation_id)
    ├── ProtocolError            a frame we received could not be accepted (local check)
    │   ├── BadMessage           BAD_MESSAGE   malformed JSON, bad envelope, binary frame
    │   ├── BadTopic             BAD_TOPIC     invalid topic or pattern
    │   └── TooLarge             TOO_LARGE     frame over the size limit
    ├── RemoteError              an error envelope with an application-defined code
    ├── NoHandler                NO_HANDLER    nobody serves that topic
    ├── HandlerError             HANDLER_ERROR the handler raised
    ├── InvalidBody              INVALID_BODY  a body breaks its catalogue schema
    ├── RequestTimeout           TIMEOUT       no answer within the ttl
    ├── Cancelled                CANCELLED     the caller gave up
    ├── Disconnected             DISCONNECTED  the peer a request waits on went away
    ├── UnknownClient            UNKNOWN_CLIENT no connected client has that ID
    ├── UnknownCorrelation       UNKNOWN_CORRELATION an answer to a request never sent to you
    ├── Forbidden                FORBIDDEN     reserved topic or denied by ``authorize``
    ├── Unauthenticated          UNAUTHENTICATED
    ├── AlreadyRegistered        ALREADY_REGISTERED
    ├── RateLimited              RATE_LIMITED  too many requests in flight / messages per second
    ├── ShuttingDown             SHUTTING_DOWN the broker is closing
    ├── InternalError            INTERNAL      a bug on the other side
    ├── ConnectionClosed         DISCONNECTED  the local connection is closed (client side)
    └── ConnectFailed            DISCONNECTED  ``connect()`` could not connect or register

An error envelope received from the peer is rebuilt with :func:`error_from_wire`: known codes give
the class above (so ``except NoHandler`` works whichever side raised it) with ``remote=True``;
unknown, application-defined codes give :class:`RemoteError`. Handlers raise
``WsmqError("MY_CODE", "text")`` to answer with their own code (``^[A-Z][A-Z0-9_]{0,63}$``).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

__all__ = [
    "APP_CODE_RE",
    "CODES",
    "AlreadyRegistered",
    "BadMessage",
    "BadTopic",
    "Cancelled",
    "ConnectFailed",
    "ConnectionClosed",
    "Disconnected",
    "Forbidden",
    "HandlerError",
    "InternalError",
    "InvalidBody",
    "NoHandler",
    "ProtocolError",
    "RateLimited",
    "RemoteError",
    "RequestTimeout",
    "ShuttingDown",
    "TooLarge",
    "Unauthenticated",
    "UnknownClient",
    "UnknownCorrelation",
    "WsmqError",
    "error_from_wire",
    "valid_code",
]

APP_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
"""Valid error codes: the wire codes below and any application code of this shape (§5)."""


def valid_code(code: object) -> bool:
    """Whether ``code`` may go on the wire (spec §11.3: ``^[A-Z][A-Z0-9_]{0,63}$``)."""
    return isinstance(code, str) and APP_CODE_RE.fullmatch(code) is not None


class WsmqError(Exception):
    """Base of every WebSocketMQ error; ``code`` is what goes on the wire."""

    CODE: ClassVar[str] = "INTERNAL"
    code: str
    message: str
    details: Any
    correlation_id: str | None
    remote: bool

    def __init__(
        self,
        code: str | None = None,
        message: str = "",
        details: Any = None,
        correlation_id: str | None = None,
        *,
        remote: bool = False,
    ) -> None:
        code = code or self.CODE
        if not remote and not valid_code(code):
            # Raised where the application makes the error, not when the broker sends it: a
            # code the wire forbids would make the peer drop the envelope and wait out its ttl.
            raise ValueError(
                f"invalid wsmq error code {code!r}: codes match ^[A-Z][A-Z0-9_]{{0,63}}$ "
                "(spec §11.3); pass the text as the second argument, e.g. "
                "WsmqError('MY_CODE', 'what went wrong')"
            )
        self.code = code
        self.message = message or self.code
        self.details = details
        self.correlation_id = correlation_id
        self.remote = remote
        super().__init__(f"{self.code}: {self.message}")

    def to_wire(self) -> dict[str, Any]:
        """The ``{"error": {...}}`` body of an error envelope for this exception (§1)."""
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            err["details"] = self.details
        return {"error": err}


class _Coded(WsmqError):
    """An error whose code is fixed by its class: ``NoHandler("no handler for x")``."""

    def __init__(
        self,
        message: str = "",
        details: Any = None,
        correlation_id: str | None = None,
        *,
        remote: bool = False,
    ) -> None:
        super().__init__(self.CODE, message, details, correlation_id, remote=remote)


class ProtocolError(_Coded):
    """A received frame was rejected by a local check; the peer gets this error on the wire.

    ``answer`` is False when the offending frame was readable as a ``response`` or ``error``:
    those are never answered (spec §3.5 item 3, no error loops); the receiver drops them.
    """

    CODE = "BAD_MESSAGE"
    answer: bool = True


class BadMessage(ProtocolError):
    """Malformed JSON, a bad envelope, or a binary frame."""

    CODE = "BAD_MESSAGE"


class BadTopic(ProtocolError):
    """A topic or pattern that breaks the rules of design.md §3."""

    CODE = "BAD_TOPIC"


class TooLarge(ProtocolError):
    """A frame over ``max_message_size``; the connection is closed with 1009 after the error."""

    CODE = "TOO_LARGE"


class RemoteError(WsmqError):
    """An error envelope whose code has no dedicated class (typically an application code)."""

    def __init__(
        self,
        code: str | None = None,
        message: str = "",
        details: Any = None,
        correlation_id: str | None = None,
        *,
        remote: bool = True,
    ) -> None:
        super().__init__(code, message, details, correlation_id, remote=remote)


class NoHandler(_Coded):
    """Nobody handles the request's topic; raised at once, never after a timeout."""

    CODE = "NO_HANDLER"


class HandlerError(_Coded):
    """The handler raised an exception that was not a :class:`WsmqError`."""

    CODE = "HANDLER_ERROR"


class InvalidBody(_Coded):
    """A body breaks the schema of its topic in the application's catalogue
    (spec/catalogue.md §7); ``details`` is ``{"pointer", "rule", "topic"}``."""

    CODE = "INVALID_BODY"


class RequestTimeout(_Coded):
    """No answer within the request's ttl; the handler was cancelled."""

    CODE = "TIMEOUT"


class Cancelled(_Coded):
    """The caller gave up on the request."""

    CODE = "CANCELLED"


class Disconnected(_Coded):
    """The peer a pending request was waiting on went away."""

    CODE = "DISCONNECTED"


class ConnectionClosed(Disconnected):
    """The local connection is closed (``close()`` was called, or it was lost and not back)."""


class ConnectFailed(Disconnected):
    """A client could not connect to or register with a broker; the message says what to
    check, ``details`` is ``{"url", "reason"}`` (``reason``: ``bad-url``, ``refused``,
    ``http-status`` with ``status``, ``not-wsmq``, ``timeout``, ``handshake``)."""


class UnknownClient(_Coded):
    """No connected client holds that ID."""

    CODE = "UNKNOWN_CLIENT"


class UnknownCorrelation(_Coded):
    """An answer to a correlation ID that was never sent to the answering peer."""

    CODE = "UNKNOWN_CORRELATION"


class Forbidden(_Coded):
    """A reserved topic used by a client, or an action ``authorize`` denied."""

    CODE = "FORBIDDEN"


class Unauthenticated(_Coded):
    """The connection did not (or no longer does) authenticate."""

    CODE = "UNAUTHENTICATED"


class AlreadyRegistered(_Coded):
    """A second ``_client.register`` on one connection."""

    CODE = "ALREADY_REGISTERED"


class RateLimited(_Coded):
    """Too many requests in flight on one connection, or too many messages per second."""

    CODE = "RATE_LIMITED"


class ShuttingDown(_Coded):
    """The broker is closing; pending requests fail with this."""

    CODE = "SHUTTING_DOWN"


class InternalError(_Coded):
    """A bug on the side that sent it."""

    CODE = "INTERNAL"


_BY_CODE: dict[str, type[_Coded]] = {
    cls.CODE: cls
    for cls in (
        BadMessage,
        BadTopic,
        TooLarge,
        NoHandler,
        HandlerError,
        InvalidBody,
        RequestTimeout,
        Cancelled,
        Disconnected,
        UnknownClient,
        UnknownCorrelation,
        Forbidden,
        Unauthenticated,
        AlreadyRegistered,
        RateLimited,
        ShuttingDown,
        InternalError,
    )
}

CODES: frozenset[str] = frozenset(_BY_CODE)
"""The wire codes of design.md §5."""


def error_from_wire(body: Any, correlation_id: str | None = None) -> WsmqError:
    """Rebuild the exception an error envelope's body describes (tolerant of bad bodies).

    An error body without ``code`` is the seed's shape for a handler that threw
    (``{"error": {"message": "..."}}``): ``HANDLER_ERROR`` with its message (spec §11.1)."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return RemoteError("INTERNAL", f"malformed error body: {body!r}", None, correlation_id)
    code = err.get("code", "HANDLER_ERROR")
    message = err.get("message")
    code = code if valid_code(code) else "INTERNAL"
    message = message if isinstance(message, str) else ""
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(message, err.get("details"), correlation_id, remote=True)
    return RemoteError(code, message, err.get("details"), correlation_id)
