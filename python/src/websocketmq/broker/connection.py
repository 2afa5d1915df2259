"""One client connection as the broker sees it: the adapter between a transport and a session.

A transport (``websocketmq.server`` for the ``websockets`` library, later ASGI) calls
:meth:`ClientConnection.receive` with every frame it reads, in order, and
:meth:`ClientConnection.closed` once when the socket is gone. The connection feeds the frame to
its :class:`~websocketmq.protocol.session.ServerSession` and performs the actions that come back
in one dispatch (:meth:`ClientConnection.perform`): the ones that concern only this connection
(frames to send, a close, the answer to a server→client request, a ``_client.cancel``) here, and
the ones the broker must route (publish, request, subscribe, registration) on its
:class:`ConnectionHost`.

The connection owns its per-connection state — subscriptions, requests in flight, the
first-message-auth deadline — and offers it through methods, so no other module reaches into it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Protocol, assert_never

from ..backends.base import Reply
from ..errors import Disconnected, RateLimited, RequestTimeout, ShuttingDown
from ..logs import rate_limit
from ..observe import Observer
from ..protocol.envelope import INVALID_CORRELATION, Message, encode, new_error
from ..protocol.ids import new_client_id
from ..protocol.session import (
    Action,
    Answer,
    Authenticate,
    CancelRequest,
    Close,
    Output,
    Publish,
    Registered,
    Request,
    Send,
    ServerSession,
    SessionConfig,
    State,
    Subscribe,
    Unsubscribe,
)
from ..protocol.topics import matches

__all__ = ["ClientConnection", "ConnectionHost", "Transport"]

log = rate_limit(logging.getLogger("websocketmq.broker"))
"""The broker's logger (every module of the package logs to it), rate-limited: a flood of slow
consumers or dropped events logs a few lines per call site, not one each (websocketmq.logs)."""

Waiter = asyncio.Future[Message]
"""What a server→client request waits on (settled by the session's :class:`Answer`)."""

_LIVE = (State.AUTH_PENDING, State.OPEN, State.REGISTERED)


class Transport(Protocol):
    """What the broker needs from one connection's transport."""

    def send(self, frame: bytes) -> bool:
        """Queue a text frame without blocking; False when the send queue is full."""

    def close(
        self, code: int, reason: str, *, final: bytes | None = None, flush: bool = True
    ) -> None:
        """Close the WebSocket with ``code``; returns at once. ``flush``: after the queued
        frames, then ``final``. Not ``flush``: drop the queue, write ``final`` best effort,
        and bound the closing handshake (the peer is not reading)."""


class ConnectionHost(Protocol):
    """What a connection asks of its broker: the actions that cross connections."""

    async def client_publish(self, conn: ClientConnection, msg: Message) -> None:
        """Route a client's event (spec §7.4)."""

    def client_request(self, conn: ClientConnection, msg: Message) -> None:
        """Route a client's request to a handler and answer it when it settles (spec §8)."""

    async def client_subscribe(self, conn: ClientConnection, action: Subscribe) -> None:
        """Subscribe the client, then acknowledge (spec §7.1)."""

    async def client_unsubscribe(self, conn: ClientConnection, action: Unsubscribe) -> None:
        """Unsubscribe the client, then acknowledge (spec §7.2)."""

    async def client_registered(self, conn: ClientConnection, action: Registered) -> None:
        """Enter the client into the registry, resume/supersede, announce it (spec §6)."""

    async def authenticate(self, conn: ClientConnection, action: Authenticate) -> None:
        """Run the first-message authentication hook on the session's :class:`Authenticate`."""

    async def client_closed(self, conn: ClientConnection, reason: str) -> None:
        """The transport is gone: drop the connection's state, announce it."""


class ClientConnection:
    """The broker's view of one client connection (what ``authorize`` receives)."""

    __slots__ = (
        "_auth",
        "_echo",
        "_enrol",
        "_host",
        "_obs",
        "_subs",
        "_tasks",
        "identity",
        "session",
        "transport",
    )

    def __init__(
        self,
        host: ConnectionHost,
        transport: Transport,
        identity: Any,
        config: SessionConfig,
        *,
        auth_pending: bool = False,
        observer: Observer | None = None,
    ) -> None:
        self._host = host
        self._obs = observer
        """Counts what this connection receives and sends (websocketmq.observe), or None."""
        self.transport = transport
        self.identity = identity
        self.session: ServerSession[Waiter] = ServerSession(
            new_client_id(),
            config,
            auth_pending=auth_pending,
            counts=observer.received_by_type if observer is not None else None,
        )
        self._subs: set[str] = set()
        self._echo: set[str] = set()
        self._tasks: dict[str, asyncio.Future[Any]] = {}
        """Requests in flight (tasks, or futures from ``Backend.request_nowait``)."""
        self._auth: asyncio.TimerHandle | None = None
        """The timer of the first-message authentication deadline while it runs (the state
        itself is the session's AUTH_PENDING)."""
        self._enrol: asyncio.TimerHandle | None = None
        """The timer of the registration deadline while it runs (the state itself is the
        session's OPEN)."""

    @property
    def client_id(self) -> str:
        """The connection's client ID (changes once if the client resumes an identity)."""
        return self.session.client_id

    @property
    def registered(self) -> bool:
        """Whether the client has been sent its registration ack."""
        return self.session.state is State.REGISTERED

    @property
    def live(self) -> bool:
        """Neither closing nor closed."""
        return self.session.state in _LIVE

    # -- output ---------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Queue a frame; a full queue closes the connection with 4008 (slow consumer)."""
        obs = self._obs
        if obs is not None:
            obs.sent(frame)
        if not self.transport.send(frame):
            self.slow_consumer()

    def deliver(self, frame: bytes) -> None:
        """:meth:`send` for a frame whose kind the caller tells the observer itself: an event
        fanned out to many (``Observer.sent_known`` once, not once per subscriber), an
        answer (``Observer.answered``), a server→client request. ``Router.deliver_event``
        inlines it for the fan-out (keep the two alike)."""
        if not self.transport.send(frame):
            self.slow_consumer()

    def slow_consumer(self) -> None:
        """The send queue is full (or the server-wide cap needs its bytes, called by the
        transport): spec §12.1 ``RATE_LIMITED`` (reason ``slow-consumer``) written past the
        queue, which is dropped, then close 4008; it never slows the others."""
        if self.session.state in _LIVE:
            log.warning(
                "client %s: send queue full, closing (slow consumer)",
                self.client_id,
                extra={"client_id": self.client_id, "code": 4008},
            )
            self.session.close()
            err = RateLimited("send queue full: slow consumer", {"reason": "slow-consumer"})
            final = encode(new_error(INVALID_CORRELATION, err))
            self.transport.close(4008, "slow consumer", final=final, flush=False)

    def abort(self, code: int, reason: str) -> None:
        """Close from our side (eviction, shutdown, failed authentication)."""
        if self.session.state in _LIVE:
            self.session.close()
            self.transport.close(code, reason)

    def refuse(self, frame: bytes) -> None:
        """Send a refusal the client caused, charged to its error budget (spec §12.1)."""
        self.output(self.session.refuse(frame))

    def output(self, actions: Iterable[Output]) -> None:
        """Carry out actions that only write: frames to send, a close."""
        for action in actions:
            match action:
                case Send(frame=frame):
                    self.send(frame)
                case Close(code=code, reason=reason):
                    self.transport.close(code, reason)
                case _:
                    assert_never(action)

    # -- input ----------------------------------------------------------------------------

    async def receive(self, frame: str | bytes) -> None:
        """Process one received frame (called by the transport, in order; the session counts
        it for the observer: websocketmq.observe)."""
        await self.perform(self.session.receive(frame))

    async def perform(self, actions: Iterable[Action[Waiter]]) -> None:
        """Carry out the session's actions, in order: the one dispatch of a received frame."""
        host = self._host
        for action in actions:
            match action:
                case Request(message=msg):
                    host.client_request(self, msg)
                case Send(frame=frame):
                    self.send(frame)
                case Answer(waiter=waiter, message=msg):
                    if not waiter.done():
                        waiter.set_result(msg)
                case Publish(message=msg):
                    await host.client_publish(self, msg)
                case Subscribe():
                    await host.client_subscribe(self, action)
                case Unsubscribe():
                    await host.client_unsubscribe(self, action)
                case CancelRequest(correlation_id=corr):
                    self.cancel_request(corr, "CANCELLED")
                case Registered():
                    await host.client_registered(self, action)
                case Close(code=code, reason=reason):
                    self.transport.close(code, reason)
                case Authenticate():
                    await host.authenticate(self, action)
                case _:
                    assert_never(action)

    async def closed(self, reason: str = "closed") -> None:
        """The transport is gone: fail what waits on this client, drop its state."""
        await self._host.client_closed(self, reason)

    # -- first-message authentication (docs/security.md §5) --------------------------------

    @property
    def auth_pending(self) -> bool:
        """Whether the first frame must still authenticate the connection."""
        return self.session.state is State.AUTH_PENDING

    def await_auth(self, deadline: asyncio.TimerHandle) -> None:
        """Keep the timer of the authentication deadline, to cancel it when it is over."""
        self._auth = deadline

    def end_auth(self) -> None:
        """Authentication is over (passed, failed, expired or the socket left): no deadline."""
        if self._auth is not None:
            self._auth.cancel()
            self._auth = None

    # -- registration deadline (spec §12.1) ---------------------------------------------------

    def await_registration(self, deadline: float) -> None:
        """Close the connection if it has not registered within ``deadline`` seconds."""
        loop = asyncio.get_running_loop()
        self._enrol = loop.call_later(deadline, self._registration_expired, deadline)

    def end_registration(self) -> None:
        """Registered (or gone): no deadline any more."""
        if self._enrol is not None:
            self._enrol.cancel()
            self._enrol = None

    def _registration_expired(self, deadline: float) -> None:
        self._enrol = None
        actions = self.session.registration_expired(deadline)
        if actions:
            log.info(
                "client %s: not registered within %g s, closing",
                self.client_id,
                deadline,
                extra={"client_id": self.client_id, "code": 4002},
            )
        self.output(actions)

    # -- client→server requests in flight ---------------------------------------------------

    @property
    def requests_in_flight(self) -> int:
        """Client→server requests this connection waits on."""
        return len(self._tasks)

    def requests(self) -> list[asyncio.Future[Any]]:
        """The work serving this connection's requests in flight (``Broker.drain`` waits)."""
        return list(self._tasks.values())

    def has_request(self, correlation_id: str) -> bool:
        """Whether a request with this correlation ID is in flight."""
        return correlation_id in self._tasks

    def track_request(self, correlation_id: str, work: asyncio.Future[Any]) -> None:
        """Remember the task (or future) serving a request until :meth:`untrack_request`."""
        self._tasks[correlation_id] = work

    def untrack_request(self, correlation_id: str, work: asyncio.Future[Any] | None) -> None:
        """Forget the request if ``work`` still serves it (a reused ID may have replaced it)."""
        if self._tasks.get(correlation_id) is work:
            del self._tasks[correlation_id]

    def cancel_request(self, correlation_id: str, reason: str) -> None:
        """``_client.cancel``: stop the handler; the client gets no answer (spec §8.8)."""
        task = self._tasks.pop(correlation_id, None)
        if task is not None:
            task.cancel(reason)

    def cancel_requests(self, reason: str) -> list[asyncio.Future[Any]]:
        """Cancel every request in flight (shutdown); returns them, to wait for their end."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel(reason)
        return tasks

    # -- server→client requests --------------------------------------------------------------

    async def request(self, msg: Message, frame: bytes, timeout: float) -> Reply:
        """Send a server→client request and wait for its answer (spec §8.5); TIMEOUT and
        DISCONNECTED come back as error replies, a cancelled caller sends ``_internal.cancel``."""
        corr = msg.header.correlation_id
        assert corr is not None
        loop = asyncio.get_running_loop()
        waiter: Waiter = loop.create_future()
        self.session.send_request(msg, waiter)
        obs = self._obs
        if obs is not None:
            obs.sent_known("request")
        self.deliver(frame or encode(msg))
        timer = loop.call_later(timeout, _expire, waiter)  # cheaper than asyncio.timeout()
        try:
            return await waiter
        except TimeoutError:
            cancel = self.session.give_up(corr, "TIMEOUT")
            if cancel is not None:
                self.send(cancel)
            err = RequestTimeout(
                f"client {self.client_id} did not answer {msg.topic!r} in {timeout:g} s"
            )
            return new_error(corr, err)
        except Disconnected as exc:
            return new_error(corr, exc)
        except asyncio.CancelledError:
            cancel = self.session.give_up(corr, "CANCELLED")
            if cancel is not None:
                self.send(cancel)
            raise
        finally:
            timer.cancel()

    def give_up_requests(self) -> None:
        """Shutdown: every server→client request fails SHUTTING_DOWN and the client is told
        to stop its handler (spec §8.8 rule 2)."""
        for waiter, cancel in self.session.give_up_all("SHUTTING_DOWN"):
            self.send(cancel)
            if not waiter.done():
                waiter.set_exception(ShuttingDown("the broker is shutting down"))

    # -- subscriptions ----------------------------------------------------------------------

    @property
    def subscriptions(self) -> frozenset[str]:
        """The patterns this client is subscribed to."""
        return frozenset(self._subs)

    def add_subscription(self, pattern: str, echo: bool) -> bool:
        """Subscribe (idempotent; ``echo`` is updated every time); True if it is new."""
        new = pattern not in self._subs
        if new:
            self._subs.add(pattern)
        if echo:
            self._echo.add(pattern)
        else:
            self._echo.discard(pattern)
        return new

    def remove_subscription(self, pattern: str) -> bool:
        """Unsubscribe; True if the client was subscribed."""
        if pattern not in self._subs:
            return False
        self._subs.discard(pattern)
        self._echo.discard(pattern)
        return True

    def wants_echo(self, topic: str) -> bool:
        """Whether the client asked for its own events on ``topic`` (spec §7.1 ``echo``)."""
        return bool(self._echo) and any(matches(p, topic) for p in self._echo)

    def teardown(self) -> list[str]:
        """Drop the connection's state at once (spec §8.9): server→client requests pending on
        it settle DISCONNECTED, its client→server handlers are cancelled. Returns the patterns
        it was subscribed to (the registry drops them). Idempotent."""
        self.end_auth()
        self.end_registration()
        for waiter in self.session.closed():
            if not waiter.done():
                waiter.set_exception(Disconnected(f"client {self.client_id} disconnected"))
        for task in self._tasks.values():
            task.cancel("DISCONNECTED")
        self._tasks.clear()
        patterns = list(self._subs)
        self._subs.clear()
        self._echo.clear()
        return patterns


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
