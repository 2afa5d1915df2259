"""The Python wsmq/1 client: ``connect(url, *, …)`` (the seed's ``client.ConnectWithOptions``).

One supervisor task owns the connection: it opens the WebSocket, registers (resuming the
previous identity with its token when reconnecting, design.md §4), re-subscribes, then reads
until the socket goes; then it fails every pending request at once with ``Disconnected`` and,
with ``auto_reconnect``, tries again with exponential backoff, full jitter and a cap, reset after
every successful connection (after 4029, error budget spent, it keeps growing instead). A close
code that forbids reconnecting (1000, 1008, 4001, 4009: spec §12.2) ends the client. Requests map
correlation IDs to futures and always clean up; one the caller cancels sends ``_client.cancel``.

Handlers: ``subscribe(pattern, handler)``; ``handler(msg)`` gets every matching event, and for a
server→client request to this client its return value is the response body (a ``WsmqError``
raised gives that code, any other exception ``HANDLER_ERROR``; no handler → ``NO_HANDLER``).
Subscribing the same handler to the same pattern again returns the existing subscription, so an
``on_connect`` hook that subscribes (it runs after every reconnect) does not stack handlers.

There is no offline queue: ``publish`` and ``request`` while the connection is down raise
``Disconnected`` at once (after ``close()``: ``ConnectionClosed``), so nothing can pile up in
memory during an outage; the caller decides whether to retry after ``wait_connected()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar, overload

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as _ws_connect
from websockets.exceptions import ConnectionClosed as _WsClosed
from websockets.exceptions import WebSocketException

from .. import tracing
from ..errors import (
    BadMessage,
    ConnectionClosed,
    Disconnected,
    HandlerError,
    NoHandler,
    ProtocolError,
    RateLimited,
    RequestTimeout,
    TooLarge,
    WsmqError,
    error_from_wire,
)
from ..protocol.envelope import (
    Message,
    decode,
    encode,
    new_error,
    new_event,
    new_request,
    new_response,
)
from ..protocol.rules import NO_RECONNECT_CLOSE_CODES
from ..protocol.topics import HandlerEntry, SubscriptionIndex, validate_pattern, validate_topic
from ..typed import convert

__all__ = ["Client", "ClientHandler", "ClientSubscription", "Status", "connect"]

log = logging.getLogger("websocketmq.client")

T = TypeVar("T")
ClientHandler = Callable[[Message], Any]
"""``(msg) -> body | None`` (sync or async)."""

_NO_RECONNECT = NO_RECONNECT_CLOSE_CODES
"""Close codes from the broker after which the client does not reconnect (spec §12.2): normal
closure (the broker ended the session on purpose), policy / auth deadline (retrying with the same
credential cannot help) and superseded (reconnecting would steal the identity back). Generated
from spec/schema/close-codes.json, like the TypeScript client's set."""

_MAX_TTL_MS = 2**53 - 1
"""The largest ttl the wire format allows (§3.2); longer timeouts are sent as this."""

_CLOSE_TIMEOUT = 2.0
"""Seconds ``close()`` waits for the broker's half of the closing handshake before dropping the
TCP connection (websockets' default is 10 s: too long on a black-holed link); ``ws_options``
can override it as ``close_timeout``."""


class Status(enum.Enum):
    """Connection status of a :class:`Client`."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


_Entry = HandlerEntry[ClientHandler]


class ClientSubscription:
    """A client handler registration; ``await sub.unsubscribe()`` removes it."""

    def __init__(self, client: Client, entry: _Entry) -> None:
        self._client = client
        self._entry = entry
        self.pattern = entry.pattern

    async def unsubscribe(self) -> None:
        """Remove the handler; tells the broker when it was the last one on the pattern."""
        await self._client._unsubscribe(self._entry)


class Client:
    """A connected (or reconnecting) client; create it with :func:`connect`."""

    def __init__(
        self,
        url: str,
        *,
        auto_reconnect: bool = True,
        reconnect_min: float = 0.1,
        reconnect_max: float = 10.0,
        request_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        page_session_id: str | None = None,
        on_connect: Callable[[Client], Any] | None = None,
        on_disconnect: Callable[[Client, BaseException | None], Any] | None = None,
        subprotocols: list[str] | None = None,
        max_concurrent_handlers: int = 256,
        ws_options: dict[str, Any] | None = None,
        auth: Any = None,
    ) -> None:
        self.url = url
        self.auto_reconnect = auto_reconnect
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.page_session_id = page_session_id
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.subprotocols = ["wsmq.v1"] if subprotocols is None else subprotocols
        self.max_concurrent_handlers = max_concurrent_handlers
        self.ws_options = ws_options or {}
        self.auth = auth
        """Sent as ``"auth"`` in every ``_client.register`` (first-message authentication); a
        callable (sync or async) is called on every (re)connection for a fresh credential."""
        self.status = Status.CONNECTING
        self.client_id: str | None = None
        self.resumed = False
        self.last_close_code: int | None = None
        """Close code of the last lost connection (1001: broker shut down, 4009: superseded)."""
        self.registration: dict[str, Any] = {}
        self._resume_token: str | None = None
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._handlers: SubscriptionIndex[_Entry] = SubscriptionIndex()
        self._patterns: dict[str, int] = {}
        self._subs: dict[tuple[str, ClientHandler], ClientSubscription] = {}
        self._echo: set[str] = set()
        self._seq = 0
        self._served: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False

    # -- lifecycle ------------------------------------------------------------------------

    async def _start(self) -> Client:
        """First connection: errors propagate (no silent retry loop before the first success)."""
        ws, reader = await self._open()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(ws, reader))
        return self

    async def _open(self) -> tuple[ClientConnection, asyncio.Task[None]]:
        """Connect, register, start reading, re-subscribe; returns the socket and its reader."""
        options: dict[str, Any] = {"close_timeout": _CLOSE_TIMEOUT, **self.ws_options}
        ws = await _ws_connect(
            self.url,
            subprotocols=self.subprotocols or None,  # type: ignore[arg-type]
            open_timeout=self.connect_timeout,
            max_size=None,
            **options,
        )
        reader: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self._register(ws)
                self._ws = ws
                reader = asyncio.get_running_loop().create_task(self._read(ws))
                await self._resubscribe()  # the reader settles these requests
        except BaseException:
            self._ws = None
            if reader is not None:
                reader.cancel()
            await ws.close()
            raise
        self.status = Status.CONNECTED
        self._connected.set()
        await self._call_hook(self.on_connect, self)
        return ws, reader

    async def _register(self, ws: ClientConnection) -> None:
        body: dict[str, Any] = {}
        auth = self.auth
        if callable(auth):
            auth = auth()
            if inspect.isawaitable(auth):
                auth = await auth
        if auth is not None:
            body["auth"] = auth
        if self.page_session_id is not None:
            body["pageSessionID"] = self.page_session_id
        if self.client_id is not None and self._resume_token is not None:
            body["brokerClientID"] = self.client_id
            body["resumeToken"] = self._resume_token
        await ws.send(encode(new_event("_client.register", body)), text=True)
        while True:
            frame = await ws.recv()
            try:
                msg = decode(frame)
            except ProtocolError:
                continue
            if msg.type == "error":
                raise error_from_wire(msg.body, msg.correlation_id)
            if msg.type == "event" and msg.topic == "_internal.client.registered":
                ack = msg.body if isinstance(msg.body, dict) else {}
                self.registration = ack
                self.client_id = ack.get("brokerClientID")
                self._resume_token = ack.get("resumeToken")
                self.resumed = bool(ack.get("resumed"))
                return

    async def _resubscribe(self) -> None:
        for pattern in list(self._patterns):
            await self._call("_client.subscribe", self._sub_body(pattern), self.request_timeout)

    def _sub_body(self, pattern: str) -> dict[str, Any]:
        body: dict[str, Any] = {"topic": pattern}
        if pattern in self._echo:
            body["echo"] = True
        return body

    async def _supervise(self, ws: ClientConnection, reader: asyncio.Task[None]) -> None:
        attempt = 0
        penalty = 0  # registered connections in a row the broker closed with 4029
        while True:
            error: BaseException | None = None
            try:
                await reader
            except _WsClosed as exc:
                error = exc
            except Exception as exc:
                log.exception("client reader failed")
                error = exc
            self._ws = None
            self.last_close_code = ws.close_code
            self._connected.clear()
            self._fail_pending(Disconnected("connection lost"))
            for task in list(self._served.values()):
                task.cancel()
            if self._closing:
                break
            code = ws.close_code
            final = not self.auto_reconnect or code in _NO_RECONNECT
            # The hook sees the truth: CLOSED when no reconnect follows (4009, 1000, …).
            self.status = Status.CLOSED if final else Status.RECONNECTING
            await self._call_hook(self.on_disconnect, self, error)
            if final or not self.auto_reconnect:  # the hook may have turned reconnecting off
                break
            # §12.2: after 4029 (too many protocol errors) reconnect with a longer backoff,
            # growing while the broker keeps refusing; any other loss starts afresh.
            penalty = penalty + 1 if code == 4029 else 0
            while not self._closing:
                cap = min(self.reconnect_max, self.reconnect_min * (2 ** (attempt + penalty)))
                attempt += 1
                await asyncio.sleep(random.uniform(cap / 2, cap))
                try:
                    ws, reader = await self._open()
                except (OSError, WebSocketException, TimeoutError, WsmqError) as exc:
                    log.debug("reconnect to %s failed: %s", self.url, exc)
                    continue
                except Exception as exc:  # e.g. the auth callable failed: retry, never give up
                    log.warning("reconnect to %s failed: %r", self.url, exc)
                    continue
                attempt = 0
                break
            if self._closing:
                break
        self.status = Status.CLOSED
        self._connected.clear()

    async def close(self) -> None:
        """Close the connection (1000) and stop reconnecting; pending requests fail with
        ConnectionClosed. Idempotent."""
        if self._closing:
            return
        self._closing = True
        self._fail_pending(ConnectionClosed("client closed"))
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "client closing")
        supervisor = self._supervisor
        if supervisor is not None and supervisor is not asyncio.current_task():
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        me = asyncio.current_task()
        tasks = [t for t in list(self._tasks) + list(self._served.values()) if t is not me]
        for task in tasks:
            task.cancel()
        if tasks:  # wait for them, bounded: a handler that swallows cancellation cannot hang us
            await asyncio.wait(tasks, timeout=self.connect_timeout)
        self.status = Status.CLOSED
        if ws is not None:
            self._ws = None
            await self._call_hook(self.on_disconnect, self, None)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_closed(self) -> None:
        """Wait until the client has stopped for good (closed, or a close code that forbids
        reconnecting such as 4009, or a loss with ``auto_reconnect=False``)."""
        supervisor = self._supervisor
        if supervisor is None:
            return
        # asyncio.wait, not a suppressed CancelledError: our caller's cancellation (or its
        # wait_for timeout) must propagate, and waiting must not cancel the supervisor.
        await asyncio.wait({supervisor})
        if not supervisor.cancelled() and (error := supervisor.exception()) is not None:
            raise error

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the client is connected and registered (after a reconnect)."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    @property
    def connected(self) -> bool:
        """Whether the client is connected and registered right now."""
        return self.status is Status.CONNECTED

    async def _call_hook(self, hook: Callable[..., Any] | None, *args: Any) -> None:
        if hook is None:
            return
        try:
            result = hook(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("client hook %r raised", hook)

    def _fail_pending(self, exc: WsmqError) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(exc)

    # -- reading --------------------------------------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        async for frame in ws:
            try:
                msg = decode(frame)
            except ProtocolError as exc:
                log.warning("dropping invalid message from broker: %s", exc)
                continue
            kind = msg.header.type
            if kind == "response" or kind == "error":
                fut = self._pending.pop(msg.header.correlation_id or "", None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
            elif kind == "event":
                self._on_event(msg)
            else:
                self._on_request(msg)

    def _on_event(self, msg: Message) -> None:
        topic = msg.header.topic
        if topic == "_internal.cancel":
            body = msg.body if isinstance(msg.body, dict) else {}
            task = self._served.pop(str(body.get("correlationID")), None)
            if task is not None:
                task.cancel()
            return
        if topic.startswith("_"):
            return
        for entry in self._handlers.match(topic):
            if entry.is_async:
                self._spawn(self._run_event(entry, msg))
            else:
                try:
                    result = entry.fn(msg)
                    if inspect.isawaitable(result):
                        self._spawn(result)
                except Exception:
                    log.exception("event handler %r for %s raised", entry.fn, topic)

    async def _run_event(self, entry: _Entry, msg: Message) -> None:
        try:
            await entry.fn(msg)
        except Exception:
            log.exception("event handler %r for %s raised", entry.fn, msg.topic)

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _on_request(self, msg: Message) -> None:
        corr = msg.header.correlation_id or ""
        entries = self._handlers.match(msg.header.topic)
        if not entries:
            err = NoHandler(f"client has no handler for {msg.header.topic!r}")
            self._spawn(self._send_frame(encode(new_error(corr, err))))
            return
        if len(self._served) >= self.max_concurrent_handlers:
            err2 = RateLimited("too many server requests in flight on this client")
            self._spawn(self._send_frame(encode(new_error(corr, err2))))
            return
        entry = min(entries, key=lambda e: e.seq)
        # spec §3.2: the handler runs in the caller's trace (websocketmq.tracing)
        trace = tracing.context_of(msg.header.traceparent) if tracing.AVAILABLE else None
        task = asyncio.get_running_loop().create_task(self._serve(entry, msg, corr), context=trace)
        self._served[corr] = task

    async def _serve(self, entry: _Entry, msg: Message, corr: str) -> None:
        try:
            result = entry.fn(msg)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, Message) and result.header.type in ("response", "error"):
                result.header.correlation_id = corr
                result.header.topic = corr
                out = result
            else:
                out = new_response(msg, result)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                return  # the server gave up (_internal.cancel) or we lost the connection
            # A CancelledError the handler raised itself (it awaited something cancelled
            # elsewhere): a failure like any other, the server caller must not wait its ttl out.
            log.warning("handler for %s raised CancelledError", msg.topic)
            out = new_error(corr, HandlerError("CancelledError: the handler was interrupted"))
        except WsmqError as exc:
            out = new_error(corr, exc)
        except Exception as exc:
            log.warning("handler for %s raised %s: %s", msg.topic, type(exc).__name__, exc)
            out = new_error(corr, HandlerError(f"{type(exc).__name__}: {exc}"))
        finally:
            if self._served.get(corr) is asyncio.current_task():
                del self._served[corr]
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # Cancelled (_internal.cancel, lost connection) but the handler swallowed it and
            # returned anyway: the client MUST NOT answer now (§8.8.2).
            return
        await self._send_frame(self._answer_frame(out, corr, msg.topic))

    def _answer_frame(self, out: Message, corr: str, topic: str) -> bytes:
        """Encode a handler's answer; one that cannot be encoded or is over the broker's
        ``maxMessageSize`` becomes an error answer, so the server caller never waits it out."""
        try:
            frame = encode(out)
            self._check_size(frame)
            return frame
        except WsmqError as exc:
            return encode(new_error(corr, exc))
        except Exception as exc:
            log.warning("answer of the handler for %s cannot be encoded: %s", topic, exc)
            err = HandlerError(f"the handler's answer cannot be encoded: {exc}")
            return encode(new_error(corr, err))

    def _check_size(self, frame: bytes) -> None:
        """§12.1: fail an oversize frame locally with TOO_LARGE instead of sending it (the
        broker would close the connection 1009, failing every other request in flight)."""
        limit = self.registration.get("maxMessageSize")
        if isinstance(limit, int) and 0 < limit < len(frame):
            raise TooLarge(f"message is {len(frame)} bytes, the broker accepts {limit}")

    async def _send_frame(self, frame: bytes) -> None:
        ws = self._ws
        if ws is None:
            return
        with contextlib.suppress(_WsClosed):
            await ws.send(frame, text=True)

    # -- API ------------------------------------------------------------------------------

    async def _send(self, frame: bytes) -> None:
        ws = self._ws
        if ws is None:
            raise (ConnectionClosed if self._closing else Disconnected)("not connected")
        self._check_size(frame)
        try:
            await ws.send(frame, text=True)
        except _WsClosed as exc:
            raise Disconnected("connection lost while sending") from exc

    async def publish(self, topic: str, body: Any = None) -> None:
        """Publish an event: server handlers and every subscribed client get it (not this
        client, unless it subscribed with ``echo=True``)."""
        validate_topic(topic)
        msg = new_event(topic, body)
        if tracing.AVAILABLE:
            msg.header.traceparent = tracing.current_traceparent()
        await self._send(_encode_body(msg))

    async def _call(self, topic: str, body: Any, timeout: float | None) -> Message:
        ttl = self.request_timeout if timeout is None else timeout
        # The wire ttl is an integer in 1..2^53-1 (§3.2) whatever the caller asked (math.inf:
        # no deadline of its own); the local deadline below stays the caller's.
        ttl_ms = _MAX_TTL_MS if not ttl * 1000 < _MAX_TTL_MS else max(1, int(ttl * 1000))
        msg = new_request(topic, body, ttl_ms)
        if tracing.AVAILABLE:  # spec §3.2: the broker continues the caller's trace
            msg.header.traceparent = tracing.current_traceparent()
        corr = msg.header.correlation_id
        assert corr is not None
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[corr] = fut
        try:
            await self._send(_encode_body(msg))
            async with asyncio.timeout(ttl):
                reply = await fut
        except TimeoutError:
            if self._ws is not None:
                cancel = new_event("_client.cancel", {"correlationID": corr})
                with contextlib.suppress(WsmqError):
                    await self._send(encode(cancel))
            raise RequestTimeout(f"no answer to {topic!r} within {ttl:g} s", None, corr) from None
        except asyncio.CancelledError:
            # The application gave up (task.cancel(), wait_for): §8.8.1, tell the broker so it
            # stops the handler. Sent from its own task: the cancellation is not delayed.
            if self._ws is not None:
                cancel = new_event("_client.cancel", {"correlationID": corr})
                self._spawn(self._send_frame(encode(cancel)))
            raise
        finally:
            self._pending.pop(corr, None)
        if reply.header.type == "error":
            raise error_from_wire(reply.body, corr)
        return reply

    @overload
    async def request(
        self, topic: str, body: Any = None, timeout: float | None = None, *, type: None = None
    ) -> Any: ...

    @overload
    async def request(
        self, topic: str, body: Any = None, timeout: float | None = None, *, type: type[T]
    ) -> T: ...

    async def request(
        self, topic: str, body: Any = None, timeout: float | None = None, *, type: Any = None
    ) -> Any:
        """Request a server handler; returns the response body (decoded into ``type`` if
        given: dataclass, msgspec Struct, TypedDict, pydantic model — the seed's
        ``GenericRequest[T]``). Raises NoHandler, RequestTimeout, Disconnected, TooLarge (over
        the broker's ``maxMessageSize``), BadMessage (a body JSON cannot encode) or the
        handler's error (``WsmqError`` subclasses, ``.code`` as on the wire)."""
        validate_topic(topic)
        reply = await self._call(topic, body, timeout)
        return reply.body if type is None else convert(reply.body, type)

    async def subscribe(
        self, pattern: str, handler: ClientHandler, *, echo: bool = False
    ) -> ClientSubscription:
        """Handle events matching ``pattern`` and server→client requests on it.

        The broker is told on the first handler for a pattern; after a reconnect, every pattern
        is subscribed again automatically. Subscribing the same ``handler`` (equal callables:
        the same function or bound method) to the same ``pattern`` again returns the existing
        subscription instead of adding a second handler (``echo=True`` still turns echo on), so
        subscribing from ``on_connect``, which runs after every reconnect, is harmless.
        """
        validate_pattern(pattern)
        key = _sub_key(pattern, handler)
        existing = None if key is None else self._subs.get(key)
        if existing is not None:
            if echo and pattern not in self._echo:
                self._echo.add(pattern)
                if self._ws is not None:
                    await self._call("_client.subscribe", self._sub_body(pattern), None)
            return existing
        self._seq += 1
        entry = _Entry(self._seq, pattern, handler)
        first = self._patterns.get(pattern, 0) == 0
        self._patterns[pattern] = self._patterns.get(pattern, 0) + 1
        self._handlers.add(pattern, entry)
        if echo:
            self._echo.add(pattern)
        if (first or echo) and self._ws is not None:
            try:
                await self._call("_client.subscribe", self._sub_body(pattern), None)
            except BaseException:
                await self._unsubscribe(entry, tell=False)
                raise
        sub = ClientSubscription(self, entry)
        if key is not None:
            self._subs[key] = sub
        return sub

    async def _unsubscribe(self, entry: _Entry, *, tell: bool = True) -> None:
        if not self._handlers.remove(entry.pattern, entry):
            return
        key = _sub_key(entry.pattern, entry.fn)
        if key is not None and (sub := self._subs.get(key)) is not None and sub._entry is entry:
            del self._subs[key]
        left = self._patterns[entry.pattern] - 1
        if left:
            self._patterns[entry.pattern] = left
            return
        del self._patterns[entry.pattern]
        self._echo.discard(entry.pattern)
        if tell and self._ws is not None:
            with contextlib.suppress(Disconnected):
                await self._call("_client.unsubscribe", {"topic": entry.pattern}, None)

    async def ping(self, timeout: float | None = None) -> int:
        """Application-level ping (``_client.ping``); returns the broker's timestamp (ms)."""
        reply = await self._call("_client.ping", None, timeout)
        return int(reply.body["timestamp"])


def _encode_body(msg: Message) -> bytes:
    """Encode an outgoing publish or request; a body that is not JSON-encodable is the caller's
    error, reported as a typed ``BadMessage`` rather than the encoder's bare exception."""
    try:
        return encode(msg)
    except Exception as exc:
        raise BadMessage(f"the body of {msg.header.topic!r} cannot be encoded: {exc}") from exc


def _sub_key(pattern: str, handler: ClientHandler) -> tuple[str, ClientHandler] | None:
    """The idempotency key of a subscription; None for an unhashable callable (never merged)."""
    try:
        hash(handler)
    except TypeError:
        return None
    return (pattern, handler)


class _Connect:
    """``await connect(...)`` or ``async with connect(...) as client``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __await__(self) -> Generator[Any, None, Client]:
        return self._client._start().__await__()

    async def __aenter__(self) -> Client:
        return await self._client._start()

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()


def connect(
    url: str,
    *,
    auto_reconnect: bool = True,
    reconnect_min: float = 0.1,
    reconnect_max: float = 10.0,
    request_timeout: float = 30.0,
    connect_timeout: float = 10.0,
    page_session_id: str | None = None,
    on_connect: Callable[[Client], Any] | None = None,
    on_disconnect: Callable[[Client, BaseException | None], Any] | None = None,
    subprotocols: list[str] | None = None,
    max_concurrent_handlers: int = 256,
    ws_options: dict[str, Any] | None = None,
    auth: Any = None,
) -> _Connect:
    """Connect to a wsmq/1 broker and register.

    ``await connect(url)`` returns a connected :class:`Client`; ``async with connect(url) as c``
    also closes it. The first connection attempt raises on failure (``OSError``,
    ``websockets`` handshake errors, ``TimeoutError``); afterwards, with ``auto_reconnect``, lost
    connections are retried with jittered exponential backoff between ``reconnect_min`` and
    ``reconnect_max`` seconds, resuming the same client ID and re-subscribing.
    ``on_connect(client)`` runs after every (re)registration, ``on_disconnect(client, error)``
    after every loss. ``request_timeout`` is the default ttl of requests (seconds).
    ``auth`` (any JSON value) is sent in every registration for brokers that authenticate on
    the first message (``BrokerOptions.authenticate_message``); a callable (sync or async) is
    called on every (re)connection instead, so each reconnect can send a fresh token. A refusal
    raises ``Unauthenticated`` from the first connect.
    """
    return _Connect(
        Client(
            url,
            auto_reconnect=auto_reconnect,
            reconnect_min=reconnect_min,
            reconnect_max=reconnect_max,
            request_timeout=request_timeout,
            connect_timeout=connect_timeout,
            page_session_id=page_session_id,
            on_connect=on_connect,
            on_disconnect=on_disconnect,
            subprotocols=subprotocols,
            max_concurrent_handlers=max_concurrent_handlers,
            ws_options=ws_options,
            auth=auth,
        )
    )
