"""Peer: python-socketio on aiohttp — emit-with-ack (RPC), ``call(to=sid)`` (server→client RPC)
and room emit (fan-out), the way its users write them.

Events: ``echo`` (returns its data as the ack), ``sub`` (joins room ``subs``, acks), ``pub``
(emits ``msg`` to the room), ``s2c {"window", "duration", "warmup"}`` (runs ``call("echo",
to=sid)`` with ``window`` calls in flight and acks with the timing).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import socketio
from aiohttp import web

from bench import wire
from bench.servers.common import announce, raise_fd_limit, stop_on_stdin_eof

__all__ = ["main"]

sio = socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False)


@sio.on("echo")  # type: ignore[untyped-decorator]
async def echo(_sid: str, data: Any) -> Any:
    return data


@sio.on("sub")  # type: ignore[untyped-decorator]
async def sub(sid: str, *_args: Any) -> str:
    await sio.enter_room(sid, "subs")
    return "ok"


@sio.on("pub")  # type: ignore[untyped-decorator]
async def pub(_sid: str, data: Any) -> None:
    await sio.emit("msg", data, room="subs")


@sio.on("s2c")  # type: ignore[untyped-decorator]
async def s2c(sid: str, spec: dict[str, Any]) -> dict[str, Any]:
    async def call(n: int) -> Any:
        return await sio.call("echo", wire.body(n), to=sid, timeout=60)

    return await wire.closed_loop(call, spec, count_errors=True)


async def amain(args: argparse.Namespace) -> None:
    """Serve until stdin closes."""
    stop = asyncio.Event()
    stop_on_stdin_eof(asyncio.get_running_loop(), stop)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    port = runner.addresses[0][1]
    announce(f"ws://{args.host}:{port}/socket.io/")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """``python -m bench.servers.sio_peer [--port 0]``."""
    raise_fd_limit()
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    asyncio.run(amain(p.parse_args()))


if __name__ == "__main__":
    main()
