"""The standalone WebSocket server: a :class:`~websocketmq.broker.Broker` on ``websockets``.

``serve(broker, host, port, path)`` accepts wsmq/1 connections on ``path`` (other paths: 404),
selects the ``wsmq.v1`` subprotocol when offered and accepts clients that offer none (seed
clients, spec §2.1), admits upgrades through :class:`~websocketmq.guards.UpgradeGuard` (Host and
Origin 403, closing 503, per-IP 429, ``authenticate`` 401: the guards every transport shares),
and serves a few plain HTTP GETs: ``/healthz`` and ``/readyz`` (docs/operations.md,
"Health"), ``/metrics`` when the broker has metrics on, ``/dashboard`` (behind ``authenticate``)
when it has the dashboard on, the application's own files given as
``pages={"/": Path("web/index.html"), …}`` (read on each GET), and, when the package ships
them, ``/websocketmq.js`` from ``websocketmq/static/`` and, with ``demo=True`` only (``wsmq
serve --demo``), the demo page at ``/`` and ``/index.html``: an application's root is its own.
While the broker drains or closes, upgrades get 503 (docs/operations.md, "Graceful shutdown").

Each connection gets a bounded send queue drained by one writer task (design.md §9): the broker
never awaits a slow socket; when the queue is full, ``send`` says so and the broker decides
(close 4008). This module knows no protocol rule: it implements
:class:`~websocketmq.broker.connection.Transport` (docs/design.md, "The transport seam").

The direct write path (frames produced in one loop iteration written with one syscall, no task
switch) reaches into ``websockets`` internals; :func:`fast_write_supported` probes for them
and, when the installed version lacks them, every frame goes through the queue and its writer
(``await ws.send``), which is slower but uses the public API only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections import deque
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from websockets.asyncio.server import Server as _WsServer
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as _ws_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, PayloadTooBig
from websockets.frames import CONT, Frame
from websockets.http11 import Request, Response
from websockets.protocol import State as _WsState

from .broker import Broker
from .endpoints import probe, static_file
from .guards import Admission, Refusal, Upgrade, UpgradeGuard, proxy_networks
from .limits import ConnectionCounter, RedactingFilter, SendBudget
from .protocol.session import too_large_frame
from .transport import end_connection

__all__ = ["SUBPROTOCOL", "Server", "fast_write_supported", "serve"]

log = logging.getLogger("websocketmq.server")
ws_log = logging.getLogger("websocketmq.server.ws")
"""The logger handed to ``websockets``: its debug output (request lines, headers) goes through
:class:`~websocketmq.limits.RedactingFilter`, so tokens in query strings and credential headers
never reach a log (docs/security.md §6)."""
ws_log.addFilter(RedactingFilter())

SUBPROTOCOL = "wsmq.v1"
_OPEN = _WsState.OPEN
_DIRECT_WRITE_LIMIT = 64 * 1024
"""Bytes buffered in the transport above which frames go through the queue and its writer
(which waits for the socket to drain); the queue bound then decides who is a slow consumer."""
_FRAGMENT_COST = 256
"""Bytes a fragmented message is charged per fragment on top of its payload, against
``max_message_size``: what websockets keeps per buffered fragment (a ``Frame`` and its
``bytes``), so an unfinished message never holds much more than the size limit (1 MiB → at
most 4,096 empty fragments, below websockets' own cut-off, which closes with no envelope)."""
_STATIC = {
    "/websocketmq.js": ("websocketmq.js", "text/javascript; charset=utf-8"),
}
_DEMO_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    **_STATIC,
}


_FAST_WRITE: dict[type, bool] = {}


def fast_write_supported(ws: ServerConnection) -> bool:
    """Whether ``ws`` has the ``websockets`` internals the direct write path uses (checked for
    websockets 15-17): ``ws.send_in_progress``, ``ws.send_data()``, ``ws.protocol.state``,
    ``.send_text()`` and ``.data_to_send()``, ``ws.transport.get_write_buffer_size()`` and
    ``.write()``. Probed once per connection class (they are instance attributes)."""
    kind = type(ws)
    known = _FAST_WRITE.get(kind)
    if known is None:
        protocol = getattr(ws, "protocol", None)
        transport = getattr(ws, "transport", None)
        known = _FAST_WRITE[kind] = (
            hasattr(ws, "send_in_progress")
            and callable(getattr(ws, "send_data", None))
            and hasattr(protocol, "state")
            and callable(getattr(protocol, "send_text", None))
            and callable(getattr(protocol, "data_to_send", None))
            and callable(getattr(transport, "get_write_buffer_size", None))
            and callable(getattr(transport, "write", None))
        )
        if not known:
            log.warning("websockets internals changed: direct writes off, every frame queued")
    return known


_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
}


def _response(status: int, reason: str, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
        ]
    )
    return Response(status, reason, headers, body)


def _refuse(refusal: Refusal) -> Response:
    return _response(refusal.status, refusal.reason, refusal.body, "text/plain")


_last_frame: tuple[bytes, bytes] = (b"", b"\x81\x00")


def _text_frame(payload: bytes) -> bytes:
    """``payload`` as one final, unmasked, uncompressed WebSocket text frame (RFC 6455 §5.2).

    A publish hands the *same* ``bytes`` object to every subscriber's transport in one go
    (``Router.deliver_event``), so the last frame built is kept: a fan-out to n subscribers
    without compression frames the envelope once and writes the same bytes n times, instead
    of n ``Frame.serialize`` calls (docs/design.md §9, "One frame per publish")."""
    global _last_frame
    last = _last_frame
    if payload is last[0]:
        return last[1]
    size = len(payload)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 65536:
        head = b"\x81\x7e" + size.to_bytes(2, "big")
    else:
        head = b"\x81\x7f" + size.to_bytes(8, "big")
    frame = head + payload
    _last_frame = (payload, frame)
    return frame


class _Flusher:
    """One loop callback that writes every connection's batch of this loop iteration.

    A publish to n subscribers batches a frame on n transports; one ``call_soon`` for all of
    them (instead of one per transport: n asyncio handles per publish) keeps the per-delivery
    cost at one list append and one ``transport.write``."""

    __slots__ = ("_dirty", "_scheduled")

    def __init__(self) -> None:
        self._dirty: list[_Transport] = []
        self._scheduled = False

    def add(self, transport: _Transport) -> None:
        """``transport`` has a batch to write once the current callbacks are done."""
        self._dirty.append(transport)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._run)

    def _run(self) -> None:
        dirty, self._dirty, self._scheduled = self._dirty, [], False
        for transport in dirty:
            transport._flush()


class _Transport:
    """Bounded send queue + writer task for one connection (implements broker.Transport).

    The queue is bounded by the broker's :class:`~websocketmq.limits.SendBudget` (frames and
    bytes per connection, bytes across all connections), the policy every transport shares;
    ``send`` returns False when it refuses a frame, and the broker closes the connection 4008
    (slow consumer)."""

    __slots__ = (
        "_aio",
        "_batch",
        "_batch_bytes",
        "_budget",
        "_bytes",
        "_closing",
        "_fast",
        "_first",
        "_flusher",
        "_plain",
        "_proto",
        "_queue",
        "_wake",
        "_ws",
        "on_overflow",
        "writer",
    )

    def __init__(
        self,
        ws: ServerConnection,
        budget: SendBudget,
        *,
        flusher: _Flusher | None = None,
        fast: bool | None = None,
    ) -> None:
        self._ws = ws
        self._flusher = flusher if flusher is not None else _Flusher()
        self._fast = fast_write_supported(ws) if fast is None else fast
        """Whether the direct write path is on (None: probe ``websockets``)."""
        self._plain = self._fast and not ws.protocol.extensions
        """No extension negotiated (no permessage-deflate): frames are built here, once per
        publish (:func:`_text_frame`), instead of by websockets once per subscriber."""
        # The queue, its wake-up event and the writer task exist only once a frame has to wait
        # (the socket backs up, or a close): idle connections skip them (idle target: 20 KiB).
        self._queue: deque[bytes] | None = None
        self._bytes = 0
        """Payload bytes in ``_queue`` (each counted in ``_budget`` too)."""
        self._budget = budget
        self._wake: asyncio.Event | None = None
        self._closing: tuple[int, str] | None = None
        self._proto = ws.protocol
        self._aio = ws.transport
        """websockets' protocol and the asyncio transport, held here: the direct path touches
        as few objects per delivery as it can (a fan-out to 2,000 reaches each of them once
        per publish, with cold caches between the socket writes: bench/analysis.md, "The
        2,000-subscriber soak")."""
        self._first: bytes | None = None
        """The first frame batched in this loop iteration (the only one, in a fan-out)."""
        self._batch: list[bytes] = []
        """The frames batched after ``_first`` in this loop iteration."""
        self._batch_bytes = 0
        self.on_overflow: Callable[[], None] | None = None
        """How the broker closes this connection as a slow consumer (4008, with its final
        frame) when the server-wide cap needs its bytes back; set by the server."""
        self.writer: asyncio.Task[None] | None = None

    def send(self, frame: bytes) -> bool:
        if self._closing is not None:
            return True  # dropped: the connection is going away anyway
        queue = self._queue
        # Fast path: collect the frames produced in this loop iteration and write them with
        # one syscall right after (the server's _Flusher), when nothing is queued before them
        # and the socket keeps up. No task switch, no await; ordering holds because the queue
        # is empty and the flush is scheduled before any later writer step. The connection's
        # state is checked once, at the flush: a frame batched for a connection that stopped
        # being OPEN is dropped there, as ``ws.send`` on the queued path would refuse it.
        if (
            not queue
            and self._fast
            and self._ws.send_in_progress is None
            and self._aio.get_write_buffer_size() + self._batch_bytes < _DIRECT_WRITE_LIMIT
        ):
            framed = _text_frame(frame) if self._plain else frame
            if self._first is None:
                self._first = framed
                self._flusher.add(self)
            else:
                self._batch.append(framed)
            self._batch_bytes += len(frame)
            return True
        size = len(frame)
        if queue is None:
            queue = self._queue = deque()
        if not self._budget.admit(self, len(queue), self._bytes, size):
            return False
        queue.append(frame)
        self._bytes += size
        self._start_writer()
        return True

    def _flush(self) -> None:
        """Write the batched frames with one transport write (built here when plain, else
        encoded by websockets, which compresses)."""
        first = self._first
        if first is None:
            return
        self._first = None
        self._batch_bytes = 0
        batch = self._batch
        try:
            proto = self._proto
            if proto.state is not _OPEN:
                return
            if self._plain:
                self._aio.write(b"".join((first, *batch)) if batch else first)
                return
            proto.send_text(first)
            for frame in batch:
                proto.send_text(frame)
            data = b"".join(proto.data_to_send())
            if data:
                self._aio.write(data)
        except Exception:  # the connection broke under us; the reader will see it
            log.debug("batched write failed", exc_info=True)
        finally:
            if batch:
                batch.clear()

    def _start_writer(self) -> None:
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())
        elif self._wake is not None:
            self._wake.set()

    def _drop_queue(self) -> None:
        """Forget every queued frame and give its bytes back to the budget."""
        if self._queue is not None:
            self._queue.clear()
        self._budget.give(self, self._bytes)
        self._bytes = 0

    def overflow(self) -> None:
        """Closed as a slow consumer to make room under the server-wide cap: through the
        broker (its RATE_LIMITED frame, then 4008) when it told us how, and the queue is
        dropped either way."""
        if self.on_overflow is not None:
            self.on_overflow()
        if self._closing is None:
            self.close(4008, "slow consumer", flush=False)
        self._drop_queue()

    def close(
        self, code: int, reason: str, *, final: bytes | None = None, flush: bool = True
    ) -> None:
        if self._closing is not None:
            return
        self._closing = (code, reason)
        if not flush:
            # e.g. a slow consumer: the writer may be stuck in a drain that never ends; replace
            # it by a close handshake bounded by websockets' close_timeout (then TCP abort)
            self._drop_queue()
            self._first = None
            self._batch.clear()
            self._batch_bytes = 0
            if self.writer is not None:
                self.writer.cancel()
            if final is not None and self._fast:
                self._write_now(final)
                final = None
            self.writer = asyncio.get_running_loop().create_task(
                self._close_hard(code, reason, final)
            )
            return
        self._flush()  # batched frames go before the queue and the close frame
        if final is not None:
            if self._queue is None:
                self._queue = deque()
            self._queue.append(final)
            self._bytes += len(final)
            self._budget.take(self, len(final), force=True)  # the last one: not capped
        self._start_writer()

    def _write_now(self, frame: bytes) -> None:
        """Best effort, straight into the transport buffer, behind what the socket holds."""
        ws = self._ws
        if ws.protocol.state is not _OPEN:
            return
        with contextlib.suppress(Exception):
            ws.protocol.send_text(frame)
            ws.send_data()

    async def _close_hard(self, code: int, reason: str, final: bytes | None) -> None:
        """Close handshake within ``BrokerOptions.close_timeout``, then abort the TCP
        connection: a consumer that cannot keep up may not read our close frame either, but
        one that is merely behind still gets the final frame and the close code (spec §12.1).
        The queue is already discarded, so the wait pins only what the socket buffers hold.
        ``final`` (when the direct path could not write it) goes first, within the same
        deadline."""
        try:
            async with asyncio.timeout(self._ws.close_timeout):
                if final is not None:
                    with contextlib.suppress(ConnectionClosed):
                        await self._ws.send(final, text=True)
                await self._ws.close(code, reason)
        except TimeoutError:
            self._ws.transport.abort()

    @property
    def direct_writes(self) -> bool:
        """Whether frames take the direct write path (else the queue and its writer)."""
        return self._fast

    @property
    def closing(self) -> tuple[int, str] | None:
        """The (code, reason) we decided to close with, if any."""
        return self._closing

    @property
    def queued(self) -> int:
        """Frames waiting to be written (``wsmq_send_queue_frames``)."""
        batched = 0 if self._first is None else 1 + len(self._batch)
        return batched + (len(self._queue) if self._queue is not None else 0)

    @property
    def queued_bytes(self) -> int:
        """Payload bytes waiting in the send queue (bounded by ``send_queue_bytes``)."""
        return self._bytes

    async def _write(self) -> None:
        ws = self._ws
        if self._wake is None:
            self._wake = asyncio.Event()
        wake = self._wake
        try:
            while True:
                queue = self._queue
                while queue:
                    frame = queue[0]
                    await ws.send(frame, text=True)  # into the transport: no longer queued
                    queue.popleft()
                    self._bytes -= len(frame)
                    self._budget.give(self, len(frame))
                if self._closing is not None:
                    await ws.close(*self._closing)
                    return
                wake.clear()
                await wake.wait()
        except ConnectionClosed:
            return
        finally:
            self._drop_queue()


class _Admission:
    """Who may hold a socket (docs/security.md §4), from TCP accept to the end.

    Accepted sockets whose HTTP request has not arrived yet are "pending": at most
    ``max_pending_handshakes`` server-wide (one more drops the oldest), and each holds a slot
    of its peer address in the guard's per-IP counter, so silent sockets count against
    ``max_connections_per_ip`` from accept. An address over its limit drops its own oldest
    pending socket to make room. When the request arrives the pending slot is handed back and
    :class:`~websocketmq.guards.UpgradeGuard` takes the slot of the *client* address (which,
    behind a trusted proxy, only the request says; sockets from trusted proxies hold no
    pending slot). So silent sockets can neither exhaust file descriptors nor lock out a
    client that sends its upgrade promptly."""

    __slots__ = ("admitted", "evicted", "max_pending", "pending", "per_ip", "proxies")

    def __init__(self, per_ip: ConnectionCounter, max_pending: int, proxies: Any) -> None:
        self.per_ip = per_ip
        """The guard's per-IP counter (``UpgradeGuard.per_ip``): one count of connections."""
        self.max_pending = max_pending
        self.proxies = proxies
        """Trusted proxy networks (``guards.proxy_networks``): never counted at accept."""
        self.pending: dict[ServerConnection, str | None] = {}
        """Pending sockets, oldest first, and the peer address whose slot each holds."""
        self.admitted: dict[ServerConnection, Admission] = {}
        """The guard's admission (a per-IP slot) of each upgrade, until the connection ends."""
        self.evicted = 0
        """Pending sockets dropped to make room (for tests and logs)."""

    def accepted(self, conn: ServerConnection, ip: str) -> None:
        """A TCP connection was accepted: count it, dropping the oldest pending socket
        (server-wide when too many are pending; this address's own when it is full)."""
        pending = self.pending
        if self.max_pending > 0 and len(pending) >= self.max_pending:
            self._evict(next(iter(pending)))
        held: str | None = None
        if not self._proxy(ip):
            if self.per_ip.acquire(ip):
                held = ip
            else:
                victim = next((c for c, who in pending.items() if who == ip), None)
                if victim is not None:
                    self._evict(victim)
                    held = ip if self.per_ip.acquire(ip) else None
        pending[conn] = held

    def requested(self, conn: ServerConnection) -> None:
        """The HTTP request arrived: no longer pending; its slot goes back (the guard counts
        the upgrade from here, by client address)."""
        if conn in self.pending:
            held = self.pending.pop(conn)
            if held is not None:
                self.per_ip.release(held)

    def admit(self, conn: ServerConnection, admission: Admission) -> None:
        """The guard admitted the upgrade: keep its slot until :meth:`lost`."""
        self.admitted[conn] = admission

    def lost(self, conn: ServerConnection) -> None:
        """The connection is gone (or its upgrade refused): every slot back; idempotent."""
        self.requested(conn)
        admission = self.admitted.pop(conn, None)
        if admission is not None:
            admission.release()

    def _proxy(self, ip: str) -> bool:
        if not self.proxies:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self.proxies)

    def _evict(self, conn: ServerConnection) -> None:
        self.lost(conn)
        self.evicted += 1
        transport = getattr(conn, "transport", None)
        if transport is not None:
            transport.abort()


class _Connection(ServerConnection):
    """websockets' server connection with the broker's admission and message-size rules.

    Subclassed per server (:func:`_connection_class`) to carry its :class:`_Admission` and
    size limit. Two hooks on the sans-I/O protocol: every frame of a *fragmented* message is
    charged its payload plus ``_FRAGMENT_COST`` against ``max_message_size`` (one function call
    more per received frame, a test per fragment), and a close 1009 from websockets (message
    too big, deflate bomb, too many fragments) is preceded by the ``TOO_LARGE`` envelope the
    protocol session supplies (spec §12), like the size violations the session sees itself."""

    admission: _Admission
    message_limit: int = 0

    def __init__(self, protocol: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(protocol, *args, **kwargs)
        self.identity: Any = None
        """From ``authenticate`` at the upgrade, for :meth:`Server._handle`."""
        self._fragments = 0
        self._recv_frame = protocol.recv_frame
        self._fail = protocol.fail
        protocol.recv_frame = self._receive_frame
        protocol.fail = self._failing

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
        self.admission.accepted(self, ip)

    def connection_lost(self, exc: Exception | None) -> None:
        self.admission.lost(self)
        super().connection_lost(exc)
        # the hooks are bound methods of self held by the protocol: drop that cycle, so the
        # connection is freed by reference counting, not at the next garbage collection
        self.protocol.__dict__.pop("recv_frame", None)
        self.protocol.__dict__.pop("fail", None)

    def _receive_frame(self, frame: Frame) -> None:
        if frame.fin and frame.opcode is not CONT:
            self._recv_frame(frame)  # whole messages and control frames: as websockets does
            return
        if frame.opcode is CONT:
            self._fragments += 1
            size = (self.protocol.current_size or 0) + len(frame.data)
        elif frame.opcode.value <= 2:  # TEXT or BINARY opening a fragmented message
            self._fragments = 1
            size = len(frame.data)
        else:  # pragma: no cover - control frames are never fragmented (websockets checks)
            self._recv_frame(frame)
            return
        limit = self.message_limit
        if limit and size + _FRAGMENT_COST * self._fragments > limit:
            raise PayloadTooBig(None, max(limit - _FRAGMENT_COST * self._fragments, 0))
        self._recv_frame(frame)

    def _failing(self, code: int, reason: str = "") -> None:
        protocol = self.protocol
        if code == 1009 and protocol.state is _OPEN:
            text = f"message over {self.message_limit} bytes: {reason or 'too big'}"
            with contextlib.suppress(Exception):
                protocol.send_text(too_large_frame(text))
        self._fail(code, reason)


def _connection_class(admission: _Admission, message_limit: int) -> type[_Connection]:
    """A :class:`_Connection` subclass bound to one server's admission and size limit."""
    bound = type(
        "_ServerConnection",
        (_Connection,),
        {"admission": admission, "message_limit": message_limit},
    )
    return cast("type[_Connection]", bound)


class Server:
    """A running (or ready to run) server; use ``async with serve(...)`` or ``await serve(...)``.

    ``port`` and ``url`` are known once started (port 0 picks a free port).
    """

    def __init__(
        self,
        broker: Broker,
        host: str = "127.0.0.1",
        port: int = 8080,
        path: str = "/ws",
        *,
        compression: str | None = None,
        fast_write: bool | None = None,
        pages: Mapping[str, Path] | None = None,
        demo: bool = False,
        **ws_options: Any,
    ) -> None:
        self.broker = broker
        self.compression = compression
        """``"deflate"``: negotiate permessage-deflate; None (default): no compression."""
        self._static = _DEMO_STATIC if demo else _STATIC
        self.fast_write = fast_write
        """Direct writes on/off; None (default): on when :func:`fast_write_supported`."""
        self.pages = dict(pages or {})
        """URL path → file served on GET (before the package's own static files)."""
        self.host = host
        self.path = path if path.startswith("/") else "/" + path
        self.port = port
        self._ws_options = ws_options
        self._server: _WsServer | None = None
        opts = broker.options
        self._guard = UpgradeGuard(broker)
        """Every upgrade-time guard (websocketmq.guards): one place for every transport."""
        self._admission = _Admission(
            self._guard.per_ip, opts.max_pending_handshakes, proxy_networks(opts.trusted_proxies)
        )
        self.send_budget = broker.send_budget
        """Bytes queued for slow clients, broker-wide, against ``max_queued_bytes`` (the
        broker's, shared with every other transport serving it)."""
        self._flusher = _Flusher()
        self._closed = asyncio.Event()

    @property
    def queued_bytes(self) -> int:
        """Bytes waiting in every connection's send queue now (``send_budget.total``)."""
        return self.send_budget.total

    @property
    def pending_handshakes(self) -> int:
        """TCP connections accepted whose upgrade request has not arrived yet."""
        return len(self._admission.pending)

    def connections_from(self, ip: str) -> int:
        """Connections from ``ip`` counted against ``max_connections_per_ip`` (from accept)."""
        return self._admission.per_ip.count(ip)

    @property
    def url(self) -> str:
        """``ws://host:port/path`` of the WebSocket endpoint."""
        return f"ws://{self.host}:{self.port}{self.path}"

    async def start(self) -> Server:
        """Start the broker and listen; returns self."""
        opts = self.broker.options
        await self.broker.start()
        limit = opts.max_message_size
        ws_kwargs: dict[str, Any] = {
            # the whole message, after decompression; a fragmented one pays per fragment too
            "max_size": limit or None,
            "compression": self.compression,
            "ping_interval": opts.ping_interval,
            "ping_timeout": opts.ping_timeout,
            "open_timeout": opts.handshake_timeout,  # slowloris: docs/security.md §4
            "close_timeout": opts.close_timeout,  # a dead peer is freed after this, too
            "logger": ws_log,
        }
        ws_kwargs.update(self._ws_options)
        self._server = await _ws_serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            select_subprotocol=_select_subprotocol,
            create_connection=_connection_class(self._admission, limit),
            **ws_kwargs,
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        log.info("listening on %s", self.url)
        return self

    async def close(self) -> None:
        """Stop accepting, close the broker gracefully (1001, SHUTTING_DOWN), wait for every
        connection to end (bounded: stragglers are closed after 5 s)."""
        if self._server is None:
            return
        server = self._server
        server.close(close_connections=False)
        await self.broker.close()
        try:
            async with asyncio.timeout(5):
                await server.wait_closed()
        except TimeoutError:
            server.close(close_connections=True)
            await server.wait_closed()
        self._closed.set()

    async def serve_forever(self) -> None:
        """Wait until :meth:`close` completes."""
        await self._closed.wait()

    async def __aenter__(self) -> Server:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __await__(self) -> Generator[Any, None, Server]:
        return self.start().__await__()

    # -- HTTP -----------------------------------------------------------------------------

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self._admission.requested(conn)
        path = urlsplit(request.path).path
        if path != self.path:
            known = probe(self.broker, path)
            if known is not None:
                return _response(known.status, known.reason, known.body, known.content_type)
            broker = self.broker
            if path == "/dashboard" and broker.dashboard is not None:
                return await self._dashboard(conn, request, broker.dashboard)
            static = self._static.get(path)
            upgrade = "upgrade" in request.headers.get("Connection", "").lower()
            page = self.pages.get(path)
            if page is not None and not upgrade:
                kind = _CONTENT_TYPES.get(page.suffix, "application/octet-stream")
                return _response(200, "OK", page.read_bytes(), kind)
            if static is not None and not upgrade:
                body = static_file(static[0])
                if body is not None:
                    return _response(200, "OK", body, static[1])
            return _response(404, "Not Found", b"not found\n", "text/plain; charset=utf-8")
        asked = Upgrade(request.path, request.headers, conn.remote_address, conn.local_address)
        admission = self._guard.reserve(asked)
        if isinstance(admission, Refusal):
            return _refuse(admission)
        admitted = self._admission
        admitted.admit(conn, admission)
        refusal = await self._guard.authenticate(asked, admission)
        if refusal is not None:
            admitted.lost(conn)
            return _refuse(refusal)
        if conn not in admitted.admitted:  # the client left while the hook ran: cleaned up
            return _response(401, "Unauthorized", b"connection gone\n", "text/plain")
        if isinstance(conn, _Connection):
            conn.identity = admission.identity
        return None

    async def _dashboard(self, conn: ServerConnection, request: Request, dash: Any) -> Response:
        """The dashboard page, behind the ``authenticate`` hook like an upgrade (401 when it
        refuses); docs/operations.md, "Dashboard"."""
        hook = self.broker.options.authenticate
        upgrade = Upgrade(request.path, request.headers, conn.remote_address, conn.local_address)
        if hook is not None and await self._guard.identify(upgrade) is None:
            return _response(401, "Unauthorized", b"unauthenticated\n", "text/plain")
        return _response(200, "OK", dash.page(), "text/html; charset=utf-8")

    # -- WebSocket ------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        identity = getattr(ws, "identity", None)
        broker = self.broker
        transport = _Transport(
            ws,
            self.send_budget,
            flusher=self._flusher,
            fast=self.fast_write,
        )
        try:
            conn = broker.connect(transport, identity)
        except Exception:
            self._admission.lost(ws)
            await ws.close(1001, "broker shutting down")
            return
        transport.on_overflow = conn.slow_consumer
        reason = "closed"
        code = 1006  # lost without a close frame, unless we learn better
        try:
            while True:
                frame = await ws.recv()
                await conn.receive(frame)
        except ConnectionClosed as exc:
            ours = transport.closing
            rcvd = exc.rcvd
            if ours is not None:
                code = ours[0]
                reason = f"closed by broker: {ours[0]} {ours[1]}".rstrip()
            elif rcvd is not None:
                code = rcvd.code
                reason = f"closed by client: {rcvd.code}"
            else:
                reason = "connection lost"
        except Exception:
            log.exception("connection %s failed", conn.client_id)
            transport.close(1011, "internal error")
            code, reason = 1011, "internal error"
        finally:
            self._admission.lost(ws)
            await end_connection(broker, conn, transport, code, reason)


def _select_subprotocol(conn: ServerConnection, offered: Any) -> Any:
    """``wsmq.v1`` when offered; otherwise no subprotocol (seed clients), never a rejection."""
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


def serve(
    broker: Broker,
    host: str = "127.0.0.1",
    port: int = 8080,
    path: str = "/ws",
    *,
    compression: str | None = None,
    fast_write: bool | None = None,
    pages: Mapping[str, Path] | None = None,
    demo: bool = False,
    **ws_options: Any,
) -> Server:
    """Serve ``broker`` over WebSocket at ``ws://host:port/path``.

    ``async with serve(broker, port=0) as server: print(server.url)`` or
    ``server = await serve(broker)``; extra keyword arguments go to ``websockets.serve``.
    ``fast_write=False`` turns the direct write path off (see :func:`fast_write_supported`);
    ``demo=True`` serves the demo page at ``/`` (the handlers come from
    :func:`websocketmq.demo.install_demo`).

    ``compression="deflate"`` negotiates permessage-deflate with clients that offer it (every
    browser does). Off by default: each compressed connection keeps two zlib streams, about
    40 KiB more per idle connection (57 KiB instead of 17 KiB measured, docs/benchmarks.md),
    and pays the compression on every frame; every subscriber's frame is also compressed
    separately, so a fan-out is framed once per subscriber instead of once per publish. Turn it
    on for large, compressible messages over slow links.
    """
    return Server(
        broker,
        host,
        port,
        path,
        compression=compression,
        fast_write=fast_write,
        pages=pages,
        demo=demo,
        **ws_options,
    )
