"""The broker's public server API: handlers, publish, RPC both ways, lifecycle (design.md §2-§4).

A :class:`Broker` is one node. It is built from parts with one job each:

* :mod:`.connection` — :class:`ClientConnection`, one client's adapter between its transport
  and its :class:`~websocketmq.protocol.session.ServerSession`;
* :mod:`.router` — what happens to a client's publish, request, subscribe (every connection's
  host), and how events reach local clients;
* :mod:`.handlers` — server handlers: their registry and the one place they are invoked and
  their replies (or failures) made;
* :mod:`.registry` — connected clients, registration, resume, eviction, disconnect;
* :mod:`.interest` — which event patterns the backend must deliver to this node;
* :mod:`.auth` — first-message authentication; :mod:`.background` — fire-and-forget tasks.

A transport (``websocketmq.server`` for the ``websockets`` library, later ASGI) calls
:meth:`Broker.connect` per accepted connection, feeds every received frame to
:meth:`ClientConnection.receive` and calls :meth:`ClientConnection.closed` when the socket is
gone. The broker never routes between sessions itself: it hands encoded frames to the backend,
which calls it back as a :class:`~websocketmq.backends.base.BackendHost` (this class).

Operations (docs/operations.md): ``observer`` receives the few hot-path hooks of
:mod:`websocketmq.observe` (None when neither ``metrics`` nor ``dashboard`` is on: one attribute
test per hook), ``metrics`` exports them for Prometheus, ``dashboard`` serves the live page; a
``BrokerTracer`` (:mod:`websocketmq.tracing`) makes spans when tracing is on.

Hot path notes: one encode per publish whatever the number of subscribers (the same ``bytes``
is queued to each); per-connection queues are bounded by the transport; request handlers run
as tasks bounded per connection; sync event handlers run inline, async ones as bounded tasks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, overload

from ..backends.base import Backend, Reply
from ..errors import ShuttingDown, TooLarge, UnknownClient, WsmqError, error_from_wire
from ..limits import SendBudget
from ..observe import SERVER_TO_CLIENT, Observer, Tally
from ..protocol.envelope import Message, decode, encode, new_event, new_request
from ..protocol.session import SessionConfig
from ..protocol.topics import validate_pattern, validate_topic
from ..typed import convert
from .auth import FirstMessageAuth
from .background import Background
from .connection import ClientConnection, Transport
from .handlers import Entry, Handler, HandlerRegistry, Subscription, reply_frame
from .interest import Interest
from .options import BrokerOptions
from .registry import TOPIC_CLIENT_DEREGISTERED, TOPIC_CLIENT_REGISTERED, ClientRegistry
from .router import Router

if TYPE_CHECKING:
    from ..dashboard import Dashboard
    from ..metrics import Metrics
    from ..tracing import BrokerTracer

__all__ = [
    "TOPIC_CLIENT_DEREGISTERED",
    "TOPIC_CLIENT_REGISTERED",
    "Broker",
    "ClientConnection",
    "Handler",
    "Subscription",
    "Transport",
]


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
        self._background = Background()
        self._handlers = HandlerRegistry(
            self._background, opts, default_ttl_ms=self._session_config.default_ttl_ms
        )
        self._interest = Interest(self.backend, self._background)
        self.registry = ClientRegistry(
            self.backend, self._interest, self._background, self._announce
        )
        """The clients connected to this node."""
        self.send_budget = SendBudget(
            opts.max_queued_bytes,
            frame_limit=opts.send_queue_size,
            byte_limit=opts.send_queue_bytes,
        )
        """The send-queue bounds every transport serving this broker applies (per connection
        and ``max_queued_bytes`` across them all, docs/security.md §4)."""
        self._auth = FirstMessageAuth(opts)
        self._router = Router(opts, self.backend, self._handlers, self.registry, self._auth)
        self._started = False
        self._closing = False
        self._draining = False
        self._in_process = self.backend.in_process
        self.observer: Observer | None = None
        """Receives the hot-path hooks (websocketmq.observe); None: nothing observes."""
        self.metrics: Metrics | None = None
        """The Prometheus metrics (``metrics=True``), served at ``GET /metrics``."""
        self.dashboard: Dashboard | None = None
        """The live dashboard (``dashboard=True``), served at ``GET /dashboard``."""
        self._tracer: BrokerTracer | None = None
        if opts.metrics or opts.dashboard:
            tally = Tally()
            self.observer = tally
            if opts.metrics:
                from ..metrics import Metrics

                self.metrics = Metrics(self, tally)
            if opts.dashboard:
                from ..dashboard import Dashboard

                self.dashboard = Dashboard(self, tally)
        self._router.observer = self.observer

    async def _announce(self, topic: str, body: Any) -> None:
        await self._router.announce(topic, body)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the backend and announce existing handlers; idempotent."""
        if self._started:
            return
        self._started = True
        from ..tracing import broker_tracer

        self._tracer = self._router.tracer = broker_tracer(self.options.tracing)
        self._interest.start()
        self.backend.max_frame = self.options.max_message_size
        await self.backend.start(self)
        if self.dashboard is not None:
            self.dashboard.start()
        for pattern in list(self._handlers.patterns):
            await self.backend.serve(pattern)
        for pattern in list(self._interest.patterns):
            await self.backend.watch(pattern)

    async def close(self) -> None:
        """Graceful shutdown: in-flight requests fail with SHUTTING_DOWN, connections close
        with 1001, then the backend closes. Idempotent; never hangs on a stuck handler."""
        if self._closing:
            return
        self._closing = True
        self._router.closing = True
        if self.dashboard is not None:
            await self.dashboard.close()
        tasks: list[asyncio.Future[Any]] = []
        for conn in self.registry.connections():
            tasks.extend(conn.cancel_requests("SHUTTING_DOWN"))
            conn.give_up_requests()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        for conn in self.registry.connections():
            conn.abort(1001, "broker shutting down")
        # Announce the clients now, while the backend can still carry it (spec §6.5 rule 2,
        # reason "shutdown"); their sockets finish closing later and find nothing left to do.
        for conn in self.registry.connections():
            await self.registry.shut(conn)
        await self._background.drain(0.5)  # let handler tasks (e.g. of those events) run
        if self._started:
            await self.backend.close()

    @property
    def closing(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closing

    @property
    def draining(self) -> bool:
        """True from :meth:`drain` on: ``GET /readyz`` answers 503 so load balancers stop
        sending new clients (docs/operations.md, "Health")."""
        return self._draining

    async def drain(self, timeout: float | None = None) -> bool:
        """Graceful drain before :meth:`close` (docs/operations.md, "Graceful shutdown"): stop
        taking new work and wait up to ``timeout`` seconds (None: no bound) for the requests in
        flight to be answered. Returns whether every one was; :meth:`close` then fails the
        rest with SHUTTING_DOWN.

        From the first call on, ``GET /readyz`` answers 503 ``draining`` and the server
        refuses new upgrades with 503 (the load balancer sends new clients elsewhere); new
        requests from connected clients are answered SHUTTING_DOWN at once (spec §11: they
        retry on another node), so the wait ends. Events keep flowing, and handlers in flight
        may still publish and call clients. A clustered backend stops taking requests from
        other nodes for its handlers (the queue group sends them to the other nodes) and the
        wait covers the ones it is running."""
        first = not self._draining
        self._draining = True
        self._router.draining = True
        if first and self._started:  # leave the queue groups (each is bounded: NATS flush)
            await asyncio.gather(*(self.backend.unserve(p) for p in list(self._handlers.patterns)))
        pending: list[asyncio.Future[Any]] = list(self.backend.serving())
        for conn in self.registry.connections():
            pending.extend(conn.requests())
        pending = [work for work in pending if not work.done()]
        if not pending:
            return True
        _, late = await asyncio.wait(pending, timeout=timeout)
        return not late

    def connect(self, transport: Transport, identity: Any = None) -> ClientConnection:
        """A transport accepted a connection: returns the object to feed frames to."""
        if self._closing:
            raise ShuttingDown("the broker is shutting down")
        auth = self._auth.enabled
        conn = ClientConnection(
            self._router,
            transport,
            identity,
            self._session_config,
            auth_pending=auth,
            observer=self.observer,
        )
        self.registry.add(conn)
        if auth:
            self._auth.start(conn)
        deadline = self.options.registration_timeout
        if deadline:
            conn.await_registration(deadline)
        return conn

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
        entry, first = self._handlers.add(pattern, handler)
        ready = None
        if first and self._started:
            ready = self._background.spawn(self.backend.serve(pattern))
        sub = Subscription(entry, self._remove_handler, ready)
        self._interest.watch(pattern)
        return sub

    def _remove_handler(self, entry: Entry) -> None:
        last = self._handlers.remove(entry)
        if last is None:
            return
        if last and self._started:
            self._background.spawn(self.backend.unserve(entry.pattern))
        self._interest.unwatch(entry.pattern)

    async def publish(self, topic: str, body: Any = None) -> None:
        """Publish an event from server code to subscribed clients and handlers."""
        validate_topic(topic)
        msg = new_event(topic, body)
        tracer = self._tracer
        span = tracer.begin("publish", "producer", msg, None) if tracer is not None else None
        try:
            await self.backend.publish(topic, self._within_limit(encode(msg), topic), None, msg)
        finally:
            if span is not None:
                span.end()
        await self._router.cooperate()

    async def request(
        self, topic: str, body: Any = None, timeout: float | None = None, *, type: Any = None
    ) -> Any:
        """Request a server handler (anywhere in the cluster); returns the response body,
        decoded into ``type`` if given. Raises NoHandler, RequestTimeout, the handler's error."""
        validate_topic(topic)
        ttl = timeout if timeout is not None else self.options.request_timeout
        msg = new_request(topic, body, max(1, int(ttl * 1000)))
        frame = b"" if self._in_process else encode(msg)
        work = self.backend.request(topic, frame, ttl, msg)
        reply = work if isinstance(work, Message | bytes) else await work
        return _unwrap(reply, type)

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
        obs, tracer = self.observer, self._tracer
        if obs is None and tracer is None:
            frame = self._within_limit(encode(msg), topic)
            reply = await self.backend.request_client(client_id, frame, ttl, msg)
            return _unwrap(reply, type)
        # the one server→client request path (spec §8.5): timed and traced here
        started = time.perf_counter()
        span = tracer.begin("request_to_client", "client", msg, client_id) if tracer else None
        code = "OK"
        try:
            frame = self._within_limit(encode(msg), topic)
            reply = await self.backend.request_client(client_id, frame, ttl, msg)
            return _unwrap(reply, type)
        except WsmqError as exc:
            code = exc.code
            raise
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        finally:
            if obs is not None:
                obs.request_done(SERVER_TO_CLIENT, started, code)
            if span is not None:
                tracer.end(span, code)  # type: ignore[union-attr]

    def _within_limit(self, frame: bytes, topic: str) -> bytes:
        """``frame`` if clients can receive it, else TooLarge for server code: the broker never
        sends a frame over the ``maxMessageSize`` it advertised (spec §12.1), which a client's
        WebSocket layer would answer by closing the connection."""
        limit = self.options.max_message_size
        if len(frame) > limit:
            raise TooLarge(
                f"message on {topic!r} is {len(frame)} bytes, over the {limit}-byte "
                "maxMessageSize clients accept",
                {"limit": limit},
            )
        return frame

    def client_ids(self) -> list[str]:
        """IDs of the clients registered on this node."""
        return self.registry.ids()

    def get_client(self, client_id: str) -> ClientConnection | None:
        """The local connection holding ``client_id``, if any."""
        return self.registry.get(client_id)

    def handler_count(self) -> int:
        """Server handler registrations (``wsmq_subscriptions{kind="handler"}``)."""
        return self._handlers.count

    # -- BackendHost ----------------------------------------------------------------------

    def deliver_event(
        self, topic: str, frame: bytes, source: str | None, message: Message | None = None
    ) -> None:
        """Deliver an event to local subscribers (clients, then handlers)."""
        self._router.deliver_event(topic, frame, source, message)

    def start_request(
        self, topic: str, frame: bytes, message: Message | None = None
    ) -> Reply | Awaitable[Reply]:
        """Run the first local handler matching ``topic``: the reply when it is known at once
        (a sync handler's, NO_HANDLER, a handler error), else the awaitable of it. Never
        raises for handler failures (:meth:`HandlerRegistry.error_reply`); the awaitable
        enforces the request's ttl (TIMEOUT reply)."""
        msg = message if message is not None else decode(frame)
        if self._tracer is not None and not self._in_process:
            return self._tracer.serve(self._handlers.start, topic, msg, reply_frame)
        reply = self._handlers.start(topic, msg)
        if isinstance(reply, Message):
            return reply_frame(msg, reply)  # encoded here: an unencodable reply is answered
        return reply

    async def request_client(
        self, client_id: str, frame: bytes, timeout: float, message: Message | None = None
    ) -> Reply:
        """Send a request to a local client and wait for its answer."""
        conn = self.registry.get(client_id)
        if conn is None or not conn.registered:
            raise UnknownClient(f"no connected client {client_id!r}")
        msg = message if message is not None else decode(frame)
        return await conn.request(msg, frame, timeout)

    def deliver_to_client(self, client_id: str, frame: bytes) -> bool:
        """Queue a frame to a local client."""
        conn = self.registry.get(client_id)
        if conn is None:
            return False
        conn.send(frame)
        return True

    def evict_client(self, client_id: str) -> None:
        """The identity was resumed on another node: close ours with 4009, settle what waits
        on it at once and announce it (as a local resume does)."""
        self.registry.evict(client_id)


def _unwrap(reply: Reply, tp: Any) -> Any:
    msg = reply if isinstance(reply, Message) else decode(reply)
    if msg.header.type == "error":
        raise error_from_wire(msg.body, msg.header.correlation_id)
    return msg.body if tp is None else convert(msg.body, tp)
