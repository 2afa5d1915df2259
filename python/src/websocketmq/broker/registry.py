"""The node's clients: who is connected, who holds which ID, who subscribes to what (spec §6).

Registration, resume (a new connection takes over an ID: the old one is closed 4009 and
announced first, spec §6.4 rule 3, §6.5 rule 3), eviction (another node took the ID), and the
disconnect that settles everything pending on a connection and announces it
(``_internal.client.deregistered``). The backend learns of every ID this node holds
(``attach_client``/``detach_client``, one detach per attach).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..backends.base import Backend
from ..protocol.session import Registered, State
from ..protocol.topics import SubscriptionIndex
from .background import Background
from .connection import ClientConnection
from .interest import Interest

__all__ = ["TOPIC_CLIENT_DEREGISTERED", "TOPIC_CLIENT_REGISTERED", "ClientRegistry"]

log = logging.getLogger("websocketmq.broker")

TOPIC_CLIENT_REGISTERED = "_internal.client.registered"
TOPIC_CLIENT_DEREGISTERED = "_internal.client.deregistered"

Announce = Callable[[str, Any], Awaitable[None]]
"""Publish an ``_internal.client.*`` event (spec §6.5)."""


class ClientRegistry:
    """Connections, client IDs and client subscriptions of one broker node."""

    def __init__(
        self, backend: Backend, interest: Interest, background: Background, announce: Announce
    ) -> None:
        self._backend = backend
        self._interest = interest
        self._background = background
        self._announce = announce
        self._clients: dict[str, ClientConnection] = {}
        self._connections: set[ClientConnection] = set()
        self._subs: SubscriptionIndex[ClientConnection] = SubscriptionIndex()

    # -- lookups ------------------------------------------------------------------------------

    def ids(self) -> list[str]:
        """IDs of the clients registered on this node."""
        return list(self._clients)

    def get(self, client_id: str) -> ClientConnection | None:
        """The local connection holding ``client_id``, if any."""
        return self._clients.get(client_id)

    def connections(self) -> list[ClientConnection]:
        """Every open connection (registered or not), as a snapshot."""
        return list(self._connections)

    def __contains__(self, conn: object) -> bool:
        return conn in self._connections

    def subscribers(self, topic: str) -> tuple[ClientConnection, ...] | list[ClientConnection]:
        """The connections subscribed to a pattern matching ``topic``."""
        return self._subs.match(topic)

    # -- connections ----------------------------------------------------------------------------

    def add(self, conn: ClientConnection) -> None:
        """A transport accepted ``conn``."""
        self._connections.add(conn)

    def subscribe(self, conn: ClientConnection, pattern: str, echo: bool) -> Any:
        """Subscribe ``conn``; returns the backend task to await before the ack, if any."""
        if conn.add_subscription(pattern, echo):
            self._subs.add(pattern, conn)
            return self._interest.watch(pattern)
        return None

    def unsubscribe(self, conn: ClientConnection, pattern: str) -> bool:
        """Unsubscribe ``conn``; whether it was subscribed."""
        if not conn.remove_subscription(pattern):
            return False
        self._subs.remove(pattern, conn)  # one entry per (pattern, conn)
        self._interest.unwatch(pattern)
        return True

    def _teardown(self, conn: ClientConnection) -> None:
        self._connections.discard(conn)
        for pattern in conn.teardown():
            self._subs.remove(pattern, conn)
            self._interest.unwatch(pattern)

    # -- registration ------------------------------------------------------------------------

    async def registered(self, conn: ClientConnection, action: Registered) -> None:
        """``conn`` holds ``action.client_id`` now: supersede an older holder, tell the
        backend, announce ``_internal.client.registered``."""
        client_id = action.client_id
        old = self._clients.get(client_id)
        self._clients[client_id] = conn  # before any await: a concurrent resume sees us
        if old is not None and old is not conn:
            # Spec §6.4 rule 3, §6.5 rule 3: close the old connection (4009), settle what waits
            # on it *now* (a superseded socket is usually dead: its close handshake would only
            # end after close_timeout), and announce it before the new registration.
            log.info(
                "client %s resumed on a new connection; closing the old one",
                client_id,
                extra={"client_id": client_id, "code": 4009},
            )
            old.abort(4009, "superseded")
            self._teardown(old)
            await self._deregistered_event(old, "superseded")
        await self._backend.attach_client(client_id)
        if old is not None and old is not conn:
            # one detach per attach: a counting backend (NATS) would hold the ID forever
            try:
                await self._backend.detach_client(client_id)
            except Exception:
                log.exception("backend detach of superseded %s failed", client_id)
        if self._clients.get(client_id) is not conn:
            return  # superseded in the meantime: the newer connection announces itself
        resumed = " (resumed)" if action.resumed else ""
        log.info("client registered: %s%s", client_id, resumed, extra={"client_id": client_id})
        body: dict[str, Any] = {"brokerClientID": client_id}
        if action.page_session_id is not None:
            body["pageSessionID"] = action.page_session_id
        if action.resumed:
            body["resumed"] = True
        try:
            await self._announce(TOPIC_CLIENT_REGISTERED, body)
        except Exception:  # a backend outage must not cost the client its connection
            log.exception("registration event for %s failed", client_id)

    async def disconnected(self, conn: ClientConnection, reason: str, *, announce: bool) -> None:
        """The transport of ``conn`` is gone: drop it, release its ID, and announce it
        (unless ``announce`` is False and it never got registered: shutdown)."""
        if conn not in self._connections:
            return
        was_registered = conn.registered or conn.session.state is State.CLOSING
        self._teardown(conn)
        client_id = conn.client_id
        if self._clients.get(client_id) is conn:
            del self._clients[client_id]
            try:
                await self._backend.detach_client(client_id)
            except Exception:
                log.exception("backend detach of %s failed", client_id)
            if announce or was_registered:
                await self._deregistered_event(conn, reason)

    async def shut(self, conn: ClientConnection) -> None:
        """Shutdown: drop ``conn`` now and announce it (reason "shutdown", spec §6.5 rule 2)
        while the backend can still carry it."""
        self._teardown(conn)
        client_id = conn.client_id
        if self._clients.get(client_id) is conn:
            del self._clients[client_id]
            with contextlib.suppress(Exception):
                await self._backend.detach_client(client_id)
            await self._deregistered_event(conn, "shutdown")

    def evict(self, client_id: str) -> None:
        """The identity was resumed on another node: close ours with 4009, settle what waits
        on it at once and announce it (as a local resume does, :meth:`registered`)."""
        conn = self._clients.pop(client_id, None)
        if conn is not None:
            conn.abort(4009, "superseded")
            self._teardown(conn)
            self._background.spawn(self._deregistered_event(conn, "superseded"))

    async def _deregistered_event(self, conn: ClientConnection, reason: str) -> None:
        """Publish ``_internal.client.deregistered`` for ``conn`` (spec §6.5); never raises."""
        log.info(
            "client deregistered: %s (%s)",
            conn.client_id,
            reason,
            extra={"client_id": conn.client_id},
        )
        body: dict[str, Any] = {"brokerClientID": conn.client_id, "reason": reason}
        if conn.session.page_session_id is not None:
            body["pageSessionID"] = conn.session.page_session_id
        try:
            await self._announce(TOPIC_CLIENT_DEREGISTERED, body)
        except Exception:
            log.exception("deregistration event failed")
