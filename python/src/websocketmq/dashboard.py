"""The live dashboard (docs/operations.md, "Dashboard"): ``BrokerOptions.dashboard=True``.

``GET /dashboard`` (behind the ``authenticate`` hook, like an upgrade) returns the page
``static/dashboard.html`` with a fresh *viewer ticket* in it. The page connects to the broker
like any browser client (the bundled ``/websocketmq.js``), registering with the
``pageSessionID`` ``dashboard-<ticket>``, and handles the server→client request
:data:`TOPIC`. Once a second the broker sends that request, carrying :meth:`Dashboard.stats`,
to each registered viewer — and to nobody else: a server→client request goes to one client
(spec §8), so no other client can subscribe to the numbers, and a client cannot forge them
(clients cannot send requests to clients; the page ignores events on the topic).

Why a wsmq connection and not an HTTP poll: the dashboard then shows the broker doing its own
job, and needs no second transport. A viewer that does not answer within the interval is
simply skipped until it does (no pile-up); the numbers cost one :func:`snapshot` per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from importlib import resources
from typing import Any

from .errors import WsmqError
from .observe import CLIENT_TO_SERVER, SERVER_TO_CLIENT, Tally, snapshot
from .protocol.envelope import Message

__all__ = ["PAGE_SESSION_PREFIX", "TOPIC", "Dashboard"]

log = logging.getLogger("websocketmq.dashboard")

TOPIC = "wsmq.dashboard.stats"
"""The server→client request a viewer page handles (its body: :meth:`Dashboard.stats`)."""
PAGE_SESSION_PREFIX = "dashboard-"
_TICKET_TTL = 3600.0
_MAX_CLIENTS = 200
_MAX_PATTERNS = 50


class Dashboard:
    """Viewer tickets, the viewers' client IDs, and the once-a-second push to them."""

    def __init__(self, broker: Any, tally: Tally, interval: float = 1.0) -> None:
        self.broker = broker
        self.tally = tally
        self.interval = interval
        self._tickets: dict[str, float] = {}
        """ticket → expiry (time.monotonic); a page reconnecting reuses its ticket."""
        self.viewers: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._busy: set[str] = set()
        broker.subscribe("_internal.client.registered", self._registered)
        broker.subscribe("_internal.client.deregistered", self._deregistered)

    # -- the page ---------------------------------------------------------------------------

    def page(self) -> bytes:
        """``dashboard.html`` with a new viewer ticket filled in."""
        now = time.monotonic()
        for ticket, expiry in list(self._tickets.items()):
            if expiry < now:
                del self._tickets[ticket]
        ticket = secrets.token_urlsafe(18)
        self._tickets[ticket] = now + _TICKET_TTL
        html = (resources.files("websocketmq") / "static" / "dashboard.html").read_text()
        return html.replace("{{TICKET}}", ticket).replace("{{TOPIC}}", TOPIC).encode()

    def _registered(self, msg: Message, _source: str | None) -> None:
        body = msg.body if isinstance(msg.body, dict) else {}
        page = body.get("pageSessionID")
        client_id = body.get("brokerClientID")
        if not isinstance(page, str) or not page.startswith(PAGE_SESSION_PREFIX):
            return
        expiry = self._tickets.get(page.removeprefix(PAGE_SESSION_PREFIX))
        if expiry is None or expiry < time.monotonic():
            log.info("dashboard: unknown or expired ticket from %s", client_id)
            return
        if isinstance(client_id, str) and self.broker.get_client(client_id) is not None:
            self.viewers.add(client_id)  # a viewer on this node (the ticket is per node)

    def _deregistered(self, msg: Message, _source: str | None) -> None:
        body = msg.body if isinstance(msg.body, dict) else {}
        self.viewers.discard(body.get("brokerClientID", ""))

    # -- the push ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start pushing (idempotent); the broker calls it from ``start()``."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="wsmq-dash")

    async def close(self) -> None:
        """Stop pushing."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not self.viewers:
                continue
            stats = self.stats()
            for client_id in list(self.viewers):
                if client_id not in self._busy:  # still busy with the last one: skip
                    self._busy.add(client_id)
                    task = asyncio.get_running_loop().create_task(self._push(client_id, stats))
                    task.add_done_callback(functools.partial(self._idle, client_id))

    def _idle(self, client_id: str, _task: asyncio.Task[None]) -> None:
        self._busy.discard(client_id)

    async def _push(self, client_id: str, stats: dict[str, Any]) -> None:
        try:
            await self.broker.request_to_client(client_id, TOPIC, stats, timeout=5 * self.interval)
        except WsmqError as exc:
            if exc.code in ("UNKNOWN_CLIENT", "DISCONNECTED"):
                self.viewers.discard(client_id)

    def stats(self) -> dict[str, Any]:
        """What the page shows: totals (the page turns them into rates), the broker's state,
        the clients (at most 200) and the subscription patterns with most subscribers (50)."""
        broker = self.broker
        tally = self.tally
        snap = snapshot(broker)
        clients: list[dict[str, Any]] = []
        patterns: dict[str, int] = {}
        for conn in broker.registry.connections():
            subs = conn.subscriptions
            for pattern in subs:
                patterns[pattern] = patterns.get(pattern, 0) + 1
            if len(clients) < _MAX_CLIENTS:
                clients.append(
                    {
                        "id": conn.client_id,
                        "state": "authenticating"
                        if conn.auth_pending
                        else conn.session.state.value,
                        "subscriptions": len(subs),
                        "queued": getattr(conn.transport, "queued", 0),
                        "viewer": conn.client_id in self.viewers,
                    }
                )
        top = sorted(patterns.items(), key=lambda kv: (-kv[1], kv[0]))[:_MAX_PATTERNS]
        return {
            "time": time.time(),
            "uptime": time.time() - tally.started_at,
            "ready": snap.ready,
            "draining": snap.draining,
            "backend": {
                "name": snap.backend,
                "up": snap.backend_up,
                "counters": snap.backend_counters,
            },
            "connections": snap.connections,
            "clients": clients,
            "clientCount": sum(snap.connections.values()),
            "patterns": [{"pattern": p, "subscribers": n} for p, n in top],
            "handlers": snap.handler_subscriptions,
            "received": dict(tally.received_by_type),
            "sent": tally.sent_counts(),
            "requests": {
                CLIENT_TO_SERVER: tally.request_count(CLIENT_TO_SERVER),
                SERVER_TO_CLIENT: tally.request_count(SERVER_TO_CLIENT),
            },
            "errors": dict(tally.errors),
            "closes": {str(code): n for code, n in tally.closes.items()},
        }
