"""Peer: the floor of ``bench/soak.py`` (``--server raw``): a raw ``websockets`` server speaking
just enough wsmq/1 for the soak's clients, fanning each event out with
``websockets.broadcast``.

What it does: a ``request`` gets a bare ``response`` with its correlationID (so
``_client.subscribe`` and the publisher's closing ``_client.ping`` are answered), a subscribe
adds the connection to its topic's set, and an event on a topic not starting with ``_`` goes,
bytes unchanged, to every connection subscribed to it. No validation, no re-encoding, no
registry, no send-queue bound: the same transport, the same frames and one ``transport.write``
per subscriber per event, i.e. what the broker's fan-out costs before any work of its own
(bench/analysis.md, "The 2,000-subscriber soak").
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import defaultdict

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench.servers.common import announce, raise_fd_limit, stop_on_stdin_eof

__all__ = ["main"]

TOPICS: defaultdict[str, set[ServerConnection]] = defaultdict(set)


async def handler(ws: ServerConnection) -> None:
    """One connection: answer requests, remember subscriptions, broadcast events."""
    mine: list[str] = []
    try:
        async for raw in ws:
            msg = json.loads(raw)
            head = msg["header"]
            kind = head["type"]
            topic = head["topic"]
            if kind == "event" and not topic.startswith("_"):
                broadcast(TOPICS[topic], raw, text=True)
            elif kind == "request":
                if topic == "_client.subscribe":
                    sub = msg["body"]["topic"]
                    TOPICS[sub].add(ws)
                    mine.append(sub)
                answer = {"type": "response", "topic": topic, "correlationID": head["messageID"]}
                await ws.send(json.dumps({"header": answer, "body": {}}))
    except ConnectionClosed:
        pass
    finally:
        for sub in mine:
            TOPICS[sub].discard(ws)


async def amain(args: argparse.Namespace) -> None:
    """Serve until stdin closes."""
    stop = asyncio.Event()
    stop_on_stdin_eof(asyncio.get_running_loop(), stop)
    async with serve(handler, args.host, args.port, compression=None, max_size=2**20) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        announce(f"ws://{args.host}:{port}/")
        await stop.wait()


def main() -> None:
    """Entry point (``python -m bench.servers.soak_raw``)."""
    p = argparse.ArgumentParser(prog="python -m bench.servers.soak_raw")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    raise_fd_limit()
    asyncio.run(amain(p.parse_args()))


if __name__ == "__main__":
    main()
