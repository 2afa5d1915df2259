"""Peer: a raw ``picows`` server (the fastest Python WebSocket stack), same control words and
frames as :mod:`bench.servers.ws_peer`: echo, ``!sub``/``!pub`` broadcast, ``!s2c`` RPC.

picows is callback-only (no per-message task, no copy unless asked), which is why it is the
ceiling for what a Python broker's transport can do on this machine. It neither compresses nor
reassembles fragments; the load generators never fragment small frames.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

from bench.servers.common import S2CRun, announce, raise_fd_limit, stop_on_stdin_eof

__all__ = ["main"]

SUBS: set[WSTransport] = set()


class PeerListener(WSListener):
    """One connection; all work is done in the frame callback."""

    def __init__(self) -> None:
        super().__init__()
        self.publisher = False
        self.s2c: S2CRun | None = None

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        SUBS.discard(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        mt = frame.msg_type
        if mt == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
            return
        if mt != WSMsgType.TEXT:
            return
        data = frame.get_payload_as_bytes()
        if data[:1] == b"!":
            cmd, _, arg = data.partition(b" ")
            if cmd == b"!sub":
                SUBS.add(transport)
                transport.send(WSMsgType.TEXT, b"!ok")
            elif cmd == b"!pub":
                self.publisher = True
                transport.send(WSMsgType.TEXT, b"!ok")
            elif cmd == b"!s2c":
                spec = json.loads(arg)
                self.s2c = S2CRun(int(spec["window"]), float(spec["duration"]), spec["warmup"])
                for f in self.s2c.start():
                    transport.send(WSMsgType.TEXT, f)
        elif self.publisher:
            for sub in SUBS:
                sub.send(WSMsgType.TEXT, data)
        elif self.s2c is not None:
            nxt = self.s2c.on_response(data)
            if nxt is not None:
                transport.send(WSMsgType.TEXT, nxt)
            elif self.s2c.done:
                transport.send(WSMsgType.TEXT, self.s2c.result_frame())
                self.s2c = None
        else:
            transport.send(WSMsgType.TEXT, data)


def _factory(_request: WSUpgradeRequest) -> PeerListener:
    return PeerListener()


async def amain(args: argparse.Namespace) -> None:
    """Serve until stdin closes."""
    stop = asyncio.Event()
    stop_on_stdin_eof(asyncio.get_running_loop(), stop)
    server = await ws_create_server(_factory, args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    announce(f"ws://{args.host}:{port}/")
    try:
        await stop.wait()
    finally:
        server.close()


def main() -> None:
    """``python -m bench.servers.picows_peer [--port 0]``."""
    raise_fd_limit()
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    asyncio.run(amain(p.parse_args()))


if __name__ == "__main__":
    main()
