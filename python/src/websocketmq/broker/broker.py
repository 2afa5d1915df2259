"""The asyncio broker: handlers, client registry, routing through a Backend (design.md §2-§4).

The broker is the I/O layer around :class:`~websocketmq.protocol.session.ServerSession`: a
transport (``websocketmq.server`` for the ``websockets`` library, later ASGI) calls
:meth:`Broker.connect` per accepted connection, feeds every received frame to
:meth:`ClientConnection.receive` and calls :meth:`ClientConnection.closed` when the socket is
gone. The broker acts on the session's actions and never routes between sessions itself: it
hands encoded frames to the backend, which calls it back as a
:class:`~websocketmq.backends.base.BackendHost`.

Hot path notes: one encode per publish whatever the number of subscribers (the same ``bytes``
is queued to each); per-connection queues are bounded by the transport; request handlers run
as tasks bounded per connection; sync event handlers run inline, async ones as bounded tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, overload

from ..backends.base import Backend, Reply
from ..errors import (
    Disconnected,
    Forbidden,
    HandlerError,
    NoHandler,
    RateLimited,
    RequestTimeout,
    ShuttingDown,
    Unauthenticated,
    UnknownClient,
    WsmqError,
    error_from_wire,
)
from ..limits import json_depth_exceeds
from ..protocol.envelope import (
    INVALID_CORRELATION,
    Message,
    decode,
    encode,
    new_error,
    new_event,
    new_request,
)
from ..protocol.envelope import new_response as _new_response
from ..protocol.ids import new_client_id
from ..protocol.session import (
    Answer,
    CancelRequest,
    Close,
    Publish,
    Registered,
    Request,
    Send,
    ServerSession,
    SessionConfig,
    Subscribe,
    Unsubscribe,
)
from ..protocol.topics import (
    HandlerEntry,
    SubscriptionIndex,
    is_reserved,
    validate_pattern,
    validate_topic,
)
from ..typed import convert
from .options import BrokerOptions

__all__ = [
    "TOPIC_CLIENT_DEREGISTERED",
    "TOPIC_CLIENT_REGISTERED",
    "Broker",
    "ClientConnection",
    "Handler",
    "Subscription",
    "Transport",
]

log = logging.getLogger("websocketmq.broker")

TOPIC_CLIENT_REGISTERED = "_internal.client.registered"
TOPIC_CLIENT_DEREGISTERED = "_internal.client.deregistered"

T = TypeVar("T")
Handler = Callable[[Message, "str | None"], Any]
"""``(msg, client_id) -> body | Message | None`` (sync or async). ``client_id`` is the sender's
ID, None for messages from server code. For a request the return value is the response body
(or a full response built with ``new_response(msg, data)``)."""
_Waiter = asyncio.Future[Message]


class Transport(Protocol):
    """What the broker needs from one connection's transport."""

    def send(self, frame: bytes) -> bool:
        """Queue a text frame without blocking; False when the send queue is full."""

    def close(self, code: int, reason: str, *, discard_queue: bool = False) -> None:
        """Close after the queued frames (or drop them first); returns at once."""


_Entry = HandlerEntry[Handler]


class Subscription:
    """A handler registration; ``unsubscribe()`` removes it. Awaitable: ``await`` it to be
    sure the backend (e.g. a NATS cluster) serves the pattern too."""

    def __init__(self, broker: Broker, entry: _Entry) -> None:
        self._broker = broker
        self._entry = entry
        self.pattern = entry.pattern
        self.handler = entry.fn
        self._ready: asyncio.Future[None] | None = None

    def unsubscribe(self) -> None:
        """Remove the handler at once (idempotent)."""
        self._broker._remove_handler(self._entry)

    def __await__(self) -> Any:
        if self._ready is not None:
            yield from self._ready.__await__()
        return self


class ClientConnection:
    """The broker's view of one client connection (what ``authorize`` receives)."""

    __slots__ = (
        "_auth",
        "_echo",
        "_subs",
        "_tasks",
        "broker",
        "identity",
        "session",
        "transport",
    )

    def __init__(self, broker: Broker, transport: Transport, identity: Any) -> None:
        self.broker = broker
        self.transport = transport
        self.identity = identity
        self.session: ServerSession[_Waiter] = ServerSession(
            new_client_id(), broker._session_config
        )
        self._subs: set[str] = set()
        self._echo: set[str] = set()
        self._tasks: dict[str, asyncio.Future[Any]] = {}
        """Requests in flight (tasks, or futures from ``Backend.request_nowait``)."""
        self._auth: asyncio.TimerHandle | None = None
        """Deadline of first-message authentication while it is pending, else None."""

    @property
    def client_id(self) -> str:
        """The connection's client ID (changes once if the client resumes an identity)."""
        return self.session.client_id

    @property
    def registered(self) -> bool:
        """Whether the client has been sent its registration ack."""
        return self.session.state.value == "registered"

    def send(self, frame: bytes) -> None:
        """Queue a frame; a full queue closes the connection with 4008 (slow consumer)."""
        if not self.transport.send(frame):
            log.warning("client %s: send queue full, closing (slow consumer)", self.client_id)
            self.abort(4008, "slow consumer")

    def abort(self, code: int, reason: str) -> None:
        """Close from our side without flushing (slow consumer, eviction)."""
        if self.session.state.value in ("open", "registered"):
            self.session.close()
            self.transport.close(code, reason, discard_queue=code == 4008)

    async def receive(self, frame: str | bytes) -> None:
        """Process one received frame (called by the transport, in order)."""
        broker = self.broker
        if self._auth is not None:
            await broker._authenticate_first(self, frame)
            return
        for action in self.session.receive(frame):
            kind = type(action)
            if kind is Request:
                broker._client_request(self, action.message)
            elif kind is Send:
                self.send(action.frame)
            elif kind is Answer:
                waiter = action.waiter
                if not waiter.done():
                    waiter.set_result(action.message)
            else:
                await broker._act(self, action)

    async def closed(self, reason: str = "closed") -> None:
        """The transport is gone: fail what waits on this client, drop its state."""
        await self.broker._disconnected(self, reason)


class Broker:
    """Pub/sub and RPC in both directions (the seed's broker).

    ``subscribe`` server handlers, ``publish`` events, ``request`` server handlers,
    ``request_to_client`` a connected client. Serve it with :func:`websocketmq.serve`.
    """

    def __init__(self, options: BrokerOptions | None = None, **overrides: Any) -> None:
        opts = options or BrokerOptions.default()
        for key, value in overrides.items():
            setattr(opts, key, value)
        self.options = opts
        self.backend: Backend = opts.backend
        self._session_config = SessionConfig(
            resume_secret=opts.resume_secret,
            max_message_size=opts.max_message_size,
            default_ttl_ms=int(opts.request_timeout * 1000),
            max_ttl_ms=int(opts.max_ttl * 1000),
            ping_interval_ms=int((opts.ping_interval or 0) * 1000),
            resume_token_ttl=opts.resume_token_ttl,
            registration_topic=opts.registration_topic,
            limits=opts.limits(),
        )
        self._handlers: SubscriptionIndex[_Entry] = SubscriptionIndex()
        self._handler_patterns: dict[str, int] = {}
        self._client_subs: SubscriptionIndex[ClientConnection] = SubscriptionIndex()
        self._watch_counts: dict[str, int] = {}
        self._watch_ready: dict[str, asyncio.Task[Any]] = {}
        self._clients: dict[str, ClientConnection] = {}
        self._connections: set[ClientConnection] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._event_tasks = 0
        self._publish_count = 0
        self._seq = 0
        self._started = False
        self._closing = False
        self._in_process = self.backend.in_process

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the backend and announce existing handlers; idempotent."""
        if self._started:
            return
        self._started = True
        await self.backend.start(self)
        for pattern in self._handler_patterns:
            await self.backend.serve(pattern)
        for pattern in self._watch_counts:
            await self.backend.watch(pattern)

    async def close(self) -> None:
        """Graceful shutdown: in-flight requests fail with SHUTTING_DOWN, connections close
        with 1001, then the backend closes. Idempotent; never hangs on a stuck handler."""
        if self._closing:
            return
        self._closing = True
        tasks: list[asyncio.Future[Any]] = []
        for conn in list(self._connections):
            for task in conn._tasks.values():
                task.cancel("SHUTTING_DOWN")
                tasks.append(task)
            for waiter, cancel in conn.session.give_up_all("SHUTTING_DOWN"):
                conn.send(cancel)  # spec §8.8 rule 2: the client stops its handler
                if not waiter.done():
                    waiter.set_exception(ShuttingDown("the broker is shutting down"))
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        for conn in list(self._connections):
            if conn.session.state.value in ("open", "registered"):
                conn.session.close()
                conn.transport.close(1001, "broker shutting down")
        # Announce the clients now, while the backend can still carry it (spec §6.5 rule 2,
        # reason "shutdown"); their sockets finish closing later and find nothing left to do.
        for conn in list(self._connections):
            self._connections.discard(conn)
            self._teardown(conn)
            client_id = conn.client_id
            if self._clients.get(client_id) is conn:
                del self._clients[client_id]
                with contextlib.suppress(Exception):
                    await self.backend.detach_client(client_id)
                await self._deregistered_event(conn, "shutdown")
        if self._background:  # let handler tasks (e.g. of those events) run, bounded
            await asyncio.wait(set(self._background), timeout=0.5)
        for task in list(self._background):
            task.cancel()
        if self._started:
            await self.backend.close()

    @property
    def closing(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closing

    def connect(self, transport: Transport, identity: Any = None) -> ClientConnection:
        """A transport accepted a connection: returns the object to feed frames to."""
        if self._closing:
            raise ShuttingDown("the broker is shutting down")
        conn = ClientConnection(self, transport, identity)
        self._connections.add(conn)
        if self.options.authenticate_message is not None:
            conn._auth = asyncio.get_running_loop().call_later(
                self.options.auth_timeout, self._auth_expired, conn
            )
        return conn

    # -- first-message authentication (docs/security.md §5) ---------------------------------

    async def _authenticate_first(self, conn: ClientConnection, frame: str | bytes) -> None:
        """The first frame must be ``_client.register`` carrying ``"auth"``; the hook decides.

        Nothing else is processed before it succeeds (no registration, no client ID in the
        registry, no delivery): failure is ``UNAUTHENTICATED`` then close 1008, never a
        half-open session. The credential is removed before the session sees the frame.
        """
        opts = self.options
        hook = opts.authenticate_message
        msg: Message | None = None
        if (
            isinstance(frame, str)
            and len(frame) <= opts.max_message_size
            and not json_depth_exceeds(frame, opts.max_json_depth)
        ):
            with contextlib.suppress(WsmqError):
                msg = decode(frame)
        identity: Any = None
        body = msg.body if msg is not None else None
        if (
            hook is not None
            and msg is not None
            and msg.header.type == "event"
            and msg.header.topic == opts.registration_topic
            and isinstance(body, dict)
            and "auth" in body
        ):
            try:
                identity = hook(conn.identity, body.pop("auth"))
                if inspect.isawaitable(identity):
                    identity = await identity
            except Exception as exc:  # the type only: exception texts carry the credential
                log.info("first-message authentication failed: %s", type(exc).__name__)
                identity = None
        if conn._auth is None:  # the deadline passed while the hook ran
            return
        if identity is None:
            corr = msg.header.message_id if msg is not None else INVALID_CORRELATION
            err = Unauthenticated("authentication failed", None, corr)
            conn.send(encode(new_error(corr, err)))
            conn._auth.cancel()
            conn._auth = None
            conn.abort(1008, "authentication failed")
            return
        conn._auth.cancel()
        conn._auth = None
        conn.identity = identity
        assert msg is not None
        await conn.receive(encode(msg).decode())

    def _auth_expired(self, conn: ClientConnection) -> None:
        if conn._auth is None or conn not in self._connections:
            return
        conn._auth = None
        err = Unauthenticated("authentication deadline passed", None, INVALID_CORRELATION)
        conn.send(encode(new_error(INVALID_CORRELATION, err)))
        conn.abort(4001, "authentication deadline")

    # -- server-side API --------------------------------------------------------------------

    @overload
    def subscribe(self, pattern: str) -> Callable[[Handler], Handler]: ...

    @overload
    def subscribe(self, pattern: str, handler: Handler) -> Subscription: ...

    def subscribe(
        self, pattern: str, handler: Handler | None = None
    ) -> Subscription | Callable[[Handler], Handler]:
        """Register a server handler for events and requests matching ``pattern``.

        Wildcards allowed; server code may also subscribe to ``_internal.client.registered``
        and ``_internal.client.deregistered``. For a request, the first registered matching
        handler answers. Without ``handler`` it works as a decorator.
        """
        if handler is None:

            def decorator(fn: Handler) -> Handler:
                self.subscribe(pattern, fn)
                return fn

            return decorator
        validate_pattern(pattern)
        self._seq += 1
        entry = _Entry(self._seq, pattern, handler)
        self._handlers.add(pattern, entry)
        sub = Subscription(self, entry)
        first = self._handler_patterns.get(pattern, 0) == 0
        self._handler_patterns[pattern] = self._handler_patterns.get(pattern, 0) + 1
        if first and self._started:
            sub._ready = self._spawn(self._announce(pattern, True))
        self._watch(pattern)
        return sub

    async def _announce(self, pattern: str, serve: bool) -> None:
        if serve:
            await self.backend.serve(pattern)
        else:
            await self.backend.unserve(pattern)

    def _remove_handler(self, entry: _Entry) -> None:
        if not self._handlers.remove(entry.pattern, entry):
            return
        left = self._handler_patterns[entry.pattern] - 1
        if left:
            self._handler_patterns[entry.pattern] = left
        else:
            del self._handler_patterns[entry.pattern]
            if self._started:
                self._spawn(self._announce(entry.pattern, False))
        self._unwatch(entry.pattern)

    def _watch(self, pattern: str) -> asyncio.Task[Any] | None:
        """Count interest; returns the backend task making it effective while it runs (a
        subscription is acknowledged only after it: with NATS the SUB must reach the server
        before the client is told it is subscribed, or a publish from another node races it)."""
        count = self._watch_counts.get(pattern, 0)
        self._watch_counts[pattern] = count + 1
        if count == 0 and self._started and not self._in_process:
            task = self._spawn(self.backend.watch(pattern))
            self._watch_ready[pattern] = task
            task.add_done_callback(lambda _t: self._watch_ready.pop(pattern, None))
            return task
        return self._watch_ready.get(pattern)

    def _unwatch(self, pattern: str) -> None:
        count = self._watch_counts.get(pattern, 0) - 1
        if count > 0:
            self._watch_counts[pattern] = count
            return
        self._watch_counts.pop(pattern, None)
        if self._started and not self._in_process:
            self._spawn(self.backend.unwatch(pattern))

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def publish(self, topic: str, body: Any = None) -> None:
        """Publish an event from server code to subscribed clients and handlers."""
        validate_topic(topic)
        msg = new_event(topic, body)
        await self.backend.publish(topic, encode(msg), None, msg)
        await self._cooperate()

    async def _cooperate(self) -> None:
        """Yield to the writers every few publishes: an in-process publish never suspends, so
        a tight publish loop would otherwise fill every send queue before any writer runs and
        every subscriber would look like a slow consumer."""
        self._publish_count += 1
        if self._publish_count & 7 == 0:
            await asyncio.sleep(0)

    async def request(
        self, topic: str, body: Any = None, timeout: float | None = None, *, type: Any = None
    ) -> Any:
        """Request a server handler (anywhere in the cluster); returns the response body,
        decoded into ``type`` if given. Raises NoHandler, RequestTimeout, the handler's error."""
        validate_topic(topic)
        ttl = timeout if timeout is not None else self.options.request_timeout
        msg = new_request(topic, body, max(1, int(ttl * 1000)))
        frame = b"" if self._in_process else encode(msg)
        reply = await self.backend.request(topic, frame, ttl, msg)
        return self._unwrap(reply, type)

    async def request_to_client(
        self,
        client_id: str,
        topic: str,
        body: Any = None,
        timeout: float | None = None,
        *,
        type: Any = None,
    ) -> Any:
        """Server→client RPC: ask one connected client (the seed's ``RequestToClient``).

        Returns the response body, decoded into ``type`` if given (the seed's
        ``GenericClientRequest[T]``). Raises UnknownClient, NoHandler (the client has no
        handler), RequestTimeout, Disconnected, or the client's error.
        """
        validate_topic(topic)
        ttl = timeout if timeout is not None else self.options.request_timeout
        msg = new_request(topic, body, max(1, int(ttl * 1000)))
        frame = encode(msg)
        if self._in_process:  # one node: skip the backend hop (it would call us back)
            reply = await self.request_client(client_id, frame, ttl, msg)
        else:
            reply = await self.backend.request_client(client_id, frame, ttl, msg)
        return self._unwrap(reply, type)

    @staticmethod
    def _unwrap(reply: Reply, tp: Any) -> Any:
        msg = reply if isinstance(reply, Message) else decode(reply)
        if msg.header.type == "error":
            raise error_from_wire(msg.body, msg.header.correlation_id)
        return msg.body if tp is None else convert(msg.body, tp)

    def client_ids(self) -> list[str]:
        """IDs of the clients registered on this node."""
        return list(self._clients)

    def get_client(self, client_id: str) -> ClientConnection | None:
        """The local connection holding ``client_id``, if any."""
        return self._clients.get(client_id)

    # -- session actions ------------------------------------------------------------------

    async def _act(self, conn: ClientConnection, action: Any) -> None:
        kind = type(action)
        if kind is Send:
            conn.send(action.frame)
        elif kind is Publish:
            await self._client_publish(conn, action.message)
        elif kind is Request:
            self._client_request(conn, action.message)
        elif kind is Answer:
            waiter = action.waiter
            if not waiter.done():
                waiter.set_result(action.message)
        elif kind is Subscribe:
            await self._client_subscribe(conn, action)
        elif kind is Unsubscribe:
            await self._client_unsubscribe(conn, action)
        elif kind is CancelRequest:
            task = conn._tasks.pop(action.correlation_id, None)
            if task is not None:
                task.cancel("CANCELLED")
        elif kind is Registered:
            await self._registered(conn, action)
        elif kind is Close:
            conn.transport.close(action.code, action.reason)

    def _allowed(self, conn: ClientConnection, action: Any, topic: str) -> bool:
        """The ``authorize`` hook's verdict; a hook that raises refuses (fail closed) instead
        of breaking the connection that happened to trigger the check (at delivery, that is
        the publisher's, and the other subscribers would miss the event)."""
        authorize = self.options.authorize
        if authorize is None:
            return True
        try:
            return bool(authorize(conn, action, topic))
        except Exception:
            log.exception("authorize(%s, %r) raised: refused", action, topic)
            return False

    async def _client_publish(self, conn: ClientConnection, msg: Message) -> None:
        topic = msg.header.topic
        if self.options.authorize is not None and not self._allowed(conn, "publish", topic):
            err = Forbidden(f"not allowed to publish on {topic!r}")
            conn.send(encode(new_error(msg.header.message_id, err)))
            return
        try:
            await self.backend.publish(topic, encode(msg), conn.client_id, msg)
        except Exception:  # backend outage: the publish is lost (best effort, spec §7.4)
            log.exception("publish on %s from %s failed", topic, conn.client_id)
        await self._cooperate()

    def _client_request(self, conn: ClientConnection, msg: Message) -> None:
        corr = msg.header.correlation_id
        assert corr is not None
        topic = msg.header.topic
        if self.options.authorize is not None and not self._allowed(conn, "request", topic):
            conn.send(ServerSession.fail(msg, Forbidden(f"not allowed to request {topic!r}")))
            return
        if self._closing:
            conn.send(ServerSession.fail(msg, ShuttingDown("the broker is shutting down")))
            return
        if len(conn._tasks) >= self.options.max_pending_requests_per_connection:
            # Not charged to the error budget: a busy but well-behaved client overshooting its
            # in-flight limit must keep its connection (conformance case 9.3.1).
            limited = RateLimited("too many requests in flight on this connection")
            conn.send(ServerSession.fail(msg, limited))
            return
        if corr in conn._tasks:
            duplicate = WsmqError("BAD_MESSAGE", "duplicate correlationID")
            self._refuse(conn, ServerSession.fail(msg, duplicate))
            return
        if self._in_process:
            # Fast path: this node has every handler. NO_HANDLER and sync handlers are answered
            # inline, without a task (a sync handler cannot be cancelled or time out anyway).
            entry = self._first_handler(topic)
            if entry is None:
                conn.send(ServerSession.fail(msg, NoHandler(f"no handler for {topic!r}")))
                return
            if not entry.is_async:
                reply = self._call_sync(entry, msg)
                if isinstance(reply, Message):
                    conn.send(_reply_frame(msg, reply))
                    return
                task = asyncio.get_running_loop().create_task(
                    self._serve_client_request(conn, msg, reply)
                )
                conn._tasks[corr] = task
                return
        else:
            ttl = (msg.header.ttl or 1) / 1000
            try:
                future = self.backend.request_nowait(topic, encode(msg), ttl, msg)
            except WsmqError as exc:
                conn.send(ServerSession.fail(msg, exc))
                return
            if future is not None:  # remote: a future, no task per request
                conn._tasks[corr] = future
                future.add_done_callback(functools.partial(self._request_done, conn, msg))
                return
        task = asyncio.get_running_loop().create_task(self._serve_client_request(conn, msg))
        conn._tasks[corr] = task

    @staticmethod
    def _refuse(conn: ClientConnection, frame: bytes) -> None:
        """Send a refusal the client caused, charged to its error budget (spec §12.1)."""
        for action in conn.session.refuse(frame):
            if type(action) is Send:
                conn.send(action.frame)
            elif type(action) is Close:
                conn.transport.close(action.code, action.reason)

    def _request_done(
        self, conn: ClientConnection, msg: Message, future: asyncio.Future[Reply]
    ) -> None:
        """Answer the client when the future of ``Backend.request_nowait`` settles (like the
        end of :meth:`_serve_client_request`)."""
        corr = msg.header.correlation_id
        assert corr is not None
        if conn._tasks.get(corr) is future:
            del conn._tasks[corr]
        if future.cancelled():
            if self._closing:
                conn.send(ServerSession.fail(msg, ShuttingDown("the broker is shutting down")))
            return  # _client.cancel or disconnect: no answer
        exc = future.exception()
        if exc is None:
            reply = future.result()
            out = reply if isinstance(reply, bytes) else _reply_frame(msg, reply)
        elif isinstance(exc, WsmqError):
            out = ServerSession.fail(msg, exc)
        else:
            log.error("routing request %s failed", corr, exc_info=exc)
            out = ServerSession.fail(msg, self._internal_error(exc))
        conn.send(out)

    async def _serve_client_request(
        self, conn: ClientConnection, msg: Message, pending: Awaitable[Any] | None = None
    ) -> None:
        corr = msg.header.correlation_id
        assert corr is not None
        try:
            if pending is not None:  # a sync handler returned an awaitable: settle it here
                reply: Reply = await self._settle(msg, pending)
            else:
                ttl = (msg.header.ttl or 1) / 1000
                frame = b"" if self._in_process else encode(msg)
                reply = await self.backend.request(msg.header.topic, frame, ttl, msg)
            out = reply if isinstance(reply, bytes) else _reply_frame(msg, reply)
        except asyncio.CancelledError:
            if self._closing:
                conn.send(ServerSession.fail(msg, ShuttingDown("the broker is shutting down")))
            return  # _client.cancel or disconnect: no answer
        except WsmqError as exc:
            out = ServerSession.fail(msg, exc)
        except Exception as exc:
            log.exception("routing request %s failed", corr)
            out = ServerSession.fail(msg, self._internal_error(exc))
        finally:
            if conn._tasks.get(corr) is asyncio.current_task():
                del conn._tasks[corr]
        conn.send(out)

    async def _client_subscribe(self, conn: ClientConnection, action: Subscribe) -> None:
        pattern = action.pattern
        if self.options.authorize is not None and not self._allowed(conn, "subscribe", pattern):
            conn.send(ServerSession.fail(action.message, Forbidden(f"not allowed: {pattern!r}")))
            return
        ready = None
        if pattern not in conn._subs:
            conn._subs.add(pattern)
            self._client_subs.add(pattern, conn)
            ready = self._watch(pattern)
        if action.echo:
            conn._echo.add(pattern)
        else:
            conn._echo.discard(pattern)
        if ready is not None:
            with contextlib.suppress(Exception):  # backend errors are logged by the backend
                await asyncio.shield(ready)
        conn.send(ServerSession.respond(action.message, {"topic": pattern, "subscribed": True}))

    async def _client_unsubscribe(self, conn: ClientConnection, action: Unsubscribe) -> None:
        pattern = action.pattern
        had = pattern in conn._subs
        if had:
            self._drop_sub(conn, pattern)
        body = {"topic": pattern, "unsubscribed": had}
        conn.send(ServerSession.respond(action.message, body))

    def _drop_sub(self, conn: ClientConnection, pattern: str) -> None:
        conn._subs.discard(pattern)
        conn._echo.discard(pattern)
        self._client_subs.remove(pattern, conn)  # one entry per (pattern, conn)
        self._unwatch(pattern)

    async def _registered(self, conn: ClientConnection, action: Registered) -> None:
        client_id = action.client_id
        old = self._clients.get(client_id)
        self._clients[client_id] = conn  # before any await: a concurrent resume sees us
        if old is not None and old is not conn:
            # Spec §6.4 rule 3, §6.5 rule 3: close the old connection (4009), settle what waits
            # on it *now* (a superseded socket is usually dead: its close handshake would only
            # end after close_timeout), and announce it before the new registration.
            log.info("client %s resumed on a new connection; closing the old one", client_id)
            old.abort(4009, "superseded")
            self._connections.discard(old)
            self._teardown(old)
            await self._deregistered_event(old, "superseded")
        await self.backend.attach_client(client_id)
        if old is not None and old is not conn:
            # one detach per attach: a counting backend (NATS) would hold the ID forever
            try:
                await self.backend.detach_client(client_id)
            except Exception:
                log.exception("backend detach of superseded %s failed", client_id)
        if self._clients.get(client_id) is not conn:
            return  # superseded in the meantime: the newer connection announces itself
        log.info("client registered: %s%s", client_id, " (resumed)" if action.resumed else "")
        body: dict[str, Any] = {"brokerClientID": client_id}
        if action.page_session_id is not None:
            body["pageSessionID"] = action.page_session_id
        if action.resumed:
            body["resumed"] = True
        try:
            await self._internal_event(TOPIC_CLIENT_REGISTERED, body)
        except Exception:  # a backend outage must not cost the client its connection
            log.exception("registration event for %s failed", client_id)

    async def _internal_event(self, topic: str, body: Any) -> None:
        if self._in_process and not self._handlers.match(topic):
            return  # nobody local listens and there are no other nodes
        msg = new_event(topic, body)
        await self.backend.publish(topic, encode(msg), None, msg)

    async def _disconnected(self, conn: ClientConnection, reason: str) -> None:
        if conn._auth is not None:
            conn._auth.cancel()
            conn._auth = None
        if conn not in self._connections:
            return
        self._connections.discard(conn)
        was_registered = conn.registered or conn.session.state.value == "closing"
        self._teardown(conn)
        client_id = conn.client_id
        if self._clients.get(client_id) is conn:
            del self._clients[client_id]
            try:
                await self.backend.detach_client(client_id)
            except Exception:
                log.exception("backend detach of %s failed", client_id)
            if not self._closing or was_registered:
                await self._deregistered_event(conn, reason)

    def _teardown(self, conn: ClientConnection) -> None:
        """Drop a connection's state at once (spec §8.9): server→client requests pending on
        it settle DISCONNECTED, its client→server handlers are cancelled, its subscriptions
        end. Idempotent."""
        for waiter in conn.session.closed():
            if not waiter.done():
                waiter.set_exception(Disconnected(f"client {conn.client_id} disconnected"))
        for task in conn._tasks.values():
            task.cancel("DISCONNECTED")
        conn._tasks.clear()
        for pattern in list(conn._subs):
            self._client_subs.remove(pattern, conn)
            self._unwatch(pattern)
        conn._subs.clear()
        conn._echo.clear()

    async def _deregistered_event(self, conn: ClientConnection, reason: str) -> None:
        """Publish ``_internal.client.deregistered`` for ``conn`` (spec §6.5); never raises."""
        log.info("client deregistered: %s (%s)", conn.client_id, reason)
        body: dict[str, Any] = {"brokerClientID": conn.client_id, "reason": reason}
        if conn.session.page_session_id is not None:
            body["pageSessionID"] = conn.session.page_session_id
        try:
            await self._internal_event(TOPIC_CLIENT_DEREGISTERED, body)
        except Exception:
            log.exception("deregistration event failed")

    # -- BackendHost ----------------------------------------------------------------------

    def deliver_event(
        self, topic: str, frame: bytes, source: str | None, message: Message | None = None
    ) -> None:
        """Deliver an event to local subscribers (clients, then handlers)."""
        if not is_reserved(topic):
            targets = self._client_subs.match(topic)
            if targets:
                if not frame:
                    frame = encode(message) if message is not None else frame
                authorize = self.options.authorize
                for conn in targets:
                    if conn.session.client_id == source and not (
                        conn._echo and _any_match(conn._echo, topic)
                    ):
                        continue
                    if authorize is not None and not self._allowed(conn, "subscribe", topic):
                        continue
                    conn.send(frame)
        entries = self._handlers.match(topic)
        if not entries:
            return
        msg = message if message is not None else decode(frame)
        for entry in entries:
            self._run_event_handler(entry, msg, source)

    def _run_event_handler(self, entry: _Entry, msg: Message, source: str | None) -> None:
        if entry.is_async:
            if self._event_tasks >= self.options.max_event_tasks:
                log.warning("dropping event %s for %s: too many handler tasks", msg.topic, entry.fn)
                return
            self._event_tasks += 1
            task = asyncio.get_running_loop().create_task(self._event_task(entry, msg, source))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        try:
            result = entry.fn(msg, source)
            if inspect.isawaitable(result):
                self._spawn(result)
        except Exception:
            log.exception("event handler %r for %s raised", entry.fn, msg.topic)

    async def _event_task(self, entry: _Entry, msg: Message, source: str | None) -> None:
        try:
            await entry.fn(msg, source)
        except Exception:
            log.exception("event handler %r for %s raised", entry.fn, msg.topic)
        finally:
            self._event_tasks -= 1

    def _first_handler(self, topic: str) -> _Entry | None:
        entries = self._handlers.match(topic)
        if not entries:
            return None
        return min(entries, key=_seq_of) if len(entries) > 1 else entries[0]

    def _call_sync(self, entry: _Entry, msg: Message) -> Any:
        """Run a sync handler inline: the reply, or the awaitable it returned (to await)."""
        corr = msg.header.correlation_id
        try:
            result = entry.fn(msg, msg.header.source)
        except WsmqError as exc:
            return new_error(corr, exc)
        except Exception as exc:
            return new_error(corr, self._handler_failed(msg.topic, exc))
        if inspect.isawaitable(result):
            return result
        return self._as_response(msg, result)

    def _internal_error(self, exc: BaseException) -> WsmqError:
        """INTERNAL for a routing failure (a bug); its text only with ``detailed_errors``."""
        if self.options.detailed_errors:
            return WsmqError("INTERNAL", f"{type(exc).__name__}: {exc}")
        return WsmqError("INTERNAL", "internal error while routing the request")

    def _handler_failed(self, topic: str, exc: Exception) -> HandlerError:
        """The HANDLER_ERROR for an unexpected exception (spec §11.3). The full exception goes
        to the log; the caller sees its text only with ``detailed_errors`` on."""
        log.warning("handler for %s raised", topic, exc_info=exc)
        if self.options.detailed_errors:
            return HandlerError(f"handler for {topic!r} raised {type(exc).__name__}: {exc}")
        return HandlerError(f"handler for {topic!r} failed")

    @staticmethod
    def _as_response(msg: Message, result: Any) -> Message:
        if isinstance(result, Message) and result.header.type in ("response", "error"):
            corr = msg.header.correlation_id
            result.header.correlation_id = corr
            result.header.topic = corr or result.header.topic
            return result
        return _new_response(msg, result)

    def start_request(
        self, topic: str, frame: bytes, message: Message | None = None
    ) -> Reply | Awaitable[Reply]:
        """:meth:`handle_request` that answers synchronously when it can (a sync handler's
        reply, NO_HANDLER, a handler error), else returns the awaitable to wait for. Remote
        backends use it to serve a request without a task per request."""
        msg = message if message is not None else decode(frame)
        entry = self._first_handler(topic)
        if entry is None:
            return new_error(msg.header.correlation_id, NoHandler(f"no handler for {topic!r}"))
        if entry.is_async:
            return self.handle_request(topic, frame, msg)
        reply = self._call_sync(entry, msg)
        if isinstance(reply, Message):
            return _reply_frame(msg, reply)  # encoded here: an unencodable reply is answered
        return self._settle(msg, reply)

    async def handle_request(
        self, topic: str, frame: bytes, message: Message | None = None
    ) -> Reply:
        """Run the first matching local handler; errors become error replies (never raises)."""
        msg = message if message is not None else decode(frame)
        entry = self._first_handler(topic)
        if entry is None:
            return new_error(msg.header.correlation_id, NoHandler(f"no handler for {topic!r}"))
        try:
            result = entry.fn(msg, msg.header.source)
        except WsmqError as exc:
            return new_error(msg.header.correlation_id, exc)
        except Exception as exc:
            return new_error(msg.header.correlation_id, self._handler_failed(topic, exc))
        if inspect.isawaitable(result):
            return await self._settle(msg, result)
        return self._as_response(msg, result)

    async def _settle(self, msg: Message, pending: Awaitable[Any]) -> Message:
        """Await what a handler returned, within the request's ttl; errors become replies."""
        topic = msg.header.topic
        ttl = (msg.header.ttl or self._session_config.default_ttl_ms) / 1000
        try:
            async with asyncio.timeout(ttl) as deadline:
                result = await _bounded(pending, ttl)
            if deadline.expired():
                raise TimeoutError  # the handler swallowed its cancellation: still TIMEOUT
        except TimeoutError:
            err: WsmqError = RequestTimeout(f"handler for {topic!r} took longer than {ttl:g} s")
            return new_error(msg.header.correlation_id, err)
        except WsmqError as exc:
            return new_error(msg.header.correlation_id, exc)
        except Exception as exc:
            return new_error(msg.header.correlation_id, self._handler_failed(topic, exc))
        return self._as_response(msg, result)

    async def request_client(
        self, client_id: str, frame: bytes, timeout: float, message: Message | None = None
    ) -> Reply:
        """Send a request to a local client and wait for its answer."""
        conn = self._clients.get(client_id)
        if conn is None or conn.session.state.value != "registered":
            raise UnknownClient(f"no connected client {client_id!r}")
        msg = message if message is not None else decode(frame)
        corr = msg.header.correlation_id
        assert corr is not None
        loop = asyncio.get_running_loop()
        waiter: _Waiter = loop.create_future()
        conn.session.send_request(msg, waiter)
        conn.send(frame or encode(msg))
        timer = loop.call_later(timeout, _expire, waiter)  # cheaper than asyncio.timeout()
        try:
            return await waiter
        except TimeoutError:
            cancel = conn.session.give_up(corr, "TIMEOUT")
            if cancel is not None:
                conn.send(cancel)
            err = RequestTimeout(
                f"client {client_id} did not answer {msg.topic!r} in {timeout:g} s"
            )
            return new_error(corr, err)
        except Disconnected as exc:
            return new_error(corr, exc)
        except asyncio.CancelledError:
            cancel = conn.session.give_up(corr, "CANCELLED")
            if cancel is not None:
                conn.send(cancel)
            raise
        finally:
            timer.cancel()

    def deliver_to_client(self, client_id: str, frame: bytes) -> bool:
        """Queue a frame to a local client."""
        conn = self._clients.get(client_id)
        if conn is None:
            return False
        conn.send(frame)
        return True

    def evict_client(self, client_id: str) -> None:
        """The identity was resumed on another node: close ours with 4009, settle what waits
        on it at once and announce it (as a local resume does, :meth:`_registered`)."""
        conn = self._clients.pop(client_id, None)
        if conn is not None:
            conn.abort(4009, "superseded")
            self._connections.discard(conn)
            self._teardown(conn)
            self._spawn(self._deregistered_event(conn, "superseded"))


async def _bounded(awaitable: Awaitable[Any], ttl: float) -> Any:
    """Await a handler, but never past ``ttl``: a handler that ignores its cancellation keeps
    running detached (its late result is discarded) instead of delaying the TIMEOUT answer."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=ttl)
    except asyncio.CancelledError:
        task.cancel()
        task.add_done_callback(_discard_result)
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_discard_result)
        raise TimeoutError
    return task.result()


def _discard_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("late handler failure discarded: %r", task.exception())


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _reply_frame(request: Message, reply: Message) -> bytes:
    """Encode a handler's reply; a value JSON cannot carry (``object()``, a set…) is the
    handler's failure: ``HANDLER_ERROR`` (spec §8.3 rule 2), never an exception in the
    requesting client's receive loop (which closed that client with 1011)."""
    try:
        return encode(reply)
    except (TypeError, ValueError, OverflowError) as exc:
        topic = request.header.topic
        log.warning("handler for %s returned an unencodable value: %s", topic, exc)
        err = HandlerError(f"handler for {topic!r} returned a value that is not JSON")
        return ServerSession.fail(request, err)


def _seq_of(entry: _Entry) -> int:
    return entry.seq


def _any_match(patterns: set[str], topic: str) -> bool:
    from ..protocol.topics import matches

    return any(matches(p, topic) for p in patterns)
