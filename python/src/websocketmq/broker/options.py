"""Broker options with documented defaults (the seed's ``broker.DefaultOptions()``)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from ..backends.base import Backend

__all__ = [
    "Action",
    "Authenticate",
    "AuthenticateMessage",
    "Authorize",
    "BrokerOptions",
    "HandshakeRequest",
]

Action = Literal["subscribe", "publish", "request"]


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """What ``authenticate`` sees of the HTTP upgrade request."""

    path: str
    """Path and query string of the request."""
    headers: Any  # websockets.datastructures.Headers (case-insensitive mapping)
    """The request headers, ``websockets.datastructures.Headers`` under every transport."""
    remote_address: Any = None
    """The socket's peer ``(ip, port)`` (a reverse proxy's, behind one)."""
    scope: Any = None
    """The transport's request: the ASGI scope (with ``scope["session"]`` when the app runs
    Starlette's SessionMiddleware) under ``websocketmq.asgi``, the ``aiohttp.web.Request``
    under ``websocketmq.aiohttp``, None under the standalone server (docs/integration.md)."""

    @property
    def cookies(self) -> dict[str, str]:
        """The request's cookies by name (a cookie login becomes the connection's identity)."""
        from ..guards import parse_cookies

        return parse_cookies(self.headers)


Authenticate = Callable[[HandshakeRequest], "Any | Awaitable[Any]"]
"""Called at the upgrade; returns the identity (any object) or None/raises → HTTP 401."""

AuthenticateMessage = Callable[[Any, Any], "Any | Awaitable[Any]"]
"""``(upgrade_identity, auth) -> identity``: ``auth`` is the ``"auth"`` value of the first
``_client.register`` body; return the identity, or None/raise → ``UNAUTHENTICATED``, 1008."""

Authorize = Callable[[Any, Action, str], bool]
"""``(client, action, topic) -> bool``; ``client`` has ``.client_id`` and ``.identity``.
Denied → ``FORBIDDEN``; for subscriptions it is also checked per delivered topic, so nothing
from a forbidden topic ever reaches that client. Must be fast and synchronous (hot path)."""


def _default_backend() -> Backend:
    from ..backends.memory import MemoryBackend

    return MemoryBackend()


@dataclass(slots=True)
class BrokerOptions:
    """Everything a broker can be tuned with; start from ``BrokerOptions.default()``.

    Times are in seconds, sizes in bytes. Each default is chosen for a broker that serves
    browsers on the open internet.
    """

    ping_interval: float | None = 20.0
    """WebSocket ping every this many seconds to detect dead peers (None: off). Also announced
    to clients in the registration ack so browser clients can send ``_client.ping``."""
    ping_timeout: float | None = 20.0
    """Close a connection whose pong is this late."""
    request_timeout: float = 30.0
    """Default ttl of a request that carries none, and of server→client requests."""
    max_ttl: float = 300.0
    """Requests asking for a longer ttl are clamped to this."""
    max_message_size: int = 1 << 20
    """Larger messages get ``TOO_LARGE`` then close 1009, whatever their size or fragmentation:
    the WebSocket layer stops reading at this size (after decompression), and a fragmented
    message is charged 256 bytes per fragment on top of its payload, so an unfinished one never
    holds more than this (docs/security.md §4)."""
    send_queue_size: int = 1024
    """Frames queued per connection. When a slow client fills it, that client is closed with
    4008 "slow consumer": it never slows the publisher or the other subscribers."""
    send_queue_bytes: int = 4 << 20
    """Bytes queued per connection (4 MiB; 0: off): a slow client whose queue would pass it is
    closed 4008 like one over ``send_queue_size``. A frame is always accepted into an empty
    queue, so a single frame larger than this still goes out to a client that keeps up."""
    max_queued_bytes: int = 256 << 20
    """Bytes queued for slow clients across every connection of the broker, whichever
    transport serves it (256 MiB; 0: off): when a frame would pass it, the connection holding
    the most queued bytes is closed 4008, so many slow consumers at once cannot pin more than
    this (docs/security.md §4)."""
    allowed_origins: Sequence[str | None] | None = None
    """Origin policy at the upgrade (docs/security.md §3); refused → HTTP 403.
    None (default): *same-origin* — a browser's Origin must match the request's Host; clients
    that send no Origin (non-browser) are accepted. A list: exactly these origins (normalized:
    case, default port); add ``None`` to accept clients without an Origin; ``["*"]``: any."""
    allowed_hosts: Sequence[str] | None = None
    """Host names accepted at the upgrade (DNS rebinding, docs/security.md §3.1); refused →
    HTTP 403. None (default): a request arriving on a loopback address must name a loopback
    host (``localhost``, ``127.0.0.1``, ``[::1]``…), any name elsewhere. A list: on every
    interface, loopback names, IP literals and these names (``.example.com``: with its
    subdomains; ``"*"``: any)."""
    trusted_proxies: Sequence[str] = ()
    """Addresses or networks (``10.0.0.0/8``) of reverse proxies whose ``forwarded_header``
    names the client: the per-IP limit and the logs then use that address (docs/security.md
    §4). Empty (default): the socket's peer, headers ignored (anyone can send them)."""
    forwarded_header: str = "X-Forwarded-For"
    """The header the trusted proxies set: ``X-Forwarded-For`` (nginx, HAProxy, cloud load
    balancers) or ``Forwarded`` (RFC 7239). Only one is read: a proxy that sets one passes the
    other through from the client unchanged."""
    registration_topic: str = "_client.register"
    """Topic of the registration event (design.md §4)."""
    max_pending_requests_per_connection: int = 256
    """Client requests in flight per connection; more → ``RATE_LIMITED``."""
    max_event_tasks: int = 10_000
    """Async event handlers running at once (broker-wide); more are dropped with a warning."""
    resume_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    """HMAC key of resume tokens; random per process. Cluster nodes must share one."""
    resume_token_ttl: float = 3600.0
    """How long after its issue a resume token is accepted."""
    authenticate: Authenticate | None = None
    """Upgrade hook (see :data:`Authenticate`). None: everybody, identity None."""
    authenticate_message: AuthenticateMessage | None = None
    """First-message hook (see :data:`AuthenticateMessage`), for browsers that should not put
    a token in the URL. When set, the first frame must be ``_client.register`` whose body has
    ``"auth"``; refused → ``UNAUTHENTICATED``, close 1008; nothing within ``auth_timeout`` →
    ``UNAUTHENTICATED``, close 4001. Combines with ``authenticate`` (its identity is passed)."""
    auth_timeout: float = 10.0
    """Seconds a connection may take to authenticate with its first message."""
    registration_timeout: float | None = 30.0
    """Seconds a connection may stay open without registering (its first message registers
    it, explicitly or implicitly: spec §6.3). Past it the broker sends ``TIMEOUT``
    (``details.reason: "registration-deadline"``) and closes with 4002, so silent sockets do not
    hold connection slots (docs/security.md §4). None or 0: no deadline."""
    authorize: Authorize | None = None
    """Per-action hook (see :data:`Authorize`). None: everything allowed."""
    detailed_errors: bool = False
    """Whether a handler's unexpected exception reaches the caller as ``"<Type>: <text>"`` in
    the ``HANDLER_ERROR`` message. Off by default (spec §11.3: a generic message), because
    exception text can hold secrets; the broker always logs the full exception. Turn it on in
    development, or raise ``WsmqError("MY_CODE", "safe text")`` to choose what callers see."""
    backend: Backend = field(default_factory=_default_backend)
    """Routing between nodes; MemoryBackend (one process) by default."""
    # Limits of websocketmq.limits; every default and code is in docs/security.md §4.
    max_json_depth: int = DEFAULT_LIMITS.max_json_depth
    """Deepest JSON nesting of a frame, checked before parsing → ``BAD_MESSAGE`` (0: off)."""
    message_rate: float = DEFAULT_LIMITS.message_rate
    """Events/requests per second per connection → ``RATE_LIMITED``, dropped (0: off)."""
    message_burst: float = DEFAULT_LIMITS.message_burst
    """Messages a connection may send at once before ``message_rate`` applies."""
    error_budget: int = DEFAULT_LIMITS.error_budget
    """Client-caused errors tolerated per ``error_window`` → ``RATE_LIMITED`` then close 4029."""
    error_window: float = DEFAULT_LIMITS.error_window
    """Seconds over which the error budget refills."""
    max_connections_per_ip: int = DEFAULT_LIMITS.max_connections_per_ip
    """Concurrent connections per client address → HTTP 429 (0: off). Behind a proxy every
    client shares the proxy's address unless the proxy is in ``trusted_proxies``."""
    handshake_timeout: float = DEFAULT_LIMITS.handshake_timeout
    """Seconds from TCP accept to a completed upgrade (slowloris) → connection dropped."""
    max_pending_handshakes: int = 512
    """TCP connections accepted whose HTTP upgrade request has not arrived yet, server-wide
    (0: off). One more drops the oldest of them, so silent sockets can neither exhaust the
    process's file descriptors nor lock out a client that completes its handshake promptly.
    Keep it well under the file limit (``ulimit -n``). Pending handshakes count against
    ``max_connections_per_ip`` from accept; a client over that limit evicts its own oldest
    pending handshake, or gets HTTP 429 when it has none (docs/security.md §4)."""
    close_timeout: float = 2.0
    """Seconds a closing handshake may take before the TCP connection is aborted. A dead peer
    (no FIN) is freed within ``ping_interval + ping_timeout + close_timeout``."""
    # Operations (docs/operations.md).
    metrics: bool = False
    """Count messages, requests, errors and closes for Prometheus (``broker.metrics``, served
    at ``GET /metrics``); needs ``pip install 'websocketmq[metrics]'``. Off: the hot path
    pays one attribute test per hook (docs/benchmarks.md, "Metrics cost")."""
    dashboard: bool = False
    """Serve the live dashboard at ``GET /dashboard`` (behind ``authenticate``), fed over a
    wsmq connection of its own (topic ``_dashboard.stats``)."""
    tracing: bool | None = None
    """Spans for requests (both directions) and publishes, with W3C ``traceparent`` carried in
    the envelope header (spec §3.2). None: on when ``opentelemetry-api`` is installed."""

    def limits(self) -> Limits:
        """The per-connection limits the protocol session enforces."""
        return Limits(
            max_message_size=self.max_message_size,
            max_json_depth=self.max_json_depth,
            message_rate=self.message_rate,
            message_burst=self.message_burst,
            error_budget=self.error_budget,
            error_window=self.error_window,
            max_connections_per_ip=self.max_connections_per_ip,
            handshake_timeout=self.handshake_timeout,
        )

    @classmethod
    def default(cls) -> BrokerOptions:
        """The documented defaults (the seed's ``DefaultOptions()``); tweak what you need."""
        return cls()
