"""The Python wsmq/1 client: ``connect(url, *, …)`` (the seed's ``client.ConnectWithOptions``).

This module is the asyncio glue: the decisions are the sans-I/O
:class:`~websocketmq.protocol.client_session.ClientSession`'s (registration and its ack, the
pending table, what each frame means, answer rules, subscriptions, backoff, pacing), the
settings are one :class:`~websocketmq.client.options.ClientOptions`; here live the socket, the
futures, the tasks and the timers.

One supervisor task owns the connection: it opens the WebSocket, registers (resuming the
previous identity with its token when reconnecting, design.md §4), re-subscribes, then reads
until the socket goes; then it fails every pending request at once with ``Disconnected`` and,
with ``auto_reconnect``, tries again with exponential backoff, full jitter and a cap, reset after
every successful connection (after 4029, error budget spent, it keeps growing instead). A
first connection that fails raises ``ConnectFailed`` saying what to check (issue 19). A close
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
import math
import random
from collections.abc import Awaitable, Callable, Generator
from dataclasses import replace
from typing import Any, TypeVar, assert_never, overload
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as _ws_connect
from websockets.exceptions import ConnectionClosed as _WsClosed
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI, WebSocketException

from .. import tracing
from ..errors import (
    ConnectFailed,
    ConnectionClosed,
    Disconnected,
    HandlerError,
    RequestTimeout,
    WsmqError,
)
from ..protocol.client_session import (
    CancelServed,
    ClientSession,
    Deliver,
    Drop,
    Entry,
    Reply,
    Serve,
    Settle,
    SlowDown,
    reconnects_after,
)
from ..protocol.envelope import Message
from ..protocol.topics import validate_pattern, validate_topic
from ..typed import convert
from .options import ClientOptions
from .writer import FrameWriter

__all__ = ["Client", "ClientHandler", "ClientSubscription", "Status", "connect"]

log = logging.getLogger("websocketmq.client")

T = TypeVar("T")
ClientHandler = Callable[[Message], Any]
"""``(msg) -> body | None`` (sync or async)."""

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


class ClientSubscription:
    """A client handler registration; ``await sub.unsubscribe()`` removes it."""

    def __init__(self, client: Client, entry: Entry) -> None:
        self._client = client
        self._entry = entry
        self.pattern = entry.pattern

    async def unsubscribe(self) -> None:
        """Remove the handler; tells the broker when it was the last one on the pattern."""
        await self._client._unsubscribe(self._entry)


class Client:
    """A connected (or reconnecting) client; create it with :func:`connect`.

    ``Client(url, options)`` or ``Client(url, request_timeout=5, ...)``: keyword arguments
    override the fields of ``options`` (:class:`ClientOptions`). The decisions are the
    sans-I/O :class:`~websocketmq.protocol.client_session.ClientSession`'s (``self.session``);
    this class owns the socket, the futures and the tasks.
    """

    def __init__(self, url: str, options: ClientOptions | None = None, **overrides: Any) -> None:
        self.url = url
        self.options = replace(options or ClientOptions(), **overrides)
        opts = self.options
        self.session: ClientSession[asyncio.Future[Message], asyncio.Task[None]] = ClientSession(
            page_session_id=opts.page_session_id,
            max_concurrent_handlers=opts.max_concurrent_handlers,
        )
        self.session.backoff.minimum = opts.reconnect_min
        self.session.backoff.maximum = opts.reconnect_max
        self.status = Status.CONNECTING
        self.last_close_code: int | None = None
        """Close code of the last lost connection (1001: broker shut down, 4009: superseded)."""
        self._ws: ClientConnection | None = None
        self._writer: FrameWriter | None = None
        """The current connection's coalesced writes (``websocketmq.client.writer``)."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._handles: dict[Entry, ClientSubscription] = {}
        self._connected = asyncio.Event()
        self._closing = False

    # -- what the session knows, under the names the client always had -----------------------

    @property
    def auto_reconnect(self) -> bool:
        """Whether a lost connection is retried (an ``on_disconnect`` hook may turn it off)."""
        return self.options.auto_reconnect

    @auto_reconnect.setter
    def auto_reconnect(self, value: bool) -> None:
        self.options.auto_reconnect = value

    @property
    def client_id(self) -> str | None:
        """The broker-assigned client ID (kept across reconnects by resuming, §6.4)."""
        return self.session.client_id

    @property
    def resumed(self) -> bool:
        """Whether the last registration resumed the previous client ID."""
        return self.session.resumed

    @property
    def registration(self) -> dict[str, Any]:
        """The last registration ack's body (spec §6.2)."""
        return self.session.registration

    # -- lifecycle ------------------------------------------------------------------------

    async def _start(self) -> Client:
        """First connection: errors propagate (no silent retry loop before the first success)."""
        ws, reader = await self._open()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(ws, reader))
        return self

    async def _open(self) -> tuple[ClientConnection, asyncio.Task[None]]:
        """Connect, register, start reading, re-subscribe; returns the socket and its reader.
        Every failure to connect is a ``ConnectFailed`` saying what to check (issue 19)."""
        opts = self.options
        ws = await self._upgrade()
        reader: asyncio.Task[None] | None = None
        try:
            try:
                async with asyncio.timeout(opts.connect_timeout):
                    await self._register(ws)
            except TimeoutError:
                raise ConnectFailed(
                    f"{self.url} accepted the WebSocket upgrade but sent no wsmq/1 registration "
                    f"ack within {opts.connect_timeout:g} s: is it a wsmq/1 broker (right port "
                    "and path)?",
                    {"url": self.url, "reason": "not-wsmq"},
                ) from None
            except _WsClosed as exc:
                raise ConnectFailed(
                    f"{self.url} closed the connection before acknowledging the registration "
                    f"(close code {ws.close_code}): is it a wsmq/1 broker?",
                    {"url": self.url, "reason": "not-wsmq", "closeCode": ws.close_code},
                ) from exc
            self._writer = FrameWriter(ws)
            self._ws = ws
            reader = asyncio.get_running_loop().create_task(self._read(ws))
            async with asyncio.timeout(opts.connect_timeout):
                await self._resubscribe()  # the reader settles these requests
        except BaseException:
            self._ws = None
            if reader is not None:
                reader.cancel()
            await ws.close()
            raise
        self.status = Status.CONNECTED
        self._connected.set()
        await self._call_hook(opts.on_connect, self)
        return ws, reader

    async def _upgrade(self) -> ClientConnection:
        """The WebSocket upgrade, its failures mapped into the ``WsmqError`` tree."""
        opts = self.options
        url = self.url
        scheme = urlsplit(url).scheme if isinstance(url, str) else ""
        if scheme not in ("ws", "wss"):
            hint = (
                f" (use ws{scheme[4:]}:// for the broker's WebSocket endpoint)"
                if scheme in ("http", "https")
                else ""
            )
            raise ConnectFailed(
                f"{url!r} is not a WebSocket URL: it must start with ws:// or wss://{hint}",
                {"url": url, "reason": "bad-url"},
            )
        options: dict[str, Any] = {"close_timeout": _CLOSE_TIMEOUT, **(opts.ws_options or {})}
        subprotocols = ["wsmq.v1"] if opts.subprotocols is None else opts.subprotocols
        try:
            return await _ws_connect(
                url,
                subprotocols=subprotocols or None,  # type: ignore[arg-type]
                open_timeout=opts.connect_timeout,
                max_size=None,
                **options,
            )
        except (InvalidURI, InvalidHandshake, OSError) as exc:
            raise _upgrade_failed(url, exc, opts.connect_timeout) from exc

    async def _register(self, ws: ClientConnection) -> None:
        auth = self.options.auth
        if callable(auth):
            auth = auth()
            if inspect.isawaitable(auth):
                auth = await auth
        await ws.send(self.session.register_frame(auth), text=True)
        loop = asyncio.get_running_loop()
        while not self.session.registered(await ws.recv(), loop.time(), self.url):
            pass
        if not self.options.pace:
            self.session.pacer.configure(None, None, now=loop.time())

    async def _resubscribe(self) -> None:
        subs = self.session.subscriptions
        for pattern in list(subs.patterns):
            await self._call("_client.subscribe", subs.body(pattern), self.options.request_timeout)

    async def _supervise(self, ws: ClientConnection, reader: asyncio.Task[None]) -> None:
        backoff = self.session.backoff
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
            self._lost(Disconnected("connection lost"))
            if self._closing:
                break
            code = ws.close_code
            final = not self.auto_reconnect or not reconnects_after(code)
            # The hook sees the truth: CLOSED when no reconnect follows (4009, 1000, …).
            self.status = Status.CLOSED if final else Status.RECONNECTING
            await self._call_hook(self.options.on_disconnect, self, error)
            if final or not self.auto_reconnect:  # the hook may have turned reconnecting off
                break
            backoff.lost(code)  # §12.2: after 4029 a longer backoff, growing while refused
            while not self._closing:
                await asyncio.sleep(random.uniform(*backoff.next_window()))
                try:
                    ws, reader = await self._open()
                except (OSError, WebSocketException, TimeoutError, WsmqError) as exc:
                    log.debug("reconnect to %s failed: %s", self.url, exc)
                    continue
                except Exception as exc:  # e.g. the auth callable failed: retry, never give up
                    log.warning("reconnect to %s failed: %r", self.url, exc)
                    continue
                backoff.connected()
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
        for fut in self.session.pending.drain():
            if not fut.done():
                fut.set_exception(ConnectionClosed("client closed"))
        ws = self._ws
        if ws is not None:
            if self._writer is not None:
                self._writer.flush()  # what was published before close() goes out first
            await ws.close(1000, "client closing")
        supervisor = self._supervisor
        if supervisor is not None and supervisor is not asyncio.current_task():
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        me = asyncio.current_task()
        served = list(self.session.served.values())
        tasks = [t for t in list(self._tasks) + served if t is not me]
        for task in tasks:
            task.cancel()
        if tasks:  # wait for them, bounded: a handler that swallows cancellation cannot hang us
            await asyncio.wait(tasks, timeout=self.options.connect_timeout)
        self.status = Status.CLOSED
        if ws is not None:
            self._ws = None
            await self._call_hook(self.options.on_disconnect, self, None)

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

    def _lost(self, exc: WsmqError) -> None:
        """The connection went: fail every pending request at once (§8.9) and stop every
        server→client request being served (its answer could not be delivered)."""
        waiters, served = self.session.lost()
        for fut in waiters:
            if not fut.done():
                fut.set_exception(exc)
        for task in served:
            task.cancel()

    # -- reading --------------------------------------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        receive = self.session.receive
        async for frame in ws:
            action = receive(frame)
            match action:
                case Settle(waiter=fut, message=msg):
                    if not fut.done():
                        fut.set_result(msg)
                case Deliver():
                    self._deliver(action)
                case Serve():
                    self._start_serving(action)
                case CancelServed(handle=task):
                    task.cancel()
                case Reply(frame=out):
                    self._write_soon(out)
                case SlowDown():
                    self.session.pacer.limited(asyncio.get_running_loop().time())
                case Drop(reason=reason):
                    if reason is not None:
                        log.warning("%s", reason)
                case _:
                    assert_never(action)

    def _deliver(self, action: Deliver) -> None:
        msg = action.message
        for entry in action.entries:
            if entry.is_async:
                self._spawn(self._run_event(entry, msg))
            else:
                try:
                    result = entry.fn(msg)
                    if inspect.isawaitable(result):
                        self._spawn(result)
                except Exception:
                    log.exception("event handler %r for %s raised", entry.fn, msg.topic)

    async def _run_event(self, entry: Entry, msg: Message) -> None:
        try:
            await entry.fn(msg)
        except Exception:
            log.exception("event handler %r for %s raised", entry.fn, msg.topic)

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _start_serving(self, action: Serve) -> None:
        msg = action.message
        entry = action.entry
        corr = action.correlation_id
        # spec §3.2: the handler runs in the caller's trace (websocketmq.tracing)
        trace = tracing.context_of(msg.header.traceparent) if tracing.AVAILABLE else None
        if not entry.is_async:
            # A plain function answers here, in the reader, with no task (the s→c hot path);
            # only an awaitable it returns needs one (then cancellable like any other).
            try:
                result = entry.fn(msg) if trace is None else trace.run(entry.fn, msg)
            except (Exception, asyncio.CancelledError) as exc:
                self._answer(self._handler_failed(msg, corr, exc), corr, msg.topic)
                return
            if not inspect.isawaitable(result):
                self._answer(self.session.answer(msg, result), corr, msg.topic)
                return
            coro = self._serve(entry, msg, corr, result)
        else:
            coro = self._serve(entry, msg, corr)
        task = asyncio.get_running_loop().create_task(coro, context=trace)
        self.session.served_start(corr, task)

    def _handler_failed(self, msg: Message, corr: str, exc: BaseException) -> Message:
        """The error answer for a handler that raised (logged unless it chose a wire code)."""
        if isinstance(exc, asyncio.CancelledError):
            # A CancelledError the handler raised itself (it awaited something cancelled
            # elsewhere): a failure like any other, the server caller must not wait its ttl out.
            log.warning("handler for %s raised CancelledError", msg.topic)
            return self.session.failure(
                corr, HandlerError("CancelledError: the handler was interrupted")
            )
        if not isinstance(exc, WsmqError):
            log.warning("handler for %s raised %s: %s", msg.topic, type(exc).__name__, exc)
        return self.session.failure(corr, exc)

    def _answer(self, out: Message, corr: str, topic: str) -> None:
        """Send a handler's answer from the reader: batched, or from a task when the socket
        is backed up."""
        frame, why = self.session.answer_frame(out, corr)
        if why is not None:
            log.warning("answer of the handler for %s cannot be encoded: %s", topic, why)
        self._write_soon(frame)

    def _write_soon(self, frame: bytes) -> None:
        """Send from synchronous code, in order with everything sent before: batched, or from
        a task when the socket is backed up."""
        writer = self._writer
        if self._ws is not None and writer is not None and not writer.batch(frame):
            self._spawn(self._send_frame(frame))

    async def _serve(
        self, entry: Entry, msg: Message, corr: str, pending: Awaitable[Any] | None = None
    ) -> None:
        """Run a handler (or await what a plain one returned, ``pending``) and answer."""
        session = self.session
        me = asyncio.current_task()
        try:
            if pending is None:
                pending = entry.fn(msg)
            result = (await pending) if inspect.isawaitable(pending) else pending
            out = session.answer(msg, result)
        except asyncio.CancelledError as exc:
            if me is None or me.cancelling():
                return  # the server gave up (_internal.cancel) or we lost the connection
            out = self._handler_failed(msg, corr, exc)
        except Exception as exc:
            out = self._handler_failed(msg, corr, exc)
        finally:
            if me is not None:
                session.served_end(corr, me)
        if me is not None and me.cancelling():
            # Cancelled (_internal.cancel, lost connection) but the handler swallowed it and
            # returned anyway: the client MUST NOT answer now (§8.8.2).
            return
        frame, why = session.answer_frame(out, corr)
        if why is not None:
            log.warning("answer of the handler for %s cannot be encoded: %s", msg.topic, why)
        await self._send_frame(frame)

    async def _send_frame(self, frame: bytes) -> None:
        """Send an answer or a cancel, best effort: a lost connection has failed it already."""
        writer = self._writer
        if self._ws is None or writer is None or writer.batch(frame):
            return
        with contextlib.suppress(_WsClosed):
            await writer.send(frame)

    # -- API ------------------------------------------------------------------------------

    async def _send(self, frame: bytes) -> None:
        """Send an event or request, paced under the broker's message rate (§12.1)."""
        writer = self._writer
        if self._ws is None or writer is None:
            raise (ConnectionClosed if self._closing else Disconnected)("not connected")
        pacer = self.session.pacer
        if pacer.rate != math.inf:
            wait = pacer.delay(asyncio.get_running_loop().time())
            if wait > 0:
                await asyncio.sleep(wait)
                writer = self._writer
                if self._ws is None or writer is None:
                    raise (ConnectionClosed if self._closing else Disconnected)("not connected")
        if writer.batch(frame):
            return
        try:
            await writer.send(frame)
        except _WsClosed as exc:
            raise Disconnected("connection lost while sending") from exc

    async def publish(self, topic: str, body: Any = None) -> None:
        """Publish an event: server handlers and every subscribed client get it (not this
        client, unless it subscribed with ``echo=True``)."""
        validate_topic(topic)
        trace = tracing.current_traceparent() if tracing.AVAILABLE else None
        await self._send(self.session.publish_frame(topic, body, trace))

    async def _call(self, topic: str, body: Any, timeout: float | None) -> Message:
        ttl = self.options.request_timeout if timeout is None else timeout
        session = self.session
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ttl
        # spec §3.2: the broker continues the caller's trace
        trace = tracing.current_traceparent() if tracing.AVAILABLE else None
        while True:
            corr, frame = session.request(topic, body, max(deadline - loop.time(), 0.0), trace)
            fut: asyncio.Future[Message] = loop.create_future()
            session.pending.add(corr, fut)
            timer = None if ttl == math.inf else loop.call_at(deadline, _expire, fut)
            try:
                await self._send(frame)
                reply = await fut
            except TimeoutError:
                if self._ws is not None:
                    self._write_soon(session.cancel_frame(corr))
                raise RequestTimeout(
                    f"no answer to {topic!r} within {ttl:g} s", None, corr
                ) from None
            except asyncio.CancelledError:
                # The application gave up (task.cancel(), wait_for): §8.8.1, tell the broker so
                # it stops the handler. Sent from its own task: the cancellation is not delayed.
                if self._ws is not None:
                    self._write_soon(session.cancel_frame(corr))
                raise
            finally:
                if timer is not None:
                    timer.cancel()
                session.pending.discard(corr)
            if reply.header.type != "error":
                return reply
            error = session.answer_error(reply)
            assert error is not None
            if self.options.pace and session.rate_limited(error) and loop.time() < deadline:
                # §12.1: the broker dropped it over its message rate, so it never ran: pace
                # down and send it again (a new request) within the caller's deadline.
                session.pacer.limited(loop.time())
                continue
            raise error

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
        subs = self.session.subscriptions
        existing = subs.existing(pattern, handler)
        if existing is not None:
            if echo and pattern not in subs.echo:
                subs.echo.add(pattern)
                if self._ws is not None:
                    await self._call("_client.subscribe", subs.body(pattern), None)
            return self._subscription(existing)
        entry, first = subs.add(pattern, handler)
        if echo:
            subs.echo.add(pattern)
        if (first or echo) and self._ws is not None:
            try:
                await self._call("_client.subscribe", subs.body(pattern), None)
            except BaseException:
                await self._unsubscribe(entry, tell=False)
                raise
        return self._subscription(entry)

    def _subscription(self, entry: Entry) -> ClientSubscription:
        """The one :class:`ClientSubscription` of ``entry`` (subscribing twice returns it)."""
        sub = self._handles.get(entry)
        if sub is None:
            sub = self._handles[entry] = ClientSubscription(self, entry)
        return sub

    async def _unsubscribe(self, entry: Entry, *, tell: bool = True) -> None:
        last = self.session.subscriptions.remove(entry)
        self._handles.pop(entry, None)
        if last and tell and self._ws is not None:
            with contextlib.suppress(Disconnected):
                await self._call("_client.unsubscribe", {"topic": entry.pattern}, None)

    async def ping(self, timeout: float | None = None) -> int:
        """Application-level ping (``_client.ping``); returns the broker's timestamp (ms)."""
        reply = await self._call("_client.ping", None, timeout)
        return int(reply.body["timestamp"])


_HTTP_STATUS_HINTS = {
    404: "wrong path? the broker serves its WebSocket at the path given to serve() "
    "(wsmq serve: /ws)",
    401: "the broker's authenticate hook refused the upgrade: check the credential",
    403: "refused: the Origin or the Host is not allowed (allowed_origins, allowed_hosts)",
    429: "too many connections from this address (max_connections_per_ip)",
}


def _upgrade_failed(
    url: str, exc: InvalidURI | InvalidHandshake | OSError, connect_timeout: float
) -> ConnectFailed:
    """The ``ConnectFailed`` for a WebSocket upgrade that failed with ``exc``: one place that
    names each cause's ``details["reason"]`` (the list in ``ConnectFailed``'s docstring and the
    README) and says what to check (issue 19). The order matters: ``InvalidStatus`` is an
    ``InvalidHandshake``, and ``TimeoutError`` and ``ConnectionRefusedError`` are ``OSError``."""
    extra: dict[str, Any] = {}
    if isinstance(exc, InvalidURI):
        reason = "bad-url"
        text = f"{url!r} is not a valid WebSocket URL ({exc.msg}): expected ws://host:port/path"
    elif isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        hint = _HTTP_STATUS_HINTS.get(status, "is it a wsmq/1 broker at this path?")
        reason, extra = "http-status", {"status": status}
        text = f"{url} refused the WebSocket upgrade with HTTP {status}: {hint}"
    elif isinstance(exc, TimeoutError):
        reason = "timeout"
        text = (
            f"no WebSocket upgrade from {url} within {connect_timeout:g} s: is the "
            "host reachable and the port a WebSocket server?"
        )
    elif isinstance(exc, ConnectionRefusedError):
        reason = "refused"
        text = (
            f"connection to {url} refused: is the broker running and listening on that "
            "host and port?"
        )
    elif isinstance(exc, InvalidHandshake):
        reason = "handshake"
        text = (
            f"{url} answered, but not with a WebSocket upgrade ({exc}): is it a wsmq/1 "
            "broker at this path?"
        )
    else:
        reason = "network"
        text = f"cannot connect to {url}: {exc.strerror or exc}; check the host name and port"
    return ConnectFailed(text, {"url": url, "reason": reason, **extra})


def _expire(fut: asyncio.Future[Message]) -> None:
    """A request's deadline passed: one timer handle per request, cheaper on the hot path than
    an ``asyncio.timeout`` context around the wait."""
    if not fut.done():
        fut.set_exception(TimeoutError())


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


def connect(url: str, options: ClientOptions | None = None, **overrides: Any) -> _Connect:
    """Connect to a wsmq/1 broker and register (the fields are :class:`ClientOptions`').

    ``await connect(url)`` returns a connected :class:`Client`; ``async with connect(url) as c``
    also closes it. Keyword arguments override ``options`` (``connect(url, request_timeout=5)``).
    The first connection attempt raises on failure, always inside the ``WsmqError`` tree:
    ``ConnectFailed`` with a message saying what to check (bad URL, refused, HTTP status such
    as 404 for a wrong path, not a wsmq/1 broker, timeout), or the broker's refusal
    (``Unauthenticated`` …). Afterwards, with ``auto_reconnect``, lost connections are retried
    with jittered exponential backoff between ``reconnect_min`` and ``reconnect_max`` seconds,
    resuming the same client ID and re-subscribing. ``on_connect(client)`` runs after every
    (re)registration, ``on_disconnect(client, error)`` after every loss. ``request_timeout``
    is the default ttl of requests (seconds). ``auth`` (any JSON value) is sent in every
    registration for brokers that authenticate on the first message
    (``BrokerOptions.authenticate_message``); a callable (sync or async) is called on every
    (re)connection instead, so each reconnect can send a fresh token.
    """
    return _Connect(Client(url, options, **overrides))
