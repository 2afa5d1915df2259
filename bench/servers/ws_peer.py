"""Peer: a raw ``websockets`` server — echo, broadcast and hand-written s2c RPC, nothing else.

This is the floor our broker is held to (at least 0.8x): the same transport and the same frames with
no routing, no validation and no envelope of its own. ``--deflate`` turns permessage-deflate on
(the ``websockets`` default, which browsers negotiate), to show what it costs on small messages.

Frames from a client: a wsmq envelope is echoed unchanged, unless the connection said ``!pub``,
in which case it is broadcast to every ``!sub`` connection. ``!s2c {"window", "duration",
"warmup"}`` runs server→client RPC against the caller and ends with ``!result {…}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench.servers.common import S2CRun, announce, raise_fd_limit, stop_on_stdin_eof

__all__ = ["main"]

SUBS: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    """One connection: echo by default, broadcast once it is the publisher."""
    publisher = False
    s2c: S2CRun | None = None
    try:
        while True:
            data = await ws.recv(decode=False)
            if isinstance(data, str):  # pragma: no cover - decode=False gives bytes
                data = data.encode()
            if data[:1] == b"!":
                cmd, _, arg = data.partition(b" ")
                if cmd == b"!sub":
                    SUBS.add(ws)
                    await ws.send(b"!ok", text=True)
                elif cmd == b"!pub":
                    publisher = True
                    await ws.send(b"!ok", text=True)
                elif cmd == b"!s2c":
                    spec = json.loads(arg)
                    s2c = S2CRun(int(spec["window"]), float(spec["duration"]), spec["warmup"])
                    for frame in s2c.start():
                        await ws.send(frame, text=True)
            elif publisher:
                broadcast(SUBS, data, text=True)
            elif s2c is not None:
                nxt = s2c.on_response(data)
                if nxt is not None:
                    await ws.send(nxt, text=True)
                elif s2c.done:
                    await ws.send(s2c.result_frame(), text=True)
                    s2c = None
            else:
                await ws.send(data, text=True)
    except ConnectionClosed:
        pass
    finally:
        SUBS.discard(ws)


async def amain(args: argparse.Namespace) -> None:
    """Serve until stdin closes."""
    stop = asyncio.Event()
    stop_on_stdin_eof(asyncio.get_running_loop(), stop)
    compression = "deflate" if args.deflate else None
    async with serve(
        handler, args.host, args.port, compression=compression, max_size=2**20
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        announce(f"ws://{args.host}:{port}/")
        await stop.wait()


def main() -> None:
    """``python -m bench.servers.ws_peer [--deflate] [--port 0]``."""
    raise_fd_limit()
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--deflate", action="store_true")
    asyncio.run(amain(p.parse_args()))


if __name__ == "__main__":
    main()
