"""Category 8: keepalive (application ping and WebSocket ping)."""

from __future__ import annotations

import asyncio
import time

from .. import sections as S
from ..context import Context
from ..model import CaseFailed, case
from .common import check

__all__: list[str] = []


@case("8.1.1", "_client.ping answers {timestamp: ms}", section=S.KEEPALIVE)
async def app_ping(ctx: Context) -> None:
    a = await ctx.peer("A")
    res = await a.call("_client.ping", {"anything": [1]})
    problems = ctx.body_problems("PongResult", res)
    check(not problems, f"answer breaks PongResult: {problems}")
    ts = res.get("timestamp") if isinstance(res, dict) else None
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise CaseFailed(f"_client.ping answered {res!r}")
    check(abs(ts - time.time() * 1000) < 3_600_000, f"timestamp {ts} is not epoch milliseconds")


@case("8.1.2", "a WebSocket ping is answered with a pong", section=S.KEEPALIVE)
async def ws_ping(ctx: Context) -> None:
    a = await ctx.peer("A")
    waiter = await a.ws.ping(b"wsmq")
    await asyncio.wait_for(waiter, 5)


@case(
    "8.1.3",
    "an idle registered connection stays open for one ping interval (at most 3 s of it)",
    section=S.KEEPALIVE,
    profiles=("full",),
)
async def idle(ctx: Context) -> None:
    a = await ctx.peer("A")
    interval = (a.ack or {}).get("pingInterval", 1000)
    # Bounded negative check: sleep a little past one interval (capped at 3 s), then prove liveness.
    await asyncio.sleep(min(3.0, interval / 1000 + 0.2))
    await a.ping()
