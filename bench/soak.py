"""The 2,000-subscriber load scenario of issue 15 (``make soak``; docs/security.md §8).

``python -m bench.soak [--subscribers 2000 --procs 8 --rate 20000 --seconds 60 --topics 1]``

One broker (``wsmq serve``, defaults as shipped except the per-IP limit: every client is
127.0.0.1) in its own process; ``--procs`` subscriber processes hold ``--subscribers``
registered connections between them (raw wsmq/1 over ``websockets``, no compression, like the
broker's default), each subscribed to one of ``--topics`` topics; one publisher connection (in
this process) publishes events at the rate that makes ``--rate`` deliveries per second, each
carrying its topic's sequence number and the wall-clock time it was sent.

Checked: every subscriber receives every sequence number of its topic exactly once and in order
(zero lost, duplicated or reordered, else exit status 1). Measured: delivery latency p50/p99
from the timestamp in the body (a sample of up to 20,000 per process, pooled), the broker's RSS
before (clients registered), during (highest sample, once a second) and after (every client
gone), the broker's CPU time (user + system) per delivery (publishing and draining), and
``routed_at_s``: when the broker answered a ping sent after the last event (it handles a
connection's frames in order), i.e. how far behind the publisher it ran.

Where the time goes (bench/analysis.md, "The 2,000-subscriber soak"): the broker's CPU split
into user and system time (on loopback the kernel charges the sender the receiver's TCP input
and wake-up too) and its context switches (involuntary: preempted by a woken subscriber
process); the subscriber processes' own CPU per delivery (the load generator shares the two
cores); the whole machine's busy share and load average; and, per publish, when its burst
reached the first and the last of the 2,000 subscribers (``burst_first_ms``,
``burst_last_ms``). ``--server raw`` runs the same clients against the floor instead of the
broker: ``bench/servers/soak_raw.py``, a raw ``websockets`` server answering just enough wsmq/1
and fanning out with ``websockets.broadcast``; ``--server wsmq-uvloop`` runs the broker with
``--loop uvloop``. ``--sub-nice 10`` runs the subscriber processes at niceness 10 (a woken
subscriber no longer preempts the broker, as if the clients were other machines); ``--client
lean`` gives them a hand-written WebSocket client instead of ``websockets`` (cheaper per frame).

Prints one JSON line ``{"event": "soak", …}`` with every figure, and a readable summary.

``--scenario slow-consumers`` is the memory case of issue 15 defect 2 instead: three
subscribers that never read (4 kB receive buffers) and one that does, ``--events`` events of
``--event-kib`` KiB published as fast as the reading one takes them; prints the broker's RSS
before, at its peak and after, and how the three were closed (4008, or 1006 when the broker had
to abort a socket whose close frame sat behind unread data).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import re
import socket
import statistics
import sys
import time
from typing import Any, cast

import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

from .procs import BenchError, Proc, python_argv

__all__ = ["main"]

_SAMPLE = 20_000
"""Latency samples kept per subscriber process (uniform reservoir)."""


def _env(kind: str, topic: str, body: Any, mid: str) -> str:
    head = {"messageID": mid, "type": kind, "topic": topic, "timestamp": int(time.time() * 1000)}
    if kind == "request":
        head["correlationID"] = mid
    return json.dumps({"header": head, "body": body})


async def _register(url: str, topic: str, n: int) -> ClientConnection:
    """One connection, registered and subscribed to ``topic`` (acks awaited)."""
    ws = await connect(url, compression=None, ping_interval=None, open_timeout=60, max_queue=None)
    await ws.send(_env("event", "_client.register", {}, f"r{n}"))
    await ws.send(_env("request", "_client.subscribe", {"topic": topic}, f"s{n}"))
    while True:
        msg = json.loads(await ws.recv())
        if msg["header"].get("correlationID") == f"s{n}":
            if msg["header"]["type"] != "response":
                raise BenchError(f"subscribe refused: {msg}")
            return ws


# -- subscriber process -----------------------------------------------------------------------


class _Subscriber:
    """Accounting of one connection: next expected sequence number, anomalies."""

    __slots__ = ("dup", "lost", "next", "reordered")

    def __init__(self) -> None:
        self.next = 0
        self.lost = 0
        self.dup = 0
        self.reordered = 0


class _Lean(asyncio.Protocol):
    """``--client lean``: one subscriber without the ``websockets`` library, so the load
    generator costs less per delivery than the broker it measures: the RFC 6455 handshake and
    frame header by hand (server frames are unmasked; ours, a few, are masked), each text
    frame handed to the process's accounting, pings answered (the broker pings every 20 s)."""

    def __init__(self, on_frame: Any, acct: _Subscriber) -> None:
        self._buf = b""
        self._open = False
        self._transport: asyncio.Transport | None = None
        self._on_frame = on_frame
        self._acct = acct
        self._wanted: str | None = None
        self.subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def register(
        cls, url: str, topic: str, n: int, acct: _Subscriber, on_frame: Any
    ) -> _Lean:
        """Connect, register, subscribe to ``topic``; returns once the subscribe is answered."""
        hostport, _, path = url.removeprefix("ws://").partition("/")
        host, _, port = hostport.rpartition(":")
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_connection(lambda: cls(on_frame, acct), host, int(port))
        key = base64.b64encode(os.urandom(16)).decode()
        assert peer._transport is not None
        peer._transport.write(
            f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        peer._wanted = f"s{n}"
        peer.send(1, _env("event", "_client.register", {}, f"r{n}").encode())
        peer.send(1, _env("request", "_client.subscribe", {"topic": topic}, f"s{n}").encode())
        await asyncio.wait_for(peer.subscribed, 60)
        return peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)

    def send(self, opcode: int, payload: bytes) -> None:
        """One masked frame (RFC 6455 §5.3) of at most 65,535 bytes."""
        mask = os.urandom(4)
        size = len(payload)
        head = bytes((0x80 | opcode, 0x80 | size)) if size < 126 else bytes((0x80 | opcode, 0xFE))
        if size >= 126:
            head += size.to_bytes(2, "big")
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        assert self._transport is not None
        self._transport.write(head + mask + masked)

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        if not self._open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self._buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                raise BenchError(f"upgrade refused: {buf[:80]!r}")
            self._open = True
            buf = buf[end + 4 :]
        at, total = 0, len(buf)
        while total - at >= 2:
            size = buf[at + 1] & 0x7F
            start = at + 2
            if size == 126:
                size = int.from_bytes(buf[at + 2 : at + 4], "big")
                start = at + 4
            elif size == 127:
                size = int.from_bytes(buf[at + 2 : at + 10], "big")
                start = at + 10
            if start + size > total:
                break
            opcode = buf[at] & 0x0F
            payload = buf[start : start + size]
            at = start + size
            if opcode == 1:
                if self._wanted is None:
                    self._on_frame(payload, self._acct)
                elif json.loads(payload)["header"].get("correlationID") == self._wanted:
                    self._wanted = None
                    self.subscribed.set_result(None)
            elif opcode == 9:
                self.send(10, payload)
        self._buf = buf[at:]

    def close(self) -> None:
        """Close frame 1000, then the socket."""
        if self._transport is not None and not self._transport.is_closing():
            self.send(8, (1000).to_bytes(2, "big"))
            self._transport.close()


async def _subscriber_process(
    url: str, first: int, count: int, topics: int, lean: bool = False
) -> None:
    """``--role sub``: hold ``count`` subscribers; on stdin ``STOP {topic: published}`` report."""
    subs = [_Subscriber() for _ in range(count)]
    latencies: list[float] = []
    bursts: dict[str, list[float]] = {}
    """``topic:seq`` -> [first, last] arrival latency in this process (ms): when a publish's
    burst reached the first and the last of this process's connections."""
    seen = 0
    received = 0
    rng = random.Random(first)

    def on_frame(raw: str | bytes, acct: _Subscriber) -> None:
        nonlocal seen, received
        now = time.time()
        msg = json.loads(raw)
        head = msg["header"]
        if head["type"] != "event" or not head["topic"].startswith("soak."):
            return
        body = msg["body"]
        seq = body["seq"]
        received += 1
        if seq == acct.next:
            acct.next = seq + 1
        elif seq > acct.next:
            acct.lost += seq - acct.next  # settled later if they arrive out of order
            acct.next = seq + 1
        elif seq < acct.next:
            acct.reordered += 1  # or a duplicate: either fails the run
        seen += 1
        lat = (now - body["t"]) * 1000
        key = f"{head['topic']}:{seq}"
        burst = bursts.get(key)
        if burst is None:
            bursts[key] = [lat, lat]
        elif lat > burst[1]:
            burst[1] = lat
        if len(latencies) < _SAMPLE:
            latencies.append(lat)
        else:
            j = rng.randrange(seen)
            if j < _SAMPLE:
                latencies[j] = lat

    async def reader(ws: ClientConnection, acct: _Subscriber) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                on_frame(raw, acct)

    topic_of = [f"soak.t{(first + i) % topics}" for i in range(count)]
    conns: list[ClientConnection | None] = [None] * count
    leans: list[_Lean] = []
    sem = asyncio.Semaphore(40)  # well under the broker's pending-handshake bound

    async def open_one(i: int) -> None:
        async with sem:
            if lean:
                leans.append(await _Lean.register(url, topic_of[i], first + i, subs[i], on_frame))
            else:
                conns[i] = await _register(url, topic_of[i], first + i)

    await asyncio.gather(*(open_one(i) for i in range(count)))
    opened = [ws for ws in conns if ws is not None]
    pairs = [] if lean else zip(opened, subs, strict=True)
    tasks = [asyncio.create_task(reader(ws, acct)) for ws, acct in pairs]
    print(json.dumps({"event": "ready", "count": len(opened) + len(leans)}), flush=True)
    times0 = os.times()
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    published: dict[str, int] = json.loads(line.split(" ", 1)[1]) if line.startswith("STOP") else {}
    # drain: keep reading until every subscriber has its topic's last event, or nothing has
    # arrived for 10 s (what is missing then is lost)
    drain_start = loop.time()
    last, idle_since = received, loop.time()
    while any(acct.next < published.get(t, 0) for t, acct in zip(topic_of, subs, strict=True)):
        await asyncio.sleep(0.2)
        if received != last:
            last, idle_since = received, loop.time()
        elif loop.time() - idle_since > 10:
            break
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    for peer in leans:
        peer.close()
    lost = dup = 0
    for topic, acct in zip(topic_of, subs, strict=True):
        expected = published.get(topic, 0)
        lost += acct.lost + max(expected - acct.next, 0)
        dup += acct.reordered + max(acct.next - expected, 0)
    short = sorted(
        (published.get(t, 0) - a.next, a.lost) for t, a in zip(topic_of, subs, strict=True)
    )
    report = {"event": "done", "received": received, "lost": lost, "dup_or_reordered": dup}
    report["incomplete"] = [x for x in short if x != (0, 0)][:5]  # (missing at the end, gaps)
    report["drain_s"] = round(loop.time() - drain_start, 1)
    report["latency_ms"] = latencies
    report["bursts"] = {k: [round(first, 2), round(last, 2)] for k, (first, last) in bursts.items()}
    times = os.times()
    # this process's CPU from ready to done: the load generator's share of the machine
    report["cpu_s"] = [times.user - times0.user, times.system - times0.system]
    print(json.dumps(report), flush=True)


# -- orchestrator -----------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    per_topic = args.subscribers / args.topics
    publish_rate = args.rate / per_topic  # publishes per second, all topics together
    # --conformance: the fixture handlers only, none of the demo's unsolicited pings
    broker_args = ["serve", "--port", "0", "--conformance", "--max-connections-per-ip", "0"]
    if publish_rate > 150:  # the publisher is one connection: keep it under the message rate
        broker_args += ["--message-rate", "0"]
    if args.server == "wsmq-uvloop":
        broker_args += ["--loop", "uvloop"]
    if args.server == "raw":  # the floor: websockets.broadcast, no broker
        broker_argv = python_argv("bench.servers.soak_raw")
    else:
        broker_argv = python_argv("websocketmq", *broker_args)
    broker = await Proc.start("broker", broker_argv)
    subs: list[Proc] = []
    try:
        m = await broker.line(re.compile(r"listening on (ws://\S+)"), 60)
        url = m.group(1)
        bproc = psutil.Process(broker.pid)
        rss_start = bproc.memory_info().rss
        share = args.subscribers // args.procs
        for i in range(args.procs):
            count = share if i < args.procs - 1 else args.subscribers - share * (args.procs - 1)
            argv = python_argv(
                "bench.soak",
                "--role",
                "sub",
                "--url",
                url,
                "--first",
                str(i * share),
                "--count",
                str(count),
                "--topics",
                str(args.topics),
                "--sub-nice",
                str(args.sub_nice),
                "--client",
                args.client,
            )
            subs.append(await Proc.start(f"sub{i}", argv))
        ready = 0
        for p in subs:
            ready += int((await p.event("ready", 600))["count"])
        if ready != args.subscribers:
            raise BenchError(f"only {ready} of {args.subscribers} subscribers registered")
        rss_before = bproc.memory_info().rss
        pub = await connect(url, compression=None, ping_interval=None, open_timeout=30)
        await pub.send(_env("event", "_client.register", {}, "pub"))
        published = {f"soak.t{t}": 0 for t in range(args.topics)}
        rss_peak = rss_before
        loop = asyncio.get_running_loop()
        cpu0 = bproc.cpu_times()
        ctx0 = bproc.num_ctx_switches()
        machine0 = psutil.cpu_times()
        load0 = os.getloadavg()[0]
        start = loop.time()
        interval = 1 / publish_rate
        n = 0
        next_sample = start + 1
        rss_mid = rss_before
        while True:
            due = start + n * interval
            now = loop.time()
            if due - start >= args.seconds:
                break
            if due > now:
                await asyncio.sleep(due - now)
            topic = f"soak.t{n % args.topics}"
            seq = published[topic]
            published[topic] = seq + 1
            await pub.send(_env("event", topic, {"seq": seq, "t": time.time()}, f"p{n}"))
            n += 1
            if loop.time() >= next_sample:
                rss = bproc.memory_info().rss
                rss_peak = max(rss_peak, rss)
                if abs(loop.time() - start - args.seconds / 2) < 1:
                    rss_mid = rss
                next_sample += 1
        elapsed = loop.time() - start
        # the broker handles a connection's frames in order: once it answers this ping it has
        # routed every event before it
        await pub.send(_env("request", "_client.ping", None, "ping-end"))
        async with asyncio.timeout(60):
            while True:
                got = json.loads(await pub.recv())
                if got["header"].get("correlationID") == "ping-end":
                    break
                if got["header"]["type"] == "error":
                    raise BenchError(f"the publisher was refused: {got}")
        routed = loop.time() - start
        stop = ("STOP " + json.dumps(published) + "\n").encode()
        results = []
        for p in subs:
            assert p.proc.stdin is not None
            p.proc.stdin.write(stop)
            await p.proc.stdin.drain()
        for p in subs:
            results.append(await p.event("done", 120))
        cpu1 = bproc.cpu_times()  # publishing and draining: everything the broker sent
        ctx1 = bproc.num_ctx_switches()
        machine1 = psutil.cpu_times()
        load1 = os.getloadavg()[0]
        await pub.close()  # only now: the broker may still be reading its last events
        for p in subs:
            await p.stop()
        subs = []
        await asyncio.sleep(3)  # connections torn down, allocator settles
        rss_after = bproc.memory_info().rss
    finally:
        for p in subs:
            await p.stop()
        await broker.stop()
    deliveries = sum(int(r["received"]) for r in results)
    expected = sum(published[f"soak.t{t}"] * _subs_on(args, t) for t in range(args.topics))
    latencies = [x for r in results for x in r["latency_ms"]]
    user, system = cpu1.user - cpu0.user, cpu1.system - cpu0.system
    cpu = user + system
    clients = [sum(r["cpu_s"][i] for r in results) for i in (0, 1)]
    busy = sum(machine1) - sum(machine0) - (machine1.idle - machine0.idle)
    span = sum(machine1) - sum(machine0)
    # per publish: when its burst reached the first and the last subscriber (all processes)
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for r in results:
        for key, (a, b) in r["bursts"].items():
            first[key] = min(first.get(key, a), a)
            last[key] = max(last.get(key, b), b)
    firsts, lasts = list(first.values()), list(last.values())
    per = 1e6 / max(deliveries, 1)
    return {
        "event": "soak",
        "subscribers": args.subscribers,
        "procs": args.procs,
        "topics": args.topics,
        "seconds": round(elapsed, 1),
        "publishes": n,
        "deliveries": deliveries,
        "expected": expected,
        "deliveries_per_s": round(expected / elapsed),
        "lost": sum(int(r["lost"]) for r in results),
        "dup_or_reordered": sum(int(r["dup_or_reordered"]) for r in results),
        "latency_p50_ms": round(_pct(latencies, 0.5), 1),
        "latency_p99_ms": round(_pct(latencies, 0.99), 1),
        "latency_mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "broker_rss_mib": {
            "start": round(rss_start / 2**20, 1),
            "before": round(rss_before / 2**20, 1),
            "during_mid": round(rss_mid / 2**20, 1),
            "during_peak": round(rss_peak / 2**20, 1),
            "after": round(rss_after / 2**20, 1),
        },
        "server": args.server,
        "sub_nice": args.sub_nice,
        "client": args.client,
        "broker_cpu_s": round(cpu, 2),
        "broker_cpu_user_s": round(user, 2),
        "broker_cpu_system_s": round(system, 2),
        "broker_ctx_switches": {
            "voluntary": ctx1.voluntary - ctx0.voluntary,
            "involuntary": ctx1.involuntary - ctx0.involuntary,
        },
        "clients_cpu_user_s": round(clients[0], 2),
        "clients_cpu_system_s": round(clients[1], 2),
        "clients_cpu_us_per_delivery": round(sum(clients) * per, 2),
        "machine_busy_pct": round(100 * busy / max(span, 1e-9), 1),
        "load_avg_1m": [round(load0, 2), round(load1, 2)],
        "burst_first_ms": {"p50": round(_pct(firsts, 0.5), 1), "p99": round(_pct(firsts, 0.99), 1)},
        "burst_last_ms": {"p50": round(_pct(lasts, 0.5), 1), "p99": round(_pct(lasts, 0.99), 1)},
        "incomplete": [(r.get("incomplete"), r.get("drain_s")) for r in results],
        "routed_at_s": round(routed, 1),
        "broker_cpu_us_per_delivery": round(cpu * per, 2),
        "broker_user_us_per_delivery": round(user * per, 2),
        "broker_system_us_per_delivery": round(system * per, 2),
    }


async def _slow_consumers(args: argparse.Namespace) -> dict[str, Any]:
    """Issue 15 defect 2 as a measurement: broker RSS with never-reading subscribers."""
    argv = python_argv(
        "websocketmq", "serve", "--port", "0", "--conformance", "--max-connections-per-ip", "0"
    )
    broker = await Proc.start("broker", argv)
    try:
        url = (await broker.line(re.compile(r"listening on (ws://\S+)"), 60)).group(1)
        port = int(url.split(":")[2].split("/")[0])
        bproc = psutil.Process(broker.pid)
        loop = asyncio.get_running_loop()
        slow = []
        for i in range(3):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", port))
            ws = await connect(url, sock=sock, compression=None, ping_interval=None, max_queue=1)
            await ws.send(_env("event", "_client.register", {}, f"r{i}"))
            await ws.send(_env("request", "_client.subscribe", {"topic": "slow.x"}, f"s{i}"))
            slow.append(ws)
        fast = await _register(url, "slow.x", 99)
        pub = await connect(url, compression=None, ping_interval=None, max_size=None)
        await pub.send(_env("event", "_client.register", {}, "pub"))
        await asyncio.sleep(0.5)
        rss_before = bproc.memory_info().rss
        peak = rss_before
        pad = os.urandom(args.event_kib * 512).hex()
        got = 0
        for seq in range(args.events):
            await pub.send(_env("event", "slow.x", {"seq": seq, "t": 0, "pad": pad}, f"p{seq}"))
            while got < seq - 2:  # paced by the reading subscriber only
                msg = json.loads(await asyncio.wait_for(fast.recv(), 30))
                if msg["header"]["type"] == "event":
                    got += 1
            peak = max(peak, bproc.memory_info().rss)
        while got < args.events:
            msg = json.loads(await asyncio.wait_for(fast.recv(), 30))
            got += msg["header"]["type"] == "event"
        peak = max(peak, bproc.memory_info().rss)
        codes = []
        for ws in slow:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(30):
                    async for _ in ws:
                        pass
            rcvd = ws.protocol.close_rcvd
            # 4008, or 1006 when the broker had to abort the TCP connection (the close frame
            # sits behind data the peer never reads; the handshake is bounded at 1 s)
            if ws.state is not State.CLOSED:
                codes.append(None)  # still open after 30 s: never cut off
            else:
                codes.append(rcvd.code if rcvd is not None else 1006)
        await asyncio.sleep(2)
        rss_after = bproc.memory_info().rss
        for ws in (fast, pub, *slow):
            await ws.close()
    finally:
        await broker.stop()
    return {
        "event": "slow-consumers",
        "events": args.events,
        "event_kib": args.event_kib,
        "fast_received": got,
        "slow_close_codes": codes,
        "broker_rss_mib": {
            "before": round(rss_before / 2**20, 1),
            "peak": round(peak / 2**20, 1),
            "after": round(rss_after / 2**20, 1),
        },
    }


def _subs_on(args: argparse.Namespace, topic: int) -> int:
    """Subscribers of topic ``topic`` (subscriber k listens on k mod topics)."""
    return len(range(topic, args.subscribers, args.topics))


def main(argv: list[str] | None = None) -> int:
    """Entry point (``python -m bench.soak``)."""
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    p.add_argument("--subscribers", type=int, default=2000)
    p.add_argument("--procs", type=int, default=8, help="subscriber processes")
    p.add_argument("--rate", type=float, default=20_000, help="deliveries per second")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--topics", type=int, default=1)
    p.add_argument("--scenario", choices=("load", "slow-consumers"), default="load")
    p.add_argument(
        "--server",
        choices=("wsmq", "wsmq-uvloop", "raw"),
        default="wsmq",
        help="load: the broker (wsmq serve, --loop uvloop) or the floor (raw websockets.broadcast)",
    )
    p.add_argument(
        "--client",
        choices=("websockets", "lean"),
        default="websockets",
        help="load: the subscribers' WebSocket client (lean: frames parsed by hand, cheaper)",
    )
    p.add_argument(
        "--sub-nice",
        type=int,
        default=0,
        help="load: niceness of the subscriber processes (10: a woken subscriber no longer "
        "preempts the broker, as on separate machines)",
    )
    p.add_argument("--events", type=int, default=200, help="slow-consumers: events")
    p.add_argument("--event-kib", type=int, default=960, help="slow-consumers: event size")
    p.add_argument("--role", choices=("orchestrator", "sub"), default="orchestrator")
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.role == "sub":
        if args.sub_nice:
            os.nice(args.sub_nice)
        lean = args.client == "lean"
        asyncio.run(_subscriber_process(args.url, args.first, args.count, args.topics, lean))
        return 0
    if args.scenario == "slow-consumers":
        slow = asyncio.run(_slow_consumers(args))
        print(json.dumps(slow), flush=True)
        return 0 if set(slow["slow_close_codes"]) <= {4008, 1006} else 1
    result = asyncio.run(_orchestrate(args))
    print(json.dumps(result), flush=True)
    rss = result["broker_rss_mib"]
    print(
        f"soak: {result['subscribers']} subscribers in {result['procs']} processes, "
        f"{result['topics']} topic(s), {result['deliveries_per_s']:,} deliveries/s offered for "
        f"{result['seconds']} s: {result['deliveries']:,} delivered of {result['expected']:,}, "
        f"{result['lost']} lost, {result['dup_or_reordered']} duplicated/reordered\n"
        f"  delivery latency p50 {result['latency_p50_ms']} ms, p99 {result['latency_p99_ms']} ms"
        f"; broker CPU {result['broker_cpu_us_per_delivery']} us/delivery (user "
        f"{result['broker_user_us_per_delivery']}, system "
        f"{result['broker_system_us_per_delivery']}); clients "
        f"{result['clients_cpu_us_per_delivery']} us/delivery; burst reached its last "
        f"subscriber p50 {result['burst_last_ms']['p50']} ms, p99 "
        f"{result['burst_last_ms']['p99']} ms; machine {result['machine_busy_pct']}% busy"
        f"\n  [{result['server']}] RSS before "
        f"{rss['before']} MiB, during {rss['during_mid']} (peak {rss['during_peak']}), after "
        f"{rss['after']} MiB",
        file=sys.stderr,
    )
    ok = result["lost"] == 0 and result["dup_or_reordered"] == 0
    ok = ok and result["deliveries"] == result["expected"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
