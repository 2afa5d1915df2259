"""One broker served by each transport: the standalone server, and (added by the adapters'
tests) ASGI under uvicorn and aiohttp's runner, all on 127.0.0.1 and a free port.

The guard tests run once per transport (``TRANSPORTS``) so that a transport that forgot a
guard fails the same test the standalone server passes (websocketmq.guards).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from websocketmq import Broker, BrokerOptions, serve

__all__ = ["TRANSPORTS", "Mounted", "mounted"]

TRANSPORTS = ["standalone", "asgi", "starlette-routes", "aiohttp"]
STOP_TIMEOUT = 10.0


@dataclass
class Mounted:
    """A broker being served: where, and by what."""

    broker: Broker
    port: int
    path: str = "/ws"

    @property
    def url(self) -> str:
        """The WebSocket URL."""
        return f"ws://127.0.0.1:{self.port}{self.path}"


@contextlib.asynccontextmanager
async def mounted(transport: str, **options: Any) -> AsyncIterator[Mounted]:
    """``transport`` serving a broker with these ``BrokerOptions``; ``t.whoami`` answers the
    caller's identity."""
    broker = Broker(BrokerOptions(**options))

    @broker.subscribe("t.whoami")
    def whoami(msg: Any, client_id: str | None) -> Any:
        conn = broker.get_client(client_id or "")
        return {"identity": conn.identity if conn else None}

    if transport == "standalone":
        async with serve(broker, "127.0.0.1", 0) as server:
            yield Mounted(broker, server.port, server.path)
        return
    if transport == "aiohttp":
        async with aiohttp_app(broker) as port:
            yield Mounted(broker, port)
        return
    from websocketmq.asgi import WsmqASGI

    wsmq = WsmqASGI(broker, path="/ws")
    if transport == "asgi":
        app: Any = WsmqASGI(broker, other_asgi_app=plain_asgi_app, path="/ws")
    elif transport == "starlette-routes":
        from starlette.applications import Starlette

        app = Starlette(routes=wsmq.routes(), lifespan=wsmq.lifespan)
    else:
        raise ValueError(f"unknown transport {transport!r}")
    async with uvicorn_app(app) as port:
        yield Mounted(broker, port)


async def plain_asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The application beside the broker: ``GET /hello`` answers ``hello``."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "http":
        found = scope["path"] == "/hello"
        body = b"hello" if found else b"nope"
        start = {"type": "http.response.start", "status": 200 if found else 404}
        length = str(len(body)).encode()
        await send(
            {**start, "headers": [(b"content-type", b"text/plain"), (b"content-length", length)]}
        )
        await send({"type": "http.response.body", "body": body})
        return
    await send({"type": "websocket.close", "code": 1000})


@contextlib.asynccontextmanager
async def uvicorn_app(app: Any, **config: Any) -> AsyncIterator[int]:
    """``app`` under a real uvicorn on 127.0.0.1 and a free port (in this process, bounded,
    always stopped); yields the port."""
    import uvicorn

    config.setdefault("log_level", "warning")
    # uvicorn rewrites scope["client"] from X-Forwarded-For sent from 127.0.0.1 by default;
    # off, so that the broker's trusted_proxies is what decides (docs/integration.md)
    config.setdefault("proxy_headers", False)
    settings = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", **config)
    server = uvicorn.Server(settings)
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            while not server.started:
                if task.done():
                    task.result()  # raises what stopped it
                    raise RuntimeError("uvicorn exited before it started")
                await asyncio.sleep(0.01)
        port = int(server.servers[0].sockets[0].getsockname()[1])
        yield port
    finally:
        server.should_exit = True
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await task
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def aiohttp_app(broker: Broker) -> AsyncIterator[int]:
    """An aiohttp application with the broker at ``/ws`` and ``GET /hello``, under aiohttp's
    runner on 127.0.0.1 and a free port; yields the port."""
    from aiohttp import web
    from websocketmq.aiohttp import WsmqAiohttp

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/hello", hello)
    WsmqAiohttp(broker, path="/ws").setup(app)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    try:
        await site.start()
        server = site._server
        assert server is not None
        yield int(server.sockets[0].getsockname()[1])
    finally:
        async with asyncio.timeout(STOP_TIMEOUT):
            await runner.cleanup()
