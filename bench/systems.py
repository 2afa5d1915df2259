"""The systems under test: how to start each server and which dialect drives it.

Each :class:`System` starts its server process(es) on 127.0.0.1 with a free port and returns a
:class:`Running` (the URL clients use and the PID whose RSS is the server's memory).

Cross-node rows (issue 7e) plug in here: a system whose ``start`` launches a nats-server and two
broker nodes with the NATS backend, and whose ``Running.urls`` lists both nodes, so that the
harness spreads client processes over them (see ``TODO(nats-backend)`` below).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import nodeclient
from bench.procs import Proc, python_argv

__all__ = ["SYSTEMS", "Running", "System", "available_systems", "skip_reason"]

READY_RE = re.compile(r"(?:bench|wsmq): listening on (\S+)")
NATS_READY_RE = re.compile(r"Listening for client connections on ([\d.]+):(\d+)")


@dataclass
class Running:
    """A started system: client URLs (one per node) and the processes to stop afterwards."""

    urls: list[str]
    rss_pid: int
    procs: list[Proc] = field(default_factory=list)

    @property
    def cpu_pids(self) -> list[int]:
        """Every server-side process: their CPU time per operation is reported."""
        return [p.pid for p in self.procs]

    @property
    def url(self) -> str:
        """The first node's URL (single-node systems have only one)."""
        return self.urls[0]

    async def stop(self) -> None:
        """Stop every process, last started first."""
        for p in reversed(self.procs):
            await p.stop()


@dataclass(frozen=True)
class System:
    """One row of the results table."""

    name: str
    label: str
    dialect: str
    start: Callable[[], Awaitable[Running]]
    ours: bool = False
    ws_peer: str = "ws"
    """The raw ``websockets`` row configured like this one (the "same transport" target)."""
    memory: bool = True
    """Measured in the idle-memory shape (not the multi-node rows)."""
    client: str = "picows"
    """Load generators' client stack (``bench.conn``): ``websockets`` where deflate is on;
    ``node`` for the Node load generator (``dialect`` ``wsmq-ts``), which ignores it."""


PROFILE_DIR: list[str] = []
"""Set by ``python -m bench --profile DIR``: our servers then run under cProfile."""


async def _start_script(name: str, module: str, *args: str) -> Running:
    argv = python_argv(module, *args)
    if PROFILE_DIR and module == "bench.servers.wsmq_server":
        out = Path(PROFILE_DIR[0]) / f"{name}-{time.strftime('%H%M%S')}-{os.getpid()}.prof"
        argv = [argv[0], "-m", "cProfile", "-o", str(out), "-m", module, *args]
    proc = await Proc.start(name, argv)
    try:
        m = await proc.line(READY_RE, 60)
    except BaseException:
        await proc.stop()
        raise
    return Running([m.group(1)], proc.pid, [proc])


_NATS_CONFIG = Path(__file__).with_name("nats-server.conf")
"""``max_payload: 2MB``: a broker node refuses to start below max_message_size plus headers."""


async def _start_nats_server(name: str) -> tuple[Proc, str]:
    exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
    proc = await Proc.start(
        name,
        [exe, "-c", str(_NATS_CONFIG), "-a", "127.0.0.1", "-p", "-1"],
        merge_stderr=True,
        stdin_ends=False,
    )
    try:
        m = await proc.line(NATS_READY_RE, 30)
    except BaseException:
        await proc.stop()
        raise
    return proc, f"nats://{m.group(1)}:{m.group(2)}"


async def start_nats() -> Running:
    """Our own nats-server on a random port (never the system one on 4222) + the responder."""
    server, url = await _start_nats_server("nats-server")
    try:
        responder = await Proc.start(
            "nats-responder", python_argv("bench.servers.nats_responder", "--nats", url)
        )
        await responder.line(READY_RE, 60)
    except BaseException:
        await server.stop()
        raise
    return Running([url], server.pid, [server, responder])


async def start_wsmq(*args: str) -> Running:
    """Our reference broker with the bench handlers (``bench.servers.wsmq_server``)."""
    return await _start_script("wsmq", "bench.servers.wsmq_server", *args)


async def start_wsmq_cluster() -> Running:
    """Cross-node rows (issue 7e): our own nats-server and two broker nodes with the NATS
    backend; node A has the handlers and the publisher, node B the RPC callers and half of
    the subscribers, so every RPC and half of the deliveries cross NATS."""
    nats_proc, nats_url = await _start_nats_server("nats-server(2node)")
    procs = [nats_proc]
    urls: list[str] = []
    try:
        for node, extra in (("a", ()), ("b", ("--no-handlers",))):
            r = await _start_script(
                f"wsmq-node-{node}", "bench.servers.wsmq_server", "--nats", nats_url, *extra
            )
            procs += r.procs
            urls += r.urls
    except BaseException:
        for p in reversed(procs):
            await p.stop()
        raise
    return Running(urls, procs[1].pid, procs)


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System("wsmq", "WebSocketMQ (ours, no deflate)", "wsmq", start_wsmq, ours=True),
        System(
            "wsmq-deflate",
            "WebSocketMQ (ours, deflate)",
            "wsmq",
            lambda: start_wsmq("--deflate"),
            ours=True,
            ws_peer="ws-deflate",
            client="websockets",
        ),
        System(
            "wsmq-metrics",
            "WebSocketMQ (ours, no deflate, metrics on)",
            "wsmq",
            lambda: start_wsmq("--metrics"),
            ours=True,
            memory=False,
        ),
        System(
            "wsmq-uvloop",
            "WebSocketMQ (ours, no deflate, uvloop)",
            "wsmq",
            lambda: start_wsmq("--loop", "uvloop"),
            ours=True,
            memory=False,
        ),
        System(
            "wsmq-2node",
            "WebSocketMQ (ours, 2 nodes over NATS)",
            "wsmq",
            start_wsmq_cluster,
            ours=True,
            memory=False,
        ),
        System(
            "wsmq-pyclient",
            "WebSocketMQ (ours, driven by our Python client)",
            "wsmq-py",
            start_wsmq,
            ours=True,
            memory=False,
            client="websockets",
        ),
        # The same broker driven by a raw websockets client doing its own JSON envelopes and ID
        # matching (bench.load.WsmqDialect): the peer of wsmq-pyclient, so their ratio is what
        # our Python client costs over hand-written client code (issue 18).
        System(
            "wsmq-wsclient",
            "WebSocketMQ (ours, driven by a raw websockets client)",
            "wsmq",
            start_wsmq,
            memory=False,
            client="websockets",
        ),
        # The same broker driven by our TypeScript client under Node (bench/node/load.mts, built
        # at run time by bench.nodeclient, with the ``ws`` package): the peer of wsmq-pyclient
        # for the other client we ship (issue 18).
        System(
            "wsmq-tsclient",
            "WebSocketMQ (ours, driven by our TypeScript client under Node)",
            "wsmq-ts",
            start_wsmq,
            ours=True,
            memory=False,
            client="node",
        ),
        System(
            "wsmq-picows",
            "WebSocketMQ core behind picows (experiment)",
            "wsmq",
            lambda: _start_script("wsmq-picows", "bench.servers.wsmq_picows_server"),
            ours=True,
        ),
        # BENCH_WSMQ_EXPERIMENT=/path/to/patch.py measures a hot-path experiment (a file that
        # monkeypatches the broker on import) beside the unmodified broker.
        System(
            "wsmq-exp",
            "WebSocketMQ + experiment",
            "wsmq",
            lambda: start_wsmq("--preload", os.environ["BENCH_WSMQ_EXPERIMENT"]),
            ours=True,
        ),
        System(
            "ws",
            "websockets raw (no deflate)",
            "raw",
            lambda: _start_script("ws", "bench.servers.ws_peer"),
        ),
        System(
            "ws-deflate",
            "websockets raw (deflate)",
            "raw",
            lambda: _start_script("ws-deflate", "bench.servers.ws_peer", "--deflate"),
            client="websockets",
        ),
        System(
            "picows",
            "picows raw",
            "raw",
            lambda: _start_script("picows", "bench.servers.picows_peer"),
        ),
        System(
            "socketio",
            "python-socketio (aiohttp)",
            "sio",
            lambda: _start_script("socketio", "bench.servers.sio_peer"),
        ),
        System("nats", "nats-py via nats-server", "nats", start_nats),
    )
}


def available_systems() -> list[str]:
    """Systems whose software is present: ours only once the broker package exists."""
    names = []
    for name in SYSTEMS:
        if name.startswith("wsmq") and not (_have("websocketmq.broker") and _ours_ready()):
            continue
        if name in ("nats", "wsmq-2node") and shutil.which("nats-server") is None:
            continue
        if name == "wsmq-2node" and not _have("websocketmq.backends.nats"):
            continue
        if name == "wsmq-exp" and not os.environ.get("BENCH_WSMQ_EXPERIMENT"):
            continue
        if name == "wsmq-uvloop" and not _have("uvloop"):
            continue
        if name == "wsmq-metrics" and not _have("prometheus_client"):
            continue
        if name == "wsmq-tsclient" and nodeclient.missing() is not None:
            continue
        names.append(name)
    return names


def skip_reason(name: str) -> str | None:
    """Why a row is skipped with a message even when asked for by name (``--systems``): only
    the TypeScript client row, when Node or esbuild is missing (bench.nodeclient)."""
    if name == "wsmq-tsclient":
        return nodeclient.missing()
    return None


def _ours_ready() -> bool:
    """The bench server script imports the broker's public API; probe it without running it."""
    try:
        import websocketmq

        return hasattr(websocketmq, "Broker")
    except Exception:
        return False


async def smoke(name: str) -> None:  # pragma: no cover - manual debugging aid
    """Start and stop one system (``python -c 'import asyncio, bench.systems as s; …'``)."""
    running = await SYSTEMS[name].start()
    print(running.urls, running.rss_pid)
    await running.stop()


if __name__ == "__main__":  # pragma: no cover
    import sys

    asyncio.run(smoke(sys.argv[1]))
