"""The broker inside an ASGI application (Starlette, FastAPI, any ASGI server): docs/integration.md.

Two forms, one implementation:

- ``WsmqASGI(broker, other_asgi_app=app, path="/ws")`` is an ASGI application: the WebSocket
  at ``path``, ``/websocketmq.js``, ``/healthz``, ``/readyz`` and ``/metrics`` are answered
  here, everything else goes to ``app``; the broker starts and stops with the server's
  lifespan (wrapped around the app's own).
- ``wsmq.routes()`` gives Starlette routes for the same endpoints, to put among the app's own
  (``app.routes.extend(wsmq.routes())`` in FastAPI), so the app's middleware (sessions…) runs
  first and ``authenticate`` sees ``scope["session"]``; ``FastAPI(lifespan=wsmq.lifespan)``
  joins the broker to the app's lifespan.

Every upgrade goes through :class:`~websocketmq.guards.UpgradeGuard` (Host, Origin, closing,
per-IP limit, ``authenticate`` with the ASGI scope), the guards the standalone server applies,
and a refusal is the same HTTP status when the server supports the ASGI
``websocket.http.response`` extension (uvicorn does), else a 403. Frames go through
:class:`~websocketmq.transport.QueuedTransport`. Starlette is needed for :meth:`routes` only:
``pip install 'websocketmq[asgi]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from websockets.datastructures import Headers

from .endpoints import CLIENT_BUNDLE, PROBES, Page, client_bundle, probe
from .guards import Refusal, Upgrade, UpgradeGuard
from .server import SUBPROTOCOL
from .transport import QueuedTransport, run_connection

if TYPE_CHECKING:
    from .broker import Broker

__all__ = ["WsmqASGI"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _require_starlette() -> Any:
    try:
        import starlette.routing
    except ImportError:  # pragma: no cover - the asgi extra is in dev
        raise ImportError(
            "WsmqASGI.routes() needs Starlette: pip install 'websocketmq[asgi]'"
        ) from None
    return starlette.routing


class WsmqASGI:
    """A broker as an ASGI application (or Starlette routes, see :meth:`routes`)."""

    def __init__(
        self,
        broker: Broker,
        other_asgi_app: ASGIApp | None = None,
        path: str = "/ws",
        *,
        client_bundle: bool = True,
    ) -> None:
        self.broker = broker
        self.other_asgi_app = other_asgi_app
        """Where every other request goes (None: 404)."""
        self.path = path if path.startswith("/") else "/" + path
        self.serve_client = client_bundle
        """Whether ``GET /websocketmq.js`` serves the browser client."""
        self.guard = UpgradeGuard(broker)
        self._starting: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the broker once (the lifespan does; the first connection does if no lifespan
        ran). Concurrent callers wait for the same start."""
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self.broker.start())
        await asyncio.shield(self._starting)

    async def close(self) -> None:
        """Close the broker: in-flight requests fail with SHUTTING_DOWN, clients get 1001."""
        await self.broker.close()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """The broker's lifetime as a Starlette/FastAPI lifespan: ``FastAPI(lifespan=
        wsmq.lifespan)``, or ``async with wsmq.lifespan(app):`` inside the app's own."""
        await self.start()
        try:
            yield
        finally:
            await self.close()

    # -- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        path = scope.get("path", "")
        if kind == "websocket" and path == self.path:
            await self.websocket(scope, receive, send)
            return
        if kind == "http" and scope.get("method") in ("GET", "HEAD"):
            page = self._page(path)
            if page is not None:
                await _send_page(scope, send, page)
                return
        if self.other_asgi_app is not None:
            await self.other_asgi_app(scope, receive, send)
        elif kind == "http":
            await _send_page(scope, send, Page(404, "Not Found", b"not found\n", "text/plain"))
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    def _page(self, path: str) -> Page | None:
        if path == CLIENT_BUNDLE and self.serve_client:
            return client_bundle()
        if path in PROBES:
            return probe(self.broker, path)
        return None

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Start the broker before the app's startup, close it after the app's shutdown."""
        if self.other_asgi_app is None:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    try:
                        await self.start()
                    except Exception as exc:
                        await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

        async def app_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
            return message

        async def app_send(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.close()
            await send(message)

        assert self.other_asgi_app is not None
        await self.other_asgi_app(scope, app_receive, app_send)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one wsmq/1 connection (an ASGI ``websocket`` scope), whatever its path."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await self.start()
        headers = Headers(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
        )
        target = scope.get("raw_path") or scope.get("path", "").encode()
        if isinstance(target, bytes):
            target = target.decode("latin-1")
        query = scope.get("query_string", b"")
        if query:
            target = f"{target}?{query.decode('latin-1')}"
        asked = Upgrade(target, headers, scope.get("client"), scope.get("server"), scope)
        admission = await self.guard.admit(asked)
        if isinstance(admission, Refusal):
            await _refuse(scope, send, admission)
            return
        try:
            offered = scope.get("subprotocols") or ()
            await send(
                {
                    "type": "websocket.accept",
                    "subprotocol": SUBPROTOCOL if SUBPROTOCOL in offered else None,
                }
            )
            await self._serve(receive, send, admission.identity)
        finally:
            admission.release()

    async def _serve(self, receive: Receive, send: Send, identity: Any) -> None:
        opts = self.broker.options

        async def send_text(text: str) -> None:
            await send({"type": "websocket.send", "text": text})

        async def send_close(code: int, reason: str) -> None:
            await send({"type": "websocket.close", "code": code, "reason": reason})

        transport = QueuedTransport(
            send_text, send_close, self.broker.send_budget, opts.close_timeout
        )
        peer: list[int] = []

        async def frames() -> AsyncIterator[str | bytes]:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    text = message.get("text")
                    data = text if text is not None else message.get("bytes")
                    if data is not None:
                        yield data
                elif kind == "websocket.disconnect":
                    peer.append(int(message.get("code", 1005)))
                    return

        await run_connection(
            self.broker, transport, identity, frames(), lambda: peer[0] if peer else None
        )

    # -- Starlette ------------------------------------------------------------------------------

    def routes(self) -> list[Any]:
        """Starlette routes for the socket at ``path`` and the pages beside it:
        ``Starlette(routes=[*mine, *wsmq.routes()], lifespan=wsmq.lifespan)``, or in FastAPI
        ``app.routes.extend(wsmq.routes())``."""
        routing = _require_starlette()
        socket = _Endpoint(self.websocket)
        routes: list[Any] = [routing.WebSocketRoute(self.path, socket, name="websocketmq")]
        pages = [*PROBES, CLIENT_BUNDLE] if self.serve_client else list(PROBES)
        for path in pages:
            routes.append(routing.Route(path, _Endpoint(self._http), methods=["GET", "HEAD"]))
        return routes

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        page = self._page(scope.get("path", ""))
        if page is None:
            page = Page(404, "Not Found", b"not found\n", "text/plain")
        await _send_page(scope, send, page)


class _Endpoint:
    """An ASGI callable Starlette routes to as is (it wraps plain functions and methods as
    request handlers, which these are not)."""

    __slots__ = ("_app",)

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


async def _send_page(scope: Scope, send: Send, page: Page) -> None:
    headers = [
        (b"content-type", page.content_type.encode()),
        (b"content-length", str(len(page.body)).encode()),
        (b"cache-control", b"no-cache"),
    ]
    await send({"type": "http.response.start", "status": page.status, "headers": headers})
    body = b"" if scope.get("method") == "HEAD" else page.body
    await send({"type": "http.response.body", "body": body})


async def _refuse(scope: Scope, send: Send, refusal: Refusal) -> None:
    """The refusal's status when the server can send an HTTP response to an upgrade, else a
    close before accept (servers answer 403)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(refusal.body)).encode()),
        ]
        start = {"type": "websocket.http.response.start", "status": refusal.status}
        await send({**start, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": refusal.body})
    else:
        await send({"type": "websocket.close", "code": 1008})
