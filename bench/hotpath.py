"""``python -m bench.hotpath [--requests N] [--reps R]``: the broker core's CPU per request.

The socket rows of ``python -m bench`` (``wsmq`` beside ``wsmq-metrics``) measure what users
get, but each server's CPU per operation there includes the WebSocket framing, the kernel and
a load generator sharing the machine's two cores, so on a busy machine their ratio moves by
more than the few percent being measured (docs/benchmarks.md, "Metrics cost"). This measures
only what a metrics switch can change: the broker's own path for one request, in one process,
two brokers side by side (metrics off, on), interleaved, ``time.process_time`` per request.

Each broker serves one connection whose transport keeps nothing (it stands where
``server._Transport`` is, after the WebSocket layer):

* ``c2s``: ``ClientConnection.receive`` of ``bench.echo`` requests (distinct correlation IDs)
  answered by a sync handler: session decode and checks, routing, the handler, the answer's
  encoding and queueing;
* ``s2c``: ``Broker.request_to_client`` with 64 in flight; the transport answers each request
  on the next loop iteration (the answer is fed back through ``receive``): the request's
  encoding and pending table, the answer's decode and settling. The harness's own work (finding
  the correlation ID, the answer text) is in both columns alike.

Prints one line per shape: medians of the repetitions, off, on, and their ratio (≥ 0.95 is the
target of issue 17). Not a test: a measurement, like the rest of ``bench/``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from websocketmq import Broker, BrokerOptions
from websocketmq.broker.connection import ClientConnection
from websocketmq.observe import CLIENT_TO_SERVER, SERVER_TO_CLIENT

__all__ = ["main", "measure"]

ECHO = "bench.echo"
WINDOW = 64
REGISTER = (
    '{"header":{"messageID":"reg","type":"event","topic":"_client.register","timestamp":1},'
    '"body":{}}'
)


class _Discard:
    """A transport that takes every frame (no queue, no socket), optionally answering it."""

    def __init__(self) -> None:
        self.on_send: Callable[[bytes], None] | None = None

    def send(self, frame: bytes) -> bool:
        if self.on_send is not None:
            self.on_send(frame)
        return True

    def close(
        self, code: int, reason: str, *, final: bytes | None = None, flush: bool = True
    ) -> None:
        pass


def _broker(metrics: bool) -> Broker:
    options = BrokerOptions.default()
    options.message_rate = 0  # one connection sends everything: no per-connection rate
    options.registration_timeout = 0
    options.metrics = metrics
    broker = Broker(options)
    broker.subscribe(ECHO, lambda msg, _client: msg.body)
    return broker


def _request(n: int) -> str:
    head = f'"messageID":"m{n}","type":"request","topic":"{ECHO}","timestamp":1796309517515'
    return '{"header":{' + head + f',"correlationID":"m{n}","ttl":30000}},"body":{{"n":{n}}}}}'


def _answer(corr: str) -> str:
    head = f'"messageID":"a{corr}","type":"response","topic":"{ECHO}","timestamp":1796309517515'
    return '{"header":{' + head + f',"correlationID":"{corr}"}},"body":{{"n":1}}}}'


async def _c2s(conn: ClientConnection, count: int, first: int) -> float:
    frames = [_request(n) for n in range(first, first + count)]
    started = time.process_time()
    for frame in frames:
        await conn.receive(frame)
    return (time.process_time() - started) / count * 1e6


async def _s2c(broker: Broker, transport: _Discard, conn: ClientConnection, count: int) -> float:
    loop = asyncio.get_running_loop()
    marker = b'"correlationID":"'

    def answer(frame: bytes) -> None:
        at = frame.find(marker) + len(marker)
        corr = frame[at : frame.index(b'"', at)].decode()
        text = _answer(corr)
        loop.call_soon(lambda: asyncio.ensure_future(conn.receive(text)))

    async def one() -> None:
        await broker.request_to_client(conn.client_id, ECHO, {"n": 1}, 30)

    rounds = max(1, count // WINDOW)
    transport.on_send = answer
    started = time.process_time()
    for _ in range(rounds):
        await asyncio.gather(*[one() for _ in range(WINDOW)])
    transport.on_send = None
    return (time.process_time() - started) / (rounds * WINDOW) * 1e6


async def measure(requests: int = 20_000, reps: int = 7) -> dict[str, Any]:
    """Medians of ``reps`` interleaved repetitions: µs of CPU per request, metrics off/on."""
    setups: dict[bool, tuple[Broker, _Discard, ClientConnection]] = {}
    for metrics in (False, True):
        broker = _broker(metrics)
        await broker.start()
        transport = _Discard()
        conn = broker.connect(transport)
        await conn.receive(REGISTER)
        setups[metrics] = (broker, transport, conn)
    runs: dict[str, dict[bool, list[float]]] = {s: {False: [], True: []} for s in ("c2s", "s2c")}
    first = 0
    try:
        for rep in range(reps):
            for metrics in (False, True) if rep % 2 == 0 else (True, False):
                broker, transport, conn = setups[metrics]
                gc.collect()
                runs["c2s"][metrics].append(await _c2s(conn, requests, first))
                first += requests
                runs["s2c"][metrics].append(await _s2c(broker, transport, conn, requests))
        metrics_on = setups[True][0].metrics
        assert metrics_on is not None  # the "on" broker counted what it served:
        counted = {
            "c2s": metrics_on.tally.request_count(CLIENT_TO_SERVER),
            "s2c": metrics_on.tally.request_count(SERVER_TO_CLIENT),
        }
    finally:
        for broker, _, _ in setups.values():
            await broker.close()
    out: dict[str, Any] = {"requests": requests, "reps": reps, "counted": counted}
    for shape, by in runs.items():
        off, on = statistics.median(by[False]), statistics.median(by[True])
        out[shape] = {"off_us": round(off, 3), "on_us": round(on, 3), "ratio": round(off / on, 3)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=20_000, help="requests per repetition")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = p.parse_args()
    result = asyncio.run(measure(args.requests, args.reps))
    if args.json:
        print(json.dumps(result))
        return
    for shape in ("c2s", "s2c"):
        r = result[shape]
        print(
            f"{shape}: metrics off {r['off_us']:.2f} µs, on {r['on_us']:.2f} µs CPU per request:"
            f" {r['ratio']:.3f}x (+{r['on_us'] - r['off_us']:.2f} µs)"
        )


if __name__ == "__main__":
    main()
