"""What the broker does with a client's messages, and how events reach local clients (§7-§8).

The :class:`Router` is every connection's :class:`~websocketmq.broker.connection.ConnectionHost`:
it authorizes a client's publish, request, subscribe and unsubscribe, hands them to the backend
or the local handlers, and answers the client. It is also where the backend's events are
delivered to the local subscribers (:meth:`Router.deliver_event`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeAlias

from ..backends.base import Backend, Reply
from ..errors import Forbidden, RateLimited, ShuttingDown, TooLarge, WsmqError
from ..observe import CLIENT_TO_SERVER, Observer, answer_code
from ..protocol.envelope import Message, encode, new_error, new_event
from ..protocol.session import Authenticate, Registered, ServerSession, Subscribe, Unsubscribe
from ..protocol.topics import is_reserved
from .auth import FirstMessageAuth
from .connection import ClientConnection
from .handlers import HandlerRegistry, reply_frame
from .options import Action, BrokerOptions
from .registry import ClientRegistry

if TYPE_CHECKING:
    from ..tracing import BrokerTracer

__all__ = ["Router"]

log = logging.getLogger("websocketmq.broker")

_Track: TypeAlias = tuple[float, Any, Any]
"""A client's request being timed (metrics) and traced: ``(started, span, context)``, its
``time.perf_counter()`` at arrival, its span and the span's context (None without tracing).
A tuple, not a class: it is made for every request while metrics are on."""


class Router:
    """Routes the actions of every client connection of one broker node."""

    def __init__(
        self,
        options: BrokerOptions,
        backend: Backend,
        handlers: HandlerRegistry,
        registry: ClientRegistry,
        auth: FirstMessageAuth,
    ) -> None:
        self._options = options
        self._backend = backend
        self._handlers = handlers
        self._registry = registry
        self._auth = auth
        self._in_process = backend.in_process
        self._publish_count = 0
        self.closing = False
        """Set by ``Broker.close``: new requests are refused SHUTTING_DOWN."""
        self.draining = False
        """Set by ``Broker.drain``: new requests are refused SHUTTING_DOWN, those in flight
        are answered."""
        self.observer: Observer | None = None
        """Set by the broker: told when a client's request is answered (metrics)."""
        self.tracer: BrokerTracer | None = None
        """Set by ``Broker.start`` when tracing is on: a span per request and publish."""

    # -- authorization --------------------------------------------------------------------

    def allowed(self, conn: ClientConnection, action: Action, topic: str) -> bool:
        """The ``authorize`` hook's verdict; a hook that raises refuses (fail closed) instead
        of breaking the connection that happened to trigger the check (at delivery, that is
        the publisher's, and the other subscribers would miss the event)."""
        authorize = self._options.authorize
        if authorize is None:
            return True
        try:
            return bool(authorize(conn, action, topic))
        except Exception:
            log.exception("authorize(%s, %r) raised: refused", action, topic)
            return False

    # -- events ---------------------------------------------------------------------------

    async def client_publish(self, conn: ClientConnection, msg: Message) -> None:
        """Route a client's event (spec §7.4); FORBIDDEN if ``authorize`` says no."""
        topic = msg.header.topic
        if self._options.authorize is not None and not self.allowed(conn, "publish", topic):
            err = Forbidden(f"not allowed to publish on {topic!r}")
            conn.send(encode(new_error(msg.header.message_id, err)))
            return
        tracer = self.tracer
        span = tracer.begin("publish", "producer", msg, conn.client_id) if tracer else None
        try:
            frame = encode(msg)  # after begin(): it carries the span's traceparent
            limit = self._options.max_message_size
            if len(frame) > limit:  # grew when re-encoded with its source (1e5 -> 100000.0)
                raise TooLarge(
                    f"the event is {len(frame)} bytes as delivered, over the {limit}-byte "
                    "maxMessageSize of its receivers: not delivered",
                    {"limit": limit},
                )
            await self._backend.publish(topic, frame, conn.client_id, msg)
        except WsmqError as exc:
            # TOO_LARGE: over maxMessageSize as delivered (delivered nowhere), or refused by the
            # backend (NATS max_payload: it may have reached this node's subscribers but not the
            # other nodes'). Either way the publisher is told, about the event's messageID
            # (spec §4.1 item 1, §12.1; issue 15 defect 6)
            log.warning(
                "publish on %s from %s not forwarded: %s",
                topic,
                conn.client_id,
                exc.message,
                extra={"topic": topic, "client_id": conn.client_id, "code": exc.code},
            )
            conn.send(encode(new_error(msg.header.message_id, exc)))
        except Exception:  # backend outage: the publish is lost (best effort, spec §7.4)
            log.exception(
                "publish on %s from %s failed",
                topic,
                conn.client_id,
                extra={"topic": topic, "client_id": conn.client_id},
            )
        finally:
            if span is not None:
                span.end()
        await self.cooperate()

    async def cooperate(self) -> None:
        """Yield to the writers every few publishes: an in-process publish never suspends, so
        a tight publish loop would otherwise fill every send queue before any writer runs and
        every subscriber would look like a slow consumer."""
        self._publish_count += 1
        if self._publish_count & 7 == 0:
            await asyncio.sleep(0)

    def deliver_event(
        self, topic: str, frame: bytes, source: str | None, message: Message | None = None
    ) -> None:
        """Deliver an event to local subscribers (clients, then handlers)."""
        if not is_reserved(topic):
            targets = self._registry.subscribers(topic)
            if targets:
                if not frame:
                    frame = encode(message) if message is not None else frame
                authorize = self._options.authorize
                delivered = 0
                for conn in targets:
                    if conn.session.client_id == source and not conn.wants_echo(topic):
                        continue
                    if authorize is not None and not self.allowed(conn, "subscribe", topic):
                        continue
                    # ClientConnection.deliver, inlined: one Python call less per subscriber
                    # (a publish to 2,000 makes 2,000 of them; bench/analysis.md, "The
                    # 2,000-subscriber soak")
                    if not conn.transport.send(frame):
                        conn.slow_consumer()
                    delivered += 1
                obs = self.observer
                if obs is not None and delivered:
                    obs.sent_known("event", delivered)
        self._handlers.deliver(topic, frame, source, message)

    async def announce(self, topic: str, body: Any) -> None:
        """Publish a broker event (``_internal.client.*``) through the backend."""
        if self._in_process and not self._handlers.matches(topic):
            return  # nobody local listens and there are no other nodes
        msg = new_event(topic, body)
        await self._backend.publish(topic, encode(msg), None, msg)

    # -- client→server requests -------------------------------------------------------------

    def client_request(self, conn: ClientConnection, msg: Message) -> None:
        """Route a client's request and answer it when it settles (spec §8): the one
        client→server request path, so it is where requests are timed and traced."""
        corr = msg.header.correlation_id
        assert corr is not None
        topic = msg.header.topic
        track: _Track | None = None
        if self.tracer is not None:
            track = self._track(conn, msg)
        elif self.observer is not None:
            track = (time.perf_counter(), None, None)  # metrics only: no span
        if self._options.authorize is not None and not self.allowed(conn, "request", topic):
            refusal = ServerSession.fail(msg, Forbidden(f"not allowed to request {topic!r}"))
            self._reply(conn, refusal, track)
            return
        if self.closing or self.draining:
            self._reply(conn, _shutting_down(msg), track)
            return
        if conn.requests_in_flight >= self._options.max_pending_requests_per_connection:
            # Not charged to the error budget: a busy but well-behaved client overshooting its
            # in-flight limit must keep its connection (conformance case 9.3.1).
            limited = RateLimited("too many requests in flight on this connection")
            self._reply(conn, ServerSession.fail(msg, limited), track)
            return
        if conn.has_request(corr):
            duplicate = ServerSession.fail(msg, WsmqError("BAD_MESSAGE", "duplicate correlationID"))
            conn.refuse(duplicate)
            if track is not None:
                self._finish(track, answer_code(duplicate))
            return
        # One path whatever the backend (docs/design.md §9): the backend runs the request
        # where a handler is (this node's HandlerRegistry, through BackendHost.start_request,
        # or another node) and gives back the reply when it is known at once (a sync handler,
        # NO_HANDLER: no task), else an awaitable of it, tracked until it settles. With tracing
        # the handler runs inside the request's span (its context), and the frame sent to
        # another node carries the span's traceparent (set by BrokerTracer.begin).
        context = track[2] if track is not None else None
        frame = b"" if self._in_process else encode(msg)
        ttl = (msg.header.ttl or 1) / 1000
        try:
            if context is None:
                work = self._backend.request(topic, frame, ttl, msg)
            else:
                work = context.run(self._backend.request, topic, frame, ttl, msg)
        except WsmqError as exc:
            self._reply(conn, ServerSession.fail(msg, exc), track)
            return
        if isinstance(work, Message | bytes):
            self._reply(conn, self._answer_frame(msg, work), track)
            return
        future = asyncio.ensure_future(work) if context is None else context.run(_future, work)
        conn.track_request(corr, future)
        future.add_done_callback(functools.partial(self._answer, conn, msg, track))

    def _answer(
        self,
        conn: ClientConnection,
        msg: Message,
        track: _Track | None,
        future: asyncio.Future[Reply],
    ) -> None:
        """Answer the client when its request settles (no answer if it was cancelled)."""
        corr = msg.header.correlation_id
        assert corr is not None
        conn.untrack_request(corr, future)
        if future.cancelled():
            if self.closing:
                self._reply(conn, _shutting_down(msg), track)
            elif track is not None:
                self._finish(track, "CANCELLED")
            return  # _client.cancel or disconnect: no answer
        exc = future.exception()
        if exc is None:
            out = self._answer_frame(msg, future.result())
        elif isinstance(exc, WsmqError):
            out = ServerSession.fail(msg, exc)
        else:
            log.error(
                "routing request %s failed", corr, exc_info=exc, extra={"correlation_id": corr}
            )
            out = ServerSession.fail(msg, self._handlers.internal_error(exc))
        self._reply(conn, out, track)

    def _track(self, conn: ClientConnection, msg: Message) -> _Track:
        """Start timing a client's request and its SERVER span (with tracing on)."""
        tracer = self.tracer
        assert tracer is not None
        span = tracer.begin("request", "server", msg, conn.client_id)
        return (time.perf_counter(), span, tracer.context(span))

    def _reply(self, conn: ClientConnection, frame: bytes, track: _Track | None) -> None:
        """Send the answer of a client's request (and account for it when observed).

        Observed, the answer is queued with :meth:`ClientConnection.deliver` and accounted
        for by one ``Observer.answered`` call (sent by type, outcome code, duration) instead of
        ``sent`` + ``answer_code`` + ``request_done``: the metrics cost per request is what
        docs/benchmarks.md ("Metrics cost") holds to 5 %."""
        if track is None:
            conn.send(frame)
            return
        obs = self.observer
        if obs is None:
            conn.send(frame)
            code = answer_code(frame)
        else:
            conn.deliver(frame)
            code = obs.answered(CLIENT_TO_SERVER, track[0], frame)
        span = track[1]
        if span is not None and self.tracer is not None:
            self.tracer.end(span, code)

    def _finish(self, track: _Track, code: str) -> None:
        observer = self.observer
        if observer is not None:
            observer.request_done(CLIENT_TO_SERVER, track[0], code)
        span = track[1]
        if span is not None and self.tracer is not None:
            self.tracer.end(span, code)

    def _answer_frame(self, msg: Message, reply: Reply) -> bytes:
        """The frame answering a client's request: the handler's reply, unless it is larger
        than the ``maxMessageSize`` the client was told (its WebSocket layer would close the
        connection, failing every request on it): then ``TOO_LARGE`` for that request only
        (spec §12.1; issue 15)."""
        frame = reply if isinstance(reply, bytes) else reply_frame(msg, reply)
        limit = self._options.max_message_size
        if len(frame) <= limit:
            return frame
        topic = msg.header.topic
        log.warning("handler for %s answered %d bytes, over %d", topic, len(frame), limit)
        err = TooLarge(
            f"the handler's answer for {topic!r} is {len(frame)} bytes, over the "
            f"{limit}-byte maxMessageSize",
            {"limit": limit},
        )
        return ServerSession.fail(msg, err)

    # -- subscriptions ---------------------------------------------------------------------

    async def client_subscribe(self, conn: ClientConnection, action: Subscribe) -> None:
        """Subscribe the client, wait until the backend watches the pattern, acknowledge."""
        pattern = action.pattern
        if self._options.authorize is not None and not self.allowed(conn, "subscribe", pattern):
            conn.send(ServerSession.fail(action.message, Forbidden(f"not allowed: {pattern!r}")))
            return
        ready = self._registry.subscribe(conn, pattern, action.echo)
        if ready is not None:
            with contextlib.suppress(Exception):  # backend errors are logged by the backend
                await asyncio.shield(ready)
        conn.send(ServerSession.respond(action.message, {"topic": pattern, "subscribed": True}))

    async def client_unsubscribe(self, conn: ClientConnection, action: Unsubscribe) -> None:
        """Unsubscribe the client and acknowledge (``unsubscribed`` False if it was not)."""
        pattern = action.pattern
        had = self._registry.unsubscribe(conn, pattern)
        body = {"topic": pattern, "unsubscribed": had}
        conn.send(ServerSession.respond(action.message, body))

    # -- lifecycle ---------------------------------------------------------------------------

    async def client_registered(self, conn: ClientConnection, action: Registered) -> None:
        """See :meth:`ClientRegistry.registered`."""
        conn.end_registration()
        await self._registry.registered(conn, action)

    async def authenticate(self, conn: ClientConnection, action: Authenticate) -> None:
        """See :meth:`FirstMessageAuth.authenticate`."""
        await self._auth.authenticate(conn, action)

    async def client_closed(self, conn: ClientConnection, reason: str) -> None:
        """The socket is gone; a connection never registered is not announced at shutdown."""
        conn.end_auth()
        await self._registry.disconnected(conn, reason, announce=not self.closing)


def _future(work: Awaitable[Reply]) -> asyncio.Future[Reply]:
    return asyncio.ensure_future(work)


def _shutting_down(msg: Message) -> bytes:
    return ServerSession.fail(msg, ShuttingDown("the broker is shutting down"))
