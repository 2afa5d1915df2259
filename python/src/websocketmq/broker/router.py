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
from typing import Any

from ..backends.base import Backend, Reply
from ..errors import Forbidden, RateLimited, ShuttingDown, WsmqError
from ..protocol.envelope import Message, encode, new_error, new_event
from ..protocol.session import Authenticate, Registered, ServerSession, Subscribe, Unsubscribe
from ..protocol.topics import is_reserved
from .auth import FirstMessageAuth
from .connection import ClientConnection
from .handlers import HandlerRegistry, reply_frame
from .options import Action, BrokerOptions
from .registry import ClientRegistry

__all__ = ["Router"]

log = logging.getLogger("websocketmq.broker")


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
        try:
            await self._backend.publish(topic, encode(msg), conn.client_id, msg)
        except Exception:  # backend outage: the publish is lost (best effort, spec §7.4)
            log.exception("publish on %s from %s failed", topic, conn.client_id)
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
                for conn in targets:
                    if conn.session.client_id == source and not conn.wants_echo(topic):
                        continue
                    if authorize is not None and not self.allowed(conn, "subscribe", topic):
                        continue
                    conn.send(frame)
        self._handlers.deliver(topic, frame, source, message)

    async def announce(self, topic: str, body: Any) -> None:
        """Publish a broker event (``_internal.client.*``) through the backend."""
        if self._in_process and not self._handlers.matches(topic):
            return  # nobody local listens and there are no other nodes
        msg = new_event(topic, body)
        await self._backend.publish(topic, encode(msg), None, msg)

    # -- client→server requests -------------------------------------------------------------

    def client_request(self, conn: ClientConnection, msg: Message) -> None:
        """Route a client's request and answer it when it settles (spec §8)."""
        corr = msg.header.correlation_id
        assert corr is not None
        topic = msg.header.topic
        if self._options.authorize is not None and not self.allowed(conn, "request", topic):
            conn.send(ServerSession.fail(msg, Forbidden(f"not allowed to request {topic!r}")))
            return
        if self.closing:
            conn.send(ServerSession.fail(msg, ShuttingDown("the broker is shutting down")))
            return
        if conn.requests_in_flight >= self._options.max_pending_requests_per_connection:
            # Not charged to the error budget: a busy but well-behaved client overshooting its
            # in-flight limit must keep its connection (conformance case 9.3.1).
            limited = RateLimited("too many requests in flight on this connection")
            conn.send(ServerSession.fail(msg, limited))
            return
        if conn.has_request(corr):
            duplicate = WsmqError("BAD_MESSAGE", "duplicate correlationID")
            conn.refuse(ServerSession.fail(msg, duplicate))
            return
        # One path whatever the backend (docs/design.md §9): the backend runs the request
        # where a handler is (this node's HandlerRegistry, through BackendHost.start_request,
        # or another node) and gives back the reply when it is known at once (a sync handler,
        # NO_HANDLER: no task), else an awaitable of it, tracked until it settles.
        frame = b"" if self._in_process else encode(msg)
        try:
            work = self._backend.request(topic, frame, (msg.header.ttl or 1) / 1000, msg)
        except WsmqError as exc:
            conn.send(ServerSession.fail(msg, exc))
            return
        if isinstance(work, Message | bytes):
            conn.send(self._answer_frame(msg, work))
            return
        future = asyncio.ensure_future(work)
        conn.track_request(corr, future)
        future.add_done_callback(functools.partial(self._answer, conn, msg))

    def _answer(self, conn: ClientConnection, msg: Message, future: asyncio.Future[Reply]) -> None:
        """Answer the client when its request settles (no answer if it was cancelled)."""
        corr = msg.header.correlation_id
        assert corr is not None
        conn.untrack_request(corr, future)
        if future.cancelled():
            if self.closing:
                conn.send(ServerSession.fail(msg, ShuttingDown("the broker is shutting down")))
            return  # _client.cancel or disconnect: no answer
        exc = future.exception()
        if exc is None:
            out = self._answer_frame(msg, future.result())
        elif isinstance(exc, WsmqError):
            out = ServerSession.fail(msg, exc)
        else:
            log.error("routing request %s failed", corr, exc_info=exc)
            out = ServerSession.fail(msg, self._handlers.internal_error(exc))
        conn.send(out)

    @staticmethod
    def _answer_frame(msg: Message, reply: Reply) -> bytes:
        return reply if isinstance(reply, bytes) else reply_frame(msg, reply)

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
        await self._registry.registered(conn, action)

    async def authenticate(self, conn: ClientConnection, action: Authenticate) -> None:
        """See :meth:`FirstMessageAuth.authenticate`."""
        await self._auth.authenticate(conn, action)

    async def client_closed(self, conn: ClientConnection, reason: str) -> None:
        """The socket is gone; a connection never registered is not announced at shutdown."""
        conn.end_auth()
        await self._registry.disconnected(conn, reason, announce=not self.closing)
