"""Ours: the reference broker with the bench handlers, served like ``wsmq serve``.

Handlers (server side, public API only):

- ``bench.echo``: request → its body (the client→server RPC shape);
- ``bench.s2c {"window", "duration", "warmup"}``: runs ``broker.request_to_client(caller,
  "bench.echo", …)`` with ``window`` requests in flight and answers with the timing (the
  server→client RPC shape, measured where it is issued, like the peers' ``!s2c``).

Fan-out needs no handler: the publisher client publishes on ``bench.fanout`` and every
subscriber client subscribed to it. ``--deflate`` serves with permessage-deflate; the default
here is without it, so each variant is compared with the raw ``websockets`` peer configured the
same way. ``--metrics`` turns the broker's Prometheus metrics on (the "metrics on" row beside
the default "off", docs/benchmarks.md "Metrics cost"); ``--loop uvloop`` runs it on uvloop
(the ``wsmq-uvloop`` row). ``--nats URL`` makes it a cluster node
(the NATS backend), ``--no-handlers`` a node whose requests are all served elsewhere. Prints
``wsmq: listening on ws://…`` when ready (design §8) and exits on stdin EOF.
"""

from __future__ import annotations

import argparse
import asyncio
import runpy
from typing import Any

from websocketmq import Broker, BrokerOptions
from websocketmq.loops import LOOPS
from websocketmq.loops import run as run_on_loop
from websocketmq.server import serve

from bench import wire
from bench.servers.common import announce, raise_fd_limit, stop_on_stdin_eof

__all__ = ["BENCH_LIMITS", "bench_options", "build_broker", "main"]


BENCH_LIMITS = {"message_rate": 0, "max_connections_per_ip": 0}
"""Limits turned off for the bench (0 = off): every load generator connects from 127.0.0.1,
and the per-connection message rate (default 200/s, made for browsers on the open internet)
would otherwise be what is measured. Every other option keeps its default."""


def bench_options() -> BrokerOptions:
    """Default options with :data:`BENCH_LIMITS` applied (those fields that exist)."""
    options = BrokerOptions.default()
    for name, value in BENCH_LIMITS.items():
        if hasattr(options, name):
            setattr(options, name, value)
    return options


def build_broker(options: BrokerOptions | None = None, *, handlers: bool = True) -> Broker:
    """A broker with ``bench.echo`` and ``bench.s2c`` registered (unless ``handlers`` is
    False: the second node of the cross-node rows, whose clients reach the handlers on the
    first node through NATS)."""
    broker = Broker(options or bench_options())
    if not handlers:
        return broker

    def echo(msg: Any, _client_id: str | None) -> Any:
        return msg.body

    async def s2c(msg: Any, client_id: str | None) -> dict[str, Any]:
        if client_id is None:
            raise ValueError("bench.s2c must come from a client")

        async def call(n: int) -> Any:
            return await broker.request_to_client(client_id, wire.ECHO_TOPIC, wire.body(n), 60)

        return await wire.closed_loop(call, msg.body, count_errors=True)

    broker.subscribe(wire.ECHO_TOPIC, echo)
    broker.subscribe(wire.S2C_TOPIC, s2c)
    return broker


async def amain(args: argparse.Namespace) -> None:
    """Serve until stdin closes."""
    if args.preload:
        # A hot-path experiment (monkeypatches applied on import), measured side by side with
        # the unmodified broker before anyone edits the broker itself.
        runpy.run_path(args.preload)
    stop = asyncio.Event()
    stop_on_stdin_eof(asyncio.get_running_loop(), stop)
    options = bench_options()
    options.metrics = args.metrics
    if args.nats:
        from websocketmq.backends.nats import NatsBackend

        options.backend = NatsBackend(args.nats)
    broker = build_broker(options, handlers=not args.no_handlers)
    server = serve(
        broker, args.host, args.port, "/ws", compression="deflate" if args.deflate else None
    )
    await server.start()
    announce(server.url, prefix="wsmq")
    try:
        await stop.wait()
    finally:
        await server.close()


def main() -> None:
    """``python -m bench.servers.wsmq_server [--deflate] [--port 0]``."""
    raise_fd_limit()
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--deflate", action="store_true")
    p.add_argument("--metrics", action="store_true", help="broker metrics on (websocketmq.metrics)")
    p.add_argument("--nats", help="NATS URL: run as a cluster node with the NATS backend")
    p.add_argument("--no-handlers", action="store_true", help="register no bench handlers")
    p.add_argument("--preload", help="a Python file run first (a hot-path experiment)")
    p.add_argument("--loop", choices=LOOPS, default="asyncio", help="event loop (uvloop extra)")
    args = p.parse_args()
    run_on_loop(amain(args), args.loop)


if __name__ == "__main__":
    main()
