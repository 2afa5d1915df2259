"""Peer: nats-py request-reply through a local nats-server — the responder side.

The harness starts its own ``nats-server -a 127.0.0.1 -p -1`` and then this process, which
answers ``bench.echo`` requests with their payload and, on ``bench.s2c {"subject", "window",
"duration", "warmup"}``, runs requests against the caller's own subject (the NATS shape of
server→client RPC) and replies with the timing. Fan-out needs no responder: clients publish and
subscribe through nats-server directly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import nats

from bench import wire
from bench.servers.common import announce, stop_on_stdin_eof

__all__ = ["main"]


async def amain(args: argparse.Namespace) -> None:
    """Answer until stdin closes."""
    stop = asyncio.Event()
    stop_on_stdin_eof(asyncio.get_running_loop(), stop)
    nc = await nats.connect(args.nats, max_reconnect_attempts=0)

    async def echo(msg: Any) -> None:
        await msg.respond(msg.data)

    async def run_s2c(msg: Any) -> None:
        spec = json.loads(msg.data)

        async def call(n: int) -> Any:
            return await nc.request(spec["subject"], wire.encode(wire.body(n)), timeout=60)

        result = await wire.closed_loop(call, spec, count_errors=True)
        await msg.respond(json.dumps(result).encode())

    tasks: set[asyncio.Task[None]] = set()

    async def s2c_cb(msg: Any) -> None:
        # Its own task: a long-running callback would hold up the subscription's queue.
        task = asyncio.create_task(run_s2c(msg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    await nc.subscribe(wire.ECHO_TOPIC, cb=echo)
    await nc.subscribe(wire.S2C_TOPIC, cb=s2c_cb)
    await nc.flush()
    announce(args.nats)
    try:
        await stop.wait()
    finally:
        await nc.close()


def main() -> None:
    """``python -m bench.servers.nats_responder --nats nats://127.0.0.1:PORT``."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nats", required=True)
    asyncio.run(amain(p.parse_args()))


if __name__ == "__main__":
    main()
