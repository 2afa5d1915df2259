"""The standalone WebSocket server: a :class:`~websocketmq.broker.Broker` on ``websockets``.

``serve(broker, host, port, path)`` accepts wsmq/1 connections on ``path`` (other paths: 404),
selects the ``wsmq.v1`` subprotocol when offered and accepts clients that offer none (seed
clients, spec §2.1), admits upgrades through :class:`~websocketmq.guards.UpgradeGuard` (Host and
Origin 403, closing 503, per-IP 429, ``authenticate`` 401: the guards every transport shares),
and serves a few plain HTTP GETs: ``/healthz`` and ``/readyz`` (docs/operations.md,
"Health"), ``/metrics`` when the broker has metrics on, ``/dashboard`` (behind ``authenticate``)
when it has the dashboard on, the application's own files given as
``pages={"/": Path("web/index.html"), …}`` (read on each GET), and, when the package ships
them, ``/``, ``/index.html`` and ``/websocketmq.js`` from ``websocketmq/static/``.

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
import logging
from collections import deque
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server as _WsServer
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as _ws_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State as _WsState

from .broker import Broker
from .endpoints import probe, static_file
from .guards import Admission, Refusal, Upgrade, UpgradeGuard
from .limits import RedactingFilter
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
_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/websocketmq.js": ("websocketmq.js", "text/javascript; charset=utf-8"),
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


class _Transport:
    """Bounded send queue + writer task for one connection (implements broker.Transport)."""

    __slots__ = (
        "_batch",
        "_batch_bytes",
        "_closing",
        "_fast",
        "_queue",
        "_wake",
        "_ws",
        "limit",
        "writer",
    )

    def __init__(self, ws: ServerConnection, limit: int, *, fast: bool | None = None) -> None:
        self._ws = ws
        self._fast = fast_write_supported(ws) if fast is None else fast
        """Whether the direct write path is on (None: probe ``websockets``)."""
        # The queue, its wake-up event and the writer task exist only once a frame has to wait
        # (the socket backs up, or a close): idle connections skip them (idle target: 20 KiB).
        self._queue: deque[bytes] | None = None
        self._wake: asyncio.Event | None = None
        self._closing: tuple[int, str] | None = None
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self.limit = limit
        self.writer: asyncio.Task[None] | None = None

    def send(self, frame: bytes) -> bool:
        if self._closing is not None:
            return True  # dropped: the connection is going away anyway
        queue = self._queue
        if not queue and self._fast:
            # Fast path: collect the frames produced in this loop iteration and write them
            # with one syscall right after (call_soon), when nothing is queued before them and
            # the socket keeps up. No task switch, no await; ordering holds because the queue
            # is empty and the flush is scheduled before any later writer step.
            ws = self._ws
            if (
                ws.protocol.state is _OPEN
                and ws.send_in_progress is None
                and ws.transport.get_write_buffer_size() + self._batch_bytes < _DIRECT_WRITE_LIMIT
            ):
                if not self._batch:
                    asyncio.get_running_loop().call_soon(self._flush)
                self._batch.append(frame)
                self._batch_bytes += len(frame)
                return True
        if queue is None:
            queue = self._queue = deque()
        elif len(queue) >= self.limit:
            return False
        queue.append(frame)
        self._start_writer()
        return True

    def _flush(self) -> None:
        """Write the batched frames: encode each as a WebSocket frame, one transport write."""
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        ws = self._ws
        if not batch or ws.protocol.state is not _OPEN:
            return
        try:
            for frame in batch:
                ws.protocol.send_text(frame)
            data = b"".join(ws.protocol.data_to_send())
            if data:
                ws.transport.write(data)
        except Exception:  # the connection broke under us; the reader will see it
            log.debug("batched write failed", exc_info=True)

    def _start_writer(self) -> None:
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())
        elif self._wake is not None:
            self._wake.set()

    def close(
        self, code: int, reason: str, *, final: bytes | None = None, flush: bool = True
    ) -> None:
        if self._closing is not None:
            return
        self._closing = (code, reason)
        if not flush:
            # e.g. a slow consumer: the writer may be stuck in a drain that never ends; replace
            # it by a close handshake bounded by websockets' close_timeout (then TCP abort)
            if self._queue is not None:
                self._queue.clear()
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
        """Close handshake with a short deadline, then abort the TCP connection: a consumer
        that cannot keep up will not read our close frame either. ``final`` (when the direct
        path could not write it) goes first, within the same deadline."""
        try:
            async with asyncio.timeout(1.0):
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
        return len(self._batch) + (len(self._queue) if self._queue is not None else 0)

    async def _write(self) -> None:
        ws = self._ws
        if self._wake is None:
            self._wake = asyncio.Event()
        wake = self._wake
        try:
            while True:
                queue = self._queue
                while queue:
                    await ws.send(queue.popleft(), text=True)
                if self._closing is not None:
                    await ws.close(*self._closing)
                    return
                wake.clear()
                await wake.wait()
        except ConnectionClosed:
            return


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
        fast_write: bool | None = None,
        pages: Mapping[str, Path] | None = None,
        **ws_options: Any,
    ) -> None:
        self.broker = broker
        self.fast_write = fast_write
        """Direct writes on/off; None (default): on when :func:`fast_write_supported`."""
        self.pages = dict(pages or {})
        """URL path → file served on GET (before the package's own static files)."""
        self.host = host
        self.path = path if path.startswith("/") else "/" + path
        self.port = port
        self._ws_options = ws_options
        self._server: _WsServer | None = None
        self._identities: dict[ServerConnection, Any] = {}
        """Identity from ``authenticate``, from the upgrade until :meth:`_handle` takes it;
        dropped by :meth:`_release` on every other way out (failed handshake, timeout)."""
        self._guard = UpgradeGuard(broker)
        """Every upgrade-time guard (websocketmq.guards): one place for every transport."""
        self._ip_of: dict[ServerConnection, Admission] = {}
        """The admission (per-IP slot) of each connection, released on every way out."""
        # per connection until its handshake ends: _handle takes over (one task less per open
        # connection), else the watcher releases the connection's per-IP slot and identity
        self._watchers: dict[ServerConnection, asyncio.Task[None]] = {}
        self._closed = asyncio.Event()

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
            "max_size": limit * 4 if limit else None,
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
        path = urlsplit(request.path).path
        if path != self.path:
            known = probe(self.broker, path)
            if known is not None:
                return _response(known.status, known.reason, known.body, known.content_type)
            broker = self.broker
            if path == "/dashboard" and broker.dashboard is not None:
                return await self._dashboard(conn, request, broker.dashboard)
            static = _STATIC.get(path)
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
        self._ip_of[conn] = admission
        self._watchers[conn] = asyncio.get_running_loop().create_task(
            self._release_when_closed(conn)
        )
        refusal = await self._guard.authenticate(asked, admission)
        if refusal is not None:
            self._release(conn)
            return _refuse(refusal)
        if conn not in self._ip_of:  # the client left while the hook ran: cleaned up
            return _response(401, "Unauthorized", b"connection gone\n", "text/plain")
        if admission.identity is not None:
            self._identities[conn] = admission.identity
        return None

    async def _dashboard(self, conn: ServerConnection, request: Request, dash: Any) -> Response:
        """The dashboard page, behind the ``authenticate`` hook like an upgrade (401 when it
        refuses); docs/operations.md, "Dashboard"."""
        hook = self.broker.options.authenticate
        upgrade = Upgrade(request.path, request.headers, conn.remote_address, conn.local_address)
        if hook is not None and await self._guard.identify(upgrade) is None:
            return _response(401, "Unauthorized", b"unauthenticated\n", "text/plain")
        return _response(200, "OK", dash.page(), "text/html; charset=utf-8")

    def _release(self, conn: ServerConnection) -> None:
        """Give back ``conn``'s per-IP slot and forget its identity; idempotent (called on
        every way out)."""
        self._identities.pop(conn, None)
        admission = self._ip_of.pop(conn, None)
        if admission is not None:
            admission.release()

    async def _release_when_closed(self, conn: ServerConnection) -> None:
        """Covers handshakes that never reach :meth:`_handle` (timeout, peer gone, 4xx).
        :meth:`_handle` cancels it once the connection is open, and releases in its own
        ``finally``."""
        try:
            await conn.wait_closed()
        except asyncio.CancelledError:
            if self._watchers.pop(conn, None) is None:
                return  # handed over to _handle
            self._release(conn)
            raise
        self._watchers.pop(conn, None)
        self._release(conn)

    # -- WebSocket ------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        watcher = self._watchers.pop(ws, None)
        if watcher is not None:
            watcher.cancel()  # this handler releases the connection in its finally
        identity = self._identities.pop(ws, None)
        broker = self.broker
        transport = _Transport(ws, broker.options.send_queue_size, fast=self.fast_write)
        try:
            conn = broker.connect(transport, identity)
        except Exception:
            self._release(ws)
            await ws.close(1001, "broker shutting down")
            return
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
            self._release(ws)
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
    fast_write: bool | None = None,
    pages: Mapping[str, Path] | None = None,
    **ws_options: Any,
) -> Server:
    """Serve ``broker`` over WebSocket at ``ws://host:port/path``.

    ``async with serve(broker, port=0) as server: print(server.url)`` or
    ``server = await serve(broker)``; extra keyword arguments go to ``websockets.serve``.
    ``fast_write=False`` turns the direct write path off (see :func:`fast_write_supported`).
    """
    return Server(broker, host, port, path, fast_write=fast_write, pages=pages, **ws_options)
