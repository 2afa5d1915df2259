"""Load generator: one client process, one role, one system; JSON lines on stdout.

``python -m bench.load '<json spec>'`` where the spec names a ``role`` (``rpc``, ``s2c``,
``sub``, ``pub``, ``idle``), a ``dialect`` (``wsmq``, ``raw``, ``sio``, ``nats``, or ``wsmq-py``:
our Python client), the ``url`` and the role's parameters. The process prints
``{"event": "ready", …}`` when its connections are open (roles that hold connections) and
``{"event": "result", …}`` at the end; ``pub`` and ``idle`` then hold their connections until
stdin reaches EOF, so the harness decides when they go. The ``wsmq-tsclient`` row's load
generator is a Node script with the same spec and lines (bench/node/load.mts).

Every WebSocket dialect uses the same client stack (``websockets``, offering permessage-deflate
as browsers do, msgspec for JSON), so client-side cost is the same for every server and the
differences measured are the servers'. RPC results also carry the load generator's own CPU per
call (:class:`ClientCpu`), which for the client rows is what the client costs its user.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from typing import Any

import msgspec

from bench import wire
from bench.conn import Conn, open_conn

__all__ = ["main", "run"]

_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])


class Dialect:
    """How one family of servers is spoken to over a WebSocket (subclasses fill in frames)."""

    client = "picows"
    """The client stack (``bench.conn.CLIENTS``); set once per process from the spec."""

    async def open(self, url: str) -> Conn:
        """Connect and do whatever makes the connection usable (register, namespace connect)."""
        return await open_conn(url, Dialect.client)

    async def misc(self, ws: Conn, data: bytes) -> bool:
        """Handle a frame that is none of the workload's (keepalives); True if consumed."""
        return False

    def keepalive_reply(self, data: bytes | memoryview) -> bytes | None:
        """The answer to an application-level keepalive frame, None for any other frame."""
        return None

    def rpc_frame(self, n: int) -> tuple[str, bytes]:
        """Request ``n`` and the key its answer is matched by."""
        cid = f"c{n}"
        return cid, wire.request(wire.ECHO_TOPIC, cid, wire.body(n))

    def match(self, data: bytes) -> str | None:
        """The key of an RPC answer, None for anything else; an error answer raises."""
        env = wire.decode_envelope(data)
        if env.header.type == "error":
            raise RuntimeError(f"error answer: {data[:300]!r}")
        return env.header.correlationID

    def s2c_start(self, spec: dict[str, Any]) -> bytes:
        """The frame that makes the server start server→client RPC against us."""
        raise NotImplementedError

    def s2c_frame(self, data: bytes) -> tuple[bytes | None, dict[str, Any] | None]:
        """(answer to send, final report) for one frame received during s2c."""
        raise NotImplementedError

    def sub_frame(self) -> tuple[bytes, bytes]:
        """(subscribe frame, prefix of its acknowledgement)."""
        raise NotImplementedError

    def is_sub_ack(self, data: bytes) -> bool:
        """True when ``data`` acknowledges :meth:`sub_frame`."""
        raise NotImplementedError

    async def pub_setup(self, ws: Conn) -> None:
        """Make this connection a publisher (raw peers need to be told)."""

    def pub_frame(self, n: int) -> bytes:
        """Publish number ``n`` (body carries ``"seq": n``)."""
        return wire.event(wire.FANOUT_TOPIC, f"p{n}", wire.body(n))

    async def idle_ready(self, ws: Conn) -> None:
        """Make sure the server has fully set up this connection (for the memory shape)."""


class WsmqDialect(Dialect):
    """Our broker, spoken in the raw wsmq/1 wire format (no client library in the way)."""

    async def open(self, url: str) -> Conn:
        ws = await super().open(url)
        await ws.send(wire.register("r0"))
        while True:
            env = wire.decode_envelope(await ws.recv())
            if env.header.topic == "_internal.client.registered":
                return ws
            if env.header.type == "error":
                raise RuntimeError(f"register failed: {env}")

    def s2c_start(self, spec: dict[str, Any]) -> bytes:
        return wire.request(wire.S2C_TOPIC, "s2c-0", spec, ttl=300_000)

    def s2c_frame(self, data: bytes) -> tuple[bytes | None, dict[str, Any] | None]:
        env = wire.decode_envelope(data)
        t = env.header.type
        if t == "request":
            return wire.response_to(env, "a"), None
        if t == "response" and env.header.correlationID == "s2c-0":
            return None, json.loads(bytes(env.body))
        if t == "error":
            raise RuntimeError(f"error during s2c: {data[:300]!r}")
        return None, None

    def sub_frame(self) -> tuple[bytes, bytes]:
        return wire.request("_client.subscribe", "sub-0", {"topic": wire.FANOUT_TOPIC}), b""

    def is_sub_ack(self, data: bytes) -> bool:
        env = wire.decode_envelope(data)
        if env.header.type == "error":
            raise RuntimeError(f"subscribe failed: {data[:300]!r}")
        return env.header.type == "response" and env.header.correlationID == "sub-0"


class RawDialect(Dialect):
    """The raw ``websockets`` / ``picows`` peers (control words, see ``bench.servers.ws_peer``)."""

    def s2c_start(self, spec: dict[str, Any]) -> bytes:
        return b"!s2c " + json.dumps(spec).encode()

    def s2c_frame(self, data: bytes) -> tuple[bytes | None, dict[str, Any] | None]:
        if data.startswith(b"!result "):
            return None, json.loads(data[8:])
        return wire.response_to(wire.decode_envelope(data), "a"), None

    def sub_frame(self) -> tuple[bytes, bytes]:
        return b"!sub", b"!ok"

    def is_sub_ack(self, data: bytes) -> bool:
        return data == b"!ok"

    async def pub_setup(self, ws: Conn) -> None:
        await ws.send(b"!pub")
        while await ws.recv() != b"!ok":
            pass

    async def idle_ready(self, ws: Conn) -> None:
        key, frame = self.rpc_frame(0)
        await ws.send(frame)
        while self.match(await ws.recv()) != key:
            pass


class SioDialect(Dialect):
    """python-socketio, spoken as Engine.IO v4 / Socket.IO v5 packets over a plain WebSocket
    (the same client stack as the others, rather than python-socketio's heavier client)."""

    async def open(self, url: str) -> Conn:
        ws = await super().open(url + "?EIO=4&transport=websocket")
        first = await ws.recv()
        if not first.startswith(b"0"):
            raise RuntimeError(f"no engine.io open packet: {first!r}")
        await ws.send(b"40")
        while True:
            data = await ws.recv()
            if data.startswith(b"40"):
                return ws
            if data.startswith(b"44"):
                raise RuntimeError(f"namespace connect refused: {data!r}")
            await self.misc(ws, data)

    async def misc(self, ws: Conn, data: bytes) -> bool:
        if data == b"2":  # engine.io ping → pong
            await ws.send(b"3")
            return True
        return False

    def keepalive_reply(self, data: bytes | memoryview) -> bytes | None:
        return b"3" if data == b"2" else None

    def rpc_frame(self, n: int) -> tuple[str, bytes]:
        return str(n), b'42%d["echo",%s]' % (n, wire.encode(wire.body(n)))

    def match(self, data: bytes) -> str | None:
        if data.startswith(b"43"):
            return data[2 : data.index(b"[")].decode()
        return None

    def s2c_start(self, spec: dict[str, Any]) -> bytes:
        return b'420["s2c",' + json.dumps(spec).encode() + b"]"

    def s2c_frame(self, data: bytes) -> tuple[bytes | None, dict[str, Any] | None]:
        if data.startswith(b"430["):
            return None, json.loads(data[3:])[0]
        if data.startswith(b"42"):
            i = data.index(b"[")
            args = _RAW_LIST.decode(data[i:])
            return b"43" + data[2:i] + b"[" + bytes(args[1]) + b"]", None
        return None, None

    def sub_frame(self) -> tuple[bytes, bytes]:
        return b'420["sub"]', b"430"

    def is_sub_ack(self, data: bytes) -> bool:
        return data.startswith(b"430[")

    def pub_frame(self, n: int) -> bytes:
        return b'42["pub",' + wire.encode(wire.body(n)) + b"]"


DIALECTS: dict[str, Dialect] = {"wsmq": WsmqDialect(), "raw": RawDialect(), "sio": SioDialect()}


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def emit(obj: dict[str, Any]) -> None:
    """One JSON line to the harness."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _stdin_eof() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.buffer.read)


async def _open_many(d: Dialect, urls: list[str], n: int, parallel: int = 64) -> list[Conn]:
    """``n`` connections, spread round-robin over ``urls`` (the nodes of a cluster)."""
    sem = asyncio.Semaphore(parallel)

    async def one(url: str) -> Conn:
        async with sem:
            return await d.open(url)

    return list(await asyncio.gather(*(one(urls[i % len(urls)]) for i in range(n))))


# ---------------------------------------------------------------- WebSocket roles


async def ws_rpc(d: Dialect, spec: dict[str, Any]) -> dict[str, Any]:
    """``window`` requests in flight for ``duration`` s after ``warmup`` s; round trips/s."""
    ws = await d.open(spec["url"])
    window, warmup, duration = int(spec["window"]), float(spec["warmup"]), float(spec["duration"])
    sent: dict[str, float] = {}
    lat: list[float] = []
    n = 0
    meter = ClientCpu(warmup)
    t_measure = time.perf_counter() + warmup
    t_end = t_measure + duration
    last = t_measure

    async def send_one() -> None:
        nonlocal n
        n += 1
        meter.op()
        key, frame = d.rpc_frame(n)
        sent[key] = time.perf_counter()
        await ws.send(frame)

    for _ in range(window):
        await send_one()
    while sent:
        data = await ws.recv()
        if await d.misc(ws, data):
            continue
        key = d.match(data)
        if key is None:
            continue
        t0 = sent.pop(key)
        now = time.perf_counter()
        if t0 >= t_measure:
            lat.append(now - t0)
            last = now
        if now < t_end:
            await send_one()
    cpu = meter.result()
    await ws.close()
    elapsed = max(last - t_measure, 1e-9)
    return {
        "count": len(lat),
        "elapsed": elapsed,
        "rate": len(lat) / elapsed,
        "errors": 0,
        "total": n,
        "extensions": ws.extensions(),
        **wire.latency_stats(lat),
        **cpu,
    }


async def ws_s2c(d: Dialect, spec: dict[str, Any]) -> dict[str, Any]:
    """Ask the server to run server→client RPC against us; answer it; return its report."""
    ws = await d.open(spec["url"])
    params = {k: spec[k] for k in ("window", "duration", "warmup")}
    meter = ClientCpu(float(spec["warmup"]))
    await ws.send(d.s2c_start(params))
    while True:
        data = await ws.recv()
        if await d.misc(ws, data):
            continue
        reply, result = d.s2c_frame(data)
        if reply is not None:
            meter.op()
            await ws.send(reply)
        if result is not None:
            result |= meter.result()
            await ws.close()
            return result


class Tally:
    """Counts one subscriber's deliveries: every seq exactly once, or the run fails."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.seen = bytearray(count)
        self.got = 0
        self.dups = 0
        self.foreign = 0
        self.t_first = 0.0
        self.t_last = 0.0

    def on(self, seq: int) -> None:
        """Account one delivery (duplicates and out-of-range numbers are counted as such)."""
        now = time.monotonic()
        if not 0 <= seq < self.count:
            self.foreign += 1
            return
        if self.seen[seq]:
            self.dups += 1
        else:
            self.seen[seq] = 1
            self.got += 1
        if not self.t_first:
            self.t_first = now
        self.t_last = now


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class ClientCpu:
    """The load generator's own CPU per call over the measured window (issue 18: what a client
    costs its user, beside the server's CPU per operation that the harness measures).

    Created with the run's ``warmup`` just before the calls start; :meth:`op` is called once
    per call (a request sent, a server→client request answered), and counts only calls from
    ``warmup`` seconds on, the first of which also starts the CPU clock (user + system time
    of the whole process). bench/node/load.mts does the same with ``process.cpuUsage()``.
    """

    def __init__(self, warmup: float) -> None:
        self.t_measure = time.perf_counter() + warmup
        self.cpu0: float | None = None
        self.ops = 0

    def op(self) -> None:
        """Account one call."""
        if time.perf_counter() < self.t_measure:
            return
        if self.cpu0 is None:
            self.cpu0 = _cpu_s()
        self.ops += 1

    def result(self) -> dict[str, Any]:
        """``client_cpu_s``, ``client_ops`` and ``client_cpu_us_per_op`` (None without calls)."""
        cpu = 0.0 if self.cpu0 is None else _cpu_s() - self.cpu0
        return {
            "client_cpu_s": cpu,
            "client_ops": self.ops,
            "client_cpu_us_per_op": cpu / self.ops * 1e6 if self.ops else None,
        }


def _summary(tallies: list[Tally], count: int, cpu0: float) -> dict[str, Any]:
    return {
        "cpu_s": _cpu_s() - cpu0,
        "conns": len(tallies),
        "received": sum(t.got for t in tallies),
        "missing": sum(count - t.got for t in tallies),
        "dups": sum(t.dups for t in tallies),
        "foreign": sum(t.foreign for t in tallies),
        "t_first": min((t.t_first for t in tallies if t.t_first), default=0.0),
        "t_last": max((t.t_last for t in tallies), default=0.0),
    }


async def ws_sub(d: Dialect, spec: dict[str, Any]) -> dict[str, Any]:
    """Open ``conns`` subscriptions, say ready, count ``count`` deliveries on each."""
    count, idle = int(spec["count"]), float(spec["idle_timeout"])
    conns = await _open_many(d, spec.get("urls") or [spec["url"]], int(spec["conns"]))

    async def subscribe(ws: Conn) -> None:
        frame, _ = d.sub_frame()
        await ws.send(frame)
        while True:
            data = await ws.recv()
            if not await d.misc(ws, data) and d.is_sub_ack(data):
                return

    await asyncio.gather(*(subscribe(ws) for ws in conns))
    tallies = [Tally(count) for _ in conns]

    all_done = asyncio.get_running_loop().create_future()
    pending = [len(conns)]

    def counter(tally: Tally) -> Any:
        def on_frame(data: bytes | memoryview) -> bytes | None:
            m = wire.SEQ_RE.search(data)
            if m is None:
                reply = d.keepalive_reply(data)
                if reply is None:
                    tally.foreign += 1
                return reply
            tally.on(int(m.group(1)))
            if tally.got == count:
                pending[0] -= 1
                if not pending[0] and not all_done.done():
                    all_done.set_result(None)
            return None

        return on_frame

    for ws, tally in zip(conns, tallies, strict=True):
        ws.set_handler(counter(tally))
    cpu0 = _cpu_s()
    emit({"event": "ready", "conns": len(conns)})
    seen = -1
    while not all_done.done():  # until every delivery arrived, or no progress for ``idle`` s
        got = sum(t.got for t in tallies)
        if got == seen:
            break
        seen = got
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(all_done), idle)
    return _summary(tallies, count, cpu0)


async def ws_pub(d: Dialect, spec: dict[str, Any]) -> dict[str, Any]:
    """Publish ``count`` messages as fast as the connection takes them."""
    ws = await d.open(spec["url"])
    await d.pub_setup(ws)
    count = int(spec["count"])
    t0 = time.monotonic()
    for i in range(count):
        await ws.send(d.pub_frame(i))
    t_sent = time.monotonic()
    emit({"event": "result", "t0": t0, "t_sent": t_sent, "count": count})

    async def drain() -> None:
        with contextlib.suppress(ConnectionError):
            while True:  # keep answering keepalives until the harness says stop
                await d.misc(ws, await ws.recv())

    task = asyncio.create_task(drain())
    await _stdin_eof()
    task.cancel()
    return {}


async def ws_idle(d: Dialect, spec: dict[str, Any]) -> dict[str, Any]:
    """Open ``conns`` connections, fully set up on the server, and hold them until stdin EOF."""
    conns = await _open_many(d, spec.get("urls") or [spec["url"]], int(spec["conns"]))
    await asyncio.gather(*(d.idle_ready(ws) for ws in conns))

    async def hold(ws: Conn) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                await d.misc(ws, await ws.recv())

    tasks = [asyncio.create_task(hold(ws)) for ws in conns]
    emit({"event": "ready", "conns": len(conns)})
    await _stdin_eof()
    alive = sum(1 for t in tasks if not t.done())
    return {"conns": len(conns), "alive": alive}


# ---------------------------------------------------------------- NATS roles


async def nats_rpc(spec: dict[str, Any]) -> dict[str, Any]:
    """nats-py request-reply to the responder, ``window`` requests in flight."""
    import nats

    nc = await nats.connect(spec["url"], max_reconnect_attempts=0)
    meter = ClientCpu(float(spec["warmup"]))

    async def call(n: int) -> Any:
        meter.op()
        return await nc.request(wire.ECHO_TOPIC, wire.encode(wire.body(n)), timeout=60)

    try:
        return await wire.closed_loop(call, spec) | meter.result()
    finally:
        await nc.close()


async def nats_s2c(spec: dict[str, Any]) -> dict[str, Any]:
    """Let the responder run requests against our own subject; return its report."""
    import nats

    nc = await nats.connect(spec["url"], max_reconnect_attempts=0)
    subject = f"bench.client.{os.getpid()}"
    meter = ClientCpu(float(spec["warmup"]))

    async def answer(msg: Any) -> None:
        meter.op()
        await msg.respond(msg.data)

    await nc.subscribe(subject, cb=answer)
    await nc.flush()
    params = {k: spec[k] for k in ("window", "duration", "warmup")} | {"subject": subject}
    reply = await nc.request(wire.S2C_TOPIC, json.dumps(params).encode(), timeout=300)
    cpu = meter.result()
    await nc.close()
    result: dict[str, Any] = json.loads(reply.data)
    return result | cpu


async def nats_sub(spec: dict[str, Any]) -> dict[str, Any]:
    """``conns`` nats-py connections, each subscribed, counting ``count`` deliveries."""
    import nats

    count, idle = int(spec["count"]), float(spec["idle_timeout"])
    sem = asyncio.Semaphore(64)

    async def one() -> Any:
        async with sem:
            return await nats.connect(spec["url"], max_reconnect_attempts=0)

    ncs = await asyncio.gather(*(one() for _ in range(int(spec["conns"]))))
    tallies = [Tally(count) for _ in ncs]
    events = [asyncio.Event() for _ in ncs]
    for nc, tally, ev in zip(ncs, tallies, events, strict=True):

        async def cb(msg: Any, tally: Tally = tally, ev: asyncio.Event = ev) -> None:
            tally.on(wire.seq_of(msg.data))
            if tally.got >= count:
                ev.set()

        await nc.subscribe(wire.FANOUT_TOPIC, cb=cb)
    await asyncio.gather(*(nc.flush() for nc in ncs))
    cpu0 = _cpu_s()
    emit({"event": "ready", "conns": len(ncs)})

    async def wait(tally: Tally, ev: asyncio.Event) -> None:
        seen = -1
        while not ev.is_set() and tally.got != seen:
            seen = tally.got
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), idle)

    await asyncio.gather(*(wait(t, e) for t, e in zip(tallies, events, strict=True)))
    return _summary(tallies, count, cpu0)


async def nats_pub(spec: dict[str, Any]) -> dict[str, Any]:
    """Publish ``count`` messages through nats-server."""
    import nats

    nc = await nats.connect(spec["url"], max_reconnect_attempts=0)
    count = int(spec["count"])
    t0 = time.monotonic()
    for i in range(count):
        await nc.publish(wire.FANOUT_TOPIC, wire.encode(wire.body(i)))
    await nc.flush()
    emit({"event": "result", "t0": t0, "t_sent": time.monotonic(), "count": count})
    await _stdin_eof()
    return {}


async def nats_idle(spec: dict[str, Any]) -> dict[str, Any]:
    """``conns`` idle nats-py connections until stdin EOF."""
    import nats

    sem = asyncio.Semaphore(64)

    async def one() -> Any:
        async with sem:
            nc = await nats.connect(spec["url"], max_reconnect_attempts=0)
            await nc.flush()
            return nc

    ncs = await asyncio.gather(*(one() for _ in range(int(spec["conns"]))))
    emit({"event": "ready", "conns": len(ncs)})
    await _stdin_eof()
    return {"conns": len(ncs), "alive": sum(1 for nc in ncs if nc.is_connected)}


# ---------------------------------------------------------------- our Python client


async def py_connect(url: str) -> Any:
    """Our client library (``websocketmq.connect``), reconnect off: a drop fails the run."""
    from websocketmq import connect as wsmq_connect

    return await wsmq_connect(url, auto_reconnect=False, connect_timeout=60)


async def py_rpc(spec: dict[str, Any]) -> dict[str, Any]:
    """``client.request("bench.echo", …)`` from ``window`` concurrent loops."""
    client = await py_connect(spec["url"])
    meter = ClientCpu(float(spec["warmup"]))

    async def call(n: int) -> Any:
        meter.op()
        return await client.request(wire.ECHO_TOPIC, wire.body(n), 60)

    try:
        return await wire.closed_loop(call, spec) | meter.result()
    finally:
        await client.close()


async def py_s2c(spec: dict[str, Any]) -> dict[str, Any]:
    """A ``bench.echo`` handler on our client; the server's report of its s2c run."""
    client = await py_connect(spec["url"])
    meter = ClientCpu(float(spec["warmup"]))

    def echo(msg: Any) -> Any:
        meter.op()
        return msg.body

    await client.subscribe(wire.ECHO_TOPIC, echo)
    params = {k: spec[k] for k in ("window", "duration", "warmup")}
    result: dict[str, Any] = await client.request(wire.S2C_TOPIC, params, 300)
    cpu = meter.result()
    await client.close()
    return result | cpu


async def py_sub(spec: dict[str, Any]) -> dict[str, Any]:
    """``conns`` clients, each ``subscribe("bench.fanout", handler)``, counting deliveries."""
    count, idle = int(spec["count"]), float(spec["idle_timeout"])
    urls = spec.get("urls") or [spec["url"]]
    sem = asyncio.Semaphore(64)

    async def one(url: str) -> Any:
        async with sem:
            return await py_connect(url)

    clients = await asyncio.gather(*(one(urls[i % len(urls)]) for i in range(int(spec["conns"]))))
    tallies = [Tally(count) for _ in clients]
    all_done = asyncio.get_running_loop().create_future()
    pending = [len(clients)]

    def handler(tally: Tally) -> Any:
        def on_event(msg: Any) -> None:
            tally.on(int(msg.body["seq"]))
            if tally.got == count:
                pending[0] -= 1
                if not pending[0] and not all_done.done():
                    all_done.set_result(None)

        return on_event

    for client, tally in zip(clients, tallies, strict=True):
        await client.subscribe(wire.FANOUT_TOPIC, handler(tally))
    cpu0 = _cpu_s()
    emit({"event": "ready", "conns": len(clients)})
    seen = -1
    while not all_done.done():  # until every delivery arrived, or no progress for ``idle`` s
        got = sum(t.got for t in tallies)
        if got == seen:
            break
        seen = got
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(all_done), idle)
    return _summary(tallies, count, cpu0)


async def py_pub(spec: dict[str, Any]) -> dict[str, Any]:
    """``client.publish`` ``count`` times."""
    client = await py_connect(spec["url"])
    count = int(spec["count"])
    t0 = time.monotonic()
    for i in range(count):
        await client.publish(wire.FANOUT_TOPIC, wire.body(i))
    emit({"event": "result", "t0": t0, "t_sent": time.monotonic(), "count": count})
    await _stdin_eof()
    return {}


# ---------------------------------------------------------------- entry point

_PY_ROLES = {"rpc": py_rpc, "s2c": py_s2c, "sub": py_sub, "pub": py_pub}
_WS_ROLES = {"rpc": ws_rpc, "s2c": ws_s2c, "sub": ws_sub, "pub": ws_pub, "idle": ws_idle}
_NATS_ROLES = {
    "rpc": nats_rpc,
    "s2c": nats_s2c,
    "sub": nats_sub,
    "pub": nats_pub,
    "idle": nats_idle,
}


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the role ``spec`` names and return its report."""
    role, dialect = spec["role"], spec["dialect"]
    Dialect.client = spec.get("client", "picows")
    if dialect == "nats":
        return await _NATS_ROLES[role](spec)
    if dialect == "wsmq-py":
        return await _PY_ROLES[role](spec)
    return await _WS_ROLES[role](DIALECTS[dialect], spec)


def main() -> None:
    """``python -m bench.load '<json spec>'``; bounded by the spec's ``max_seconds``."""
    _raise_fd_limit()
    spec = json.loads(sys.argv[1])
    result = asyncio.run(asyncio.wait_for(run(spec), float(spec.get("max_seconds", 300))))
    if result:
        emit({"event": "result", **result})
    sys.stdout.flush()
    os._exit(0)  # don't spend seconds closing thousands of connections politely


if __name__ == "__main__":
    main()
