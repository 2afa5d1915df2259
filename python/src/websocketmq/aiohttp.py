"""The broker inside an aiohttp ``web.Application`` (docs/integration.md).

``WsmqAiohttp(broker, path="/ws").setup(app)`` adds the WebSocket route at ``path`` and
``GET /websocketmq.js``, ``/healthz``, ``/readyz``, ``/metrics`` beside the app's routes, and
joins the broker to the app's startup and cleanup. Every upgrade goes through
:class:`~websocketmq.guards.UpgradeGuard`, the guards the standalone server applies
(``authenticate`` sees the ``web.Request`` as ``HandshakeRequest.scope``), and frames go
through :class:`~websocketmq.transport.QueuedTransport`. Needs
``pip install 'websocketmq[aiohttp]'``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from websockets.datastructures import Headers

from .endpoints import CLIENT_BUNDLE, PROBES, Page, client_bundle, probe
from .guards import Refusal, Upgrade, UpgradeGuard
from .server import SUBPROTOCOL
from .transport import QueuedTransport, run_connection

try:
    from aiohttp import WSMsgType, web
except ImportError:  # pragma: no cover - the aiohttp extra is in dev
    raise ImportError(
        "websocketmq.aiohttp needs aiohttp: pip install 'websocketmq[aiohttp]'"
    ) from None

if TYPE_CHECKING:
    from .broker import Broker

__all__ = ["WsmqAiohttp"]


class WsmqAiohttp:
    """A broker as routes of an aiohttp application."""

    def __init__(self, broker: Broker, path: str = "/ws", *, client_bundle: bool = True) -> None:
        self.broker = broker
        self.path = path if path.startswith("/") else "/" + path
        self.serve_client = client_bundle
        """Whether ``GET /websocketmq.js`` serves the browser client."""
        self.guard = UpgradeGuard(broker)

    def setup(self, app: web.Application) -> web.Application:
        """Add the routes and the broker's start/close to ``app``; returns ``app``."""
        app.router.add_get(self.path, self.handle)
        pages = [*PROBES, CLIENT_BUNDLE] if self.serve_client else list(PROBES)
        for path in pages:
            app.router.add_get(path, self._page)
        app.on_startup.append(self._start)
        app.on_shutdown.append(self._close)
        return app

    async def _start(self, _app: web.Application) -> None:
        await self.broker.start()

    async def _close(self, _app: web.Application) -> None:
        await self.broker.close()

    async def _page(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        page: Page | None = client_bundle() if path == CLIENT_BUNDLE else probe(self.broker, path)
        if page is None:
            return web.Response(status=404, text="not found\n")
        return web.Response(
            status=page.status,
            body=page.body,
            headers={"Content-Type": page.content_type, "Cache-Control": "no-cache"},
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one wsmq/1 connection (the handler of the ``path`` route)."""
        opts = self.broker.options
        limit = opts.max_message_size
        ws = web.WebSocketResponse(
            protocols=(SUBPROTOCOL,),
            max_msg_size=limit * 4 if limit else 0,
            heartbeat=opts.ping_interval,
            timeout=opts.close_timeout,
        )
        if not ws.can_prepare(request).ok:
            return web.Response(status=426, text="WebSocket upgrade expected\n")
        transport = request.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        local = transport.get_extra_info("sockname") if transport is not None else None
        headers = Headers(list(request.headers.items()))
        admission = await self.guard.admit(Upgrade(request.path_qs, headers, peer, local, request))
        if isinstance(admission, Refusal):
            return web.Response(
                status=admission.status, reason=admission.reason, body=admission.body
            )
        try:
            await ws.prepare(request)
            await self._serve(ws, admission.identity)
        finally:
            admission.release()
        return ws

    async def _serve(self, ws: web.WebSocketResponse, identity: Any) -> None:
        opts = self.broker.options

        async def send_close(code: int, reason: str) -> None:
            await ws.close(code=code, message=reason.encode())

        transport = QueuedTransport(
            ws.send_str, send_close, self.broker.send_budget, opts.close_timeout
        )

        async def frames() -> AsyncIterator[str | bytes]:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    yield message.data
                elif message.type == WSMsgType.ERROR:
                    return

        def peer_code() -> int | None:
            return ws.close_code if transport.closing is None else None

        await run_connection(self.broker, transport, identity, frames(), peer_code)
