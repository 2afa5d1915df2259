"""One broker served by each transport: the standalone server, and (added by the adapters'
tests) ASGI under uvicorn and aiohttp's runner, all on 127.0.0.1 and a free port.

The guard tests run once per transport (``TRANSPORTS``) so that a transport that forgot a
guard fails the same test the standalone server passes (websocketmq.guards).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from websocketmq import Broker, BrokerOptions, serve

__all__ = ["TRANSPORTS", "Mounted", "mounted"]

TRANSPORTS = ["standalone"]


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
    raise ValueError(f"unknown transport {transport!r}")
