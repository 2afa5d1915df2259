"""Real ``nats-server`` processes and broker-node subprocesses for the NATS scale-out tests.

Why a helper of its own: every NATS test needs real servers on free loopback ports (never the
system server on 4222), must wait for a *readiness signal* rather than sleep, must be able to
kill and restart a node on the same port (fault tests), and must stop every process it started,
whatever happens in the test.  All of that lives here so the tests read as scenarios.

Readiness signals used:

* ``nats-server``: its ``Server is ready`` log line (stderr).
* a NATS *cluster*: a probe subscription on every node answered from every other node, i.e. the
  routes exist **and** interest propagates (what the broker nodes actually depend on).
* a broker node (``python -m websocketmq serve --port 0 --nats URL``): the one stdout line
  ``wsmq: listening on ws://HOST:PORT/PATH`` (docs/design.md §8).

For the benchmark harness (how to start a 2-node cluster for cross-node rows)::

    async with NatsServer.start() as nats, \\
            BrokerNode.start([nats.url], name="a") as a, \\
            BrokerNode.start([nats.url], name="b") as b:
        ...  # clients connect to a.ws_url and b.ws_url
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "NATS_SERVER",
    "SKIP_REASON",
    "BrokerNode",
    "NatsCluster",
    "NatsServer",
    "TcpBalancer",
    "free_port",
    "node_main",
    "wait_cluster_ready",
]

NATS_SERVER: str | None = shutil.which("nats-server")
CONFIG = Path(__file__).with_name("nats-server.conf")
"""``max_payload: 2MB``: room for the broker's largest frame plus headers (a node refuses to
start below it, docs/deployment.md)."""
SKIP_REASON = "install Debian's nats-server (apt-get install nats-server) to run the NATS tests"

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

#: Upper bound for any single "wait until ready" step; generous because the machine is shared.
READY_TIMEOUT = float(os.environ.get("WSMQ_TEST_READY_TIMEOUT", "20"))


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (nats-server needs explicit ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Proc:
    """An asyncio subprocess whose output is drained continuously into a line log.

    Draining matters: a full stderr pipe would block ``nats-server`` and look like a hang.
    """

    def __init__(self, proc: asyncio.subprocess.Process, label: str) -> None:
        self.proc = proc
        self.label = label
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._readers = [
            asyncio.create_task(self._drain(s)) for s in (proc.stdout, proc.stderr) if s is not None
        ]

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while True:
            raw = await stream.readline()
            if not raw:
                break
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self._changed.set()
        self._changed.set()

    async def wait_line(self, pattern: re.Pattern[str], limit_s: float = READY_TIMEOUT) -> str:
        """Return the first output line matching ``pattern``; fail if the process exits first."""
        deadline = time.monotonic() + limit_s
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if pattern.search(line):
                    return line
            seen = len(self.lines)
            if self.proc.returncode is not None or all(r.done() for r in self._readers):
                raise RuntimeError(
                    f"{self.label} exited before ready:\n" + "\n".join(self.lines[-30:])
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.label} not ready:\n" + "\n".join(self.lines[-30:]))
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def stop(self, sig: int = signal.SIGTERM, grace_s: float = 10.0) -> None:
        """Send ``sig``, wait (bounded), then SIGKILL; always reap the process and readers."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), grace_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        for r in self._readers:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(r, 5)

    def output(self) -> str:
        return "\n".join(self.lines)


@dataclass
class NatsServer:
    """One ``nats-server`` bound to 127.0.0.1, optionally a member of a cluster.

    ``kill()`` simulates a crash (SIGKILL); ``restart()`` brings it back on the *same* ports so
    that clients configured with its URL reconnect to it.
    """

    port: int
    cluster_port: int | None = None
    routes: list[int] = field(default_factory=list)
    cluster_name: str = "wsmq-test"
    name: str = "nats"
    config: Path | None = CONFIG
    """The configuration file (None: nats-server's defaults, e.g. max_payload 1 MB)."""
    _proc: _Proc | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.proc.returncode is None

    def _argv(self) -> list[str]:
        assert NATS_SERVER is not None, SKIP_REASON
        argv = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-n", self.name]
        if self.config is not None:
            argv += ["-c", str(self.config)]
        if self.cluster_port is not None:
            argv += [
                "--cluster",
                f"nats://127.0.0.1:{self.cluster_port}",
                "--cluster_name",
                self.cluster_name,
            ]
            if self.routes:
                argv += ["--routes", ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)]
        return argv

    async def _spawn(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self._argv(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._proc = _Proc(proc, f"nats-server {self.name} :{self.port}")
        try:
            await self._proc.wait_line(re.compile(r"Server is ready"))
        except BaseException:
            await self._proc.stop(signal.SIGKILL)
            raise

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls, name: str = "nats", config: Path | None = CONFIG
    ) -> AsyncIterator[NatsServer]:
        """A single standalone server on a free port, stopped on exit."""
        server = cls(port=free_port(), name=name, config=config)
        await server._spawn()
        try:
            yield server
        finally:
            await server.stop()

    async def kill(self) -> None:
        """Crash the server (SIGKILL): clients see their TCP connection drop."""
        if self._proc is not None:
            await self._proc.stop(signal.SIGKILL)

    async def restart(self) -> None:
        """Start again on the same ports (after ``kill()``/``stop()``)."""
        if self.running:
            await self.stop()
        await self._spawn()

    async def stop(self) -> None:
        if self._proc is not None:
            await self._proc.stop(signal.SIGTERM)

    def output(self) -> str:
        return self._proc.output() if self._proc else ""


@dataclass
class NatsCluster:
    """A full-mesh cluster of ``nats-server`` nodes (default 3) on free loopback ports."""

    servers: list[NatsServer]

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, size: int = 3, name: str = "wsmq-test") -> AsyncIterator[NatsCluster]:
        client_ports = [free_port() for _ in range(size)]
        cluster_ports = [free_port() for _ in range(size)]
        servers = [
            NatsServer(
                port=client_ports[i],
                cluster_port=cluster_ports[i],
                routes=[p for j, p in enumerate(cluster_ports) if j != i],
                cluster_name=name,
                name=f"{name}-{i}",
            )
            for i in range(size)
        ]
        cluster = cls(servers)
        try:
            await asyncio.gather(*(s._spawn() for s in servers))
            await wait_cluster_ready(cluster.urls)
            yield cluster
        finally:
            await asyncio.gather(*(s.stop() for s in servers), return_exceptions=True)


async def wait_cluster_ready(urls: Sequence[str], limit_s: float = READY_TIMEOUT) -> None:
    """Wait until a subscription on each server is reachable from every other server.

    Routes being "created" is not enough: interest must have propagated, because that is what
    a broker node's NO_HANDLER / UNKNOWN_CLIENT answers rely on.  Polls with short requests
    (a real condition, bounded by ``limit_s``), never a blind sleep.
    """
    import nats
    from nats.aio.msg import Msg
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout

    conns = [await nats.connect(u, allow_reconnect=False) for u in urls]
    try:
        for i, nc in enumerate(conns):

            async def reply(msg: Msg, i: int = i) -> None:
                await msg.respond(str(i).encode())

            await nc.subscribe(f"_wsmq_probe.{i}", cb=reply)
            await nc.flush()
        deadline = time.monotonic() + limit_s
        for i in range(len(conns)):
            for j, other in enumerate(conns):
                if i == j:
                    continue
                while True:
                    try:
                        msg = await other.request(f"_wsmq_probe.{i}", b"", timeout=0.5)
                        assert msg.data == str(i).encode()
                        break
                    except (NoRespondersError, NatsTimeout):
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"NATS cluster {urls} never meshed") from None
                        await asyncio.sleep(0.02)  # poll interval of a real readiness check
    finally:
        for nc in conns:
            await nc.close()


@dataclass
class BrokerNode:
    """A broker node as a separate process, talking to NATS: the unit of a scale-out test.

    Default command: ``python -m websocketmq serve --host 127.0.0.1 --port 0 --nats URL…
    --resume-secret S`` plus ``extra_args``.  ``ws_url`` comes from the readiness line.
    """

    nats_urls: list[str]
    name: str = "node"
    extra_args: list[str] = field(default_factory=list)
    resume_secret: str = "wsmq-test-shared-secret"
    argv: list[str] | None = None
    app: bool = False
    ws_url: str = ""
    _proc: _Proc | None = None

    def _command(self) -> list[str]:
        if self.argv is not None:
            return list(self.argv)
        if self.app:
            cmd = [PYTHON, str(Path(__file__).resolve()), "node", "--name", self.name]
            for u in self.nats_urls:
                cmd += ["--nats", u]
            return [*cmd, "--resume-secret", self.resume_secret, *self.extra_args]
        cmd = [PYTHON, "-m", "websocketmq", "serve", "--host", "127.0.0.1", "--port", "0"]
        for u in self.nats_urls:
            cmd += ["--nats", u]
        cmd += ["--resume-secret", self.resume_secret]
        return cmd + self.extra_args

    async def _spawn(self) -> None:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO / "python" / "src"), str(REPO / "tests"), env.get("PYTHONPATH", "")]
        )
        env["WSMQ_NODE_NAME"] = self.name
        proc = await asyncio.create_subprocess_exec(
            *self._command(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(REPO),
        )
        self._proc = _Proc(proc, f"broker node {self.name}")
        try:
            line = await self._proc.wait_line(re.compile(r"^wsmq: listening on ws://"))
        except BaseException:
            await self._proc.stop(signal.SIGKILL)
            raise
        self.ws_url = line.split("listening on ", 1)[1].strip()

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        nats_urls: Sequence[str],
        name: str = "node",
        extra_args: Sequence[str] = (),
        argv: Sequence[str] | None = None,
        app: bool = False,
    ) -> AsyncIterator[BrokerNode]:
        """Start a node; ``app=True`` runs the test application below (:func:`node_main`)
        instead of ``wsmq serve``: same broker and NatsBackend, plus handlers that report which
        node answered and what it saw."""
        node = cls(
            list(nats_urls),
            name=name,
            extra_args=list(extra_args),
            argv=list(argv) if argv is not None else None,
            app=app,
        )
        await node._spawn()
        try:
            yield node
        finally:
            await node.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.proc.returncode is None

    async def kill(self) -> None:
        """Crash the node (SIGKILL): no goodbye to NATS or to its clients."""
        if self._proc is not None:
            await self._proc.stop(signal.SIGKILL)

    async def stop(self) -> None:
        if self._proc is not None:
            await self._proc.stop(signal.SIGTERM)

    async def restart(self) -> None:
        """Start again (new port: a restarted process behind a load balancer)."""
        await self.stop()
        await self._spawn()

    def output(self) -> str:
        return self._proc.output() if self._proc else ""


class TcpBalancer:
    """A minimal round-robin TCP load balancer on a free loopback port.

    Stands in for the production load balancer of docs/deployment.md: each new connection goes
    to the next backend that accepts it (a dead node is skipped), bytes are piped both ways.
    ``targets`` may be changed while running.
    """

    def __init__(self, targets: Sequence[tuple[str, int]]) -> None:
        self.targets = list(targets)
        self._next = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, ws_urls: Sequence[str]) -> AsyncIterator[TcpBalancer]:
        lb = cls([_host_port(u) for u in ws_urls])
        lb._server = await asyncio.start_server(lb._accept, "127.0.0.1", 0)
        lb.port = lb._server.sockets[0].getsockname()[1]
        try:
            yield lb
        finally:
            lb._server.close()
            for t in list(lb._pipes):
                t.cancel()
            await asyncio.gather(*lb._pipes, return_exceptions=True)
            await lb._server.wait_closed()

    def set_targets(self, ws_urls: Sequence[str]) -> None:
        self.targets = [_host_port(u) for u in ws_urls]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            for _ in range(len(self.targets)):
                host, port = self.targets[self._next % len(self.targets)]
                self._next += 1
                try:
                    up_r, up_w = await asyncio.open_connection(host, port)
                except OSError:
                    continue
                await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
                return
        finally:
            writer.close()
            self._pipes.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


def _host_port(ws_url: str) -> tuple[str, int]:
    hostport = ws_url.split("://", 1)[1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    return host, int(port)


# -- the test application a broker node runs (``python tests/nats_cluster.py node …``) ---------


def node_main(argv: Sequence[str]) -> int:
    """A broker node for the scale-out tests: NatsBackend + conformance fixture + probes.

    Handlers (all local-first, so a client asks *its own* node):

    * ``node.whoami`` → ``{"node": name}``; ``node.stats`` → what this node saw: requests it
      served on ``work.>``, events on ``fan.>`` seen by its server handler, client IDs in the
      registered/deregistered events, the IDs of its clients;
    * ``node.call`` ``{"client", "topic", "body", "timeoutMs"}`` → ``request_to_client`` from
      this node (the client may be on any node);
    * ``work.>`` (only with ``--serve-work``) → ``{"node": name}`` after ``body.sleepMs``.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="nats_cluster.py node")
    parser.add_argument("--name", required=True)
    parser.add_argument("--nats", action="append", required=True)
    parser.add_argument("--resume-secret", required=True)
    parser.add_argument("--serve-work", action="store_true")
    args = parser.parse_args(argv)
    return asyncio.run(_run_node(args))


async def _run_node(args: Any) -> int:
    import logging

    from websocketmq import Broker, BrokerOptions, Message, serve
    from websocketmq.backends.nats import NatsBackend
    from websocketmq.fixture import install_fixture

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    name: str = args.name
    backend = NatsBackend(args.nats, probe_interval=0.25)
    options = BrokerOptions(resume_secret=args.resume_secret.encode(), backend=backend)
    if hasattr(options, "message_rate"):  # rate limits are not what these nodes test
        options.message_rate = options.message_burst = 1e9
    broker = Broker(options)
    install_fixture(broker)
    stats: dict[str, Any] = {"work": 0, "fan": [], "registered": [], "deregistered": []}

    def whoami(msg: Message, _src: str | None) -> Any:
        nc = backend.nc
        url = nc.connected_url if nc is not None and nc.is_connected else None
        nats_url = f"{url.hostname}:{url.port}" if url is not None else None
        return {"node": name, "nodeID": backend.node_id, "natsURL": nats_url}

    def node_stats(msg: Message, _src: str | None) -> Any:
        return {"node": name, **stats, "clients": broker.client_ids()}

    async def call(msg: Message, _src: str | None) -> Any:
        b = msg.body
        reply = await broker.request_to_client(
            b["client"], b["topic"], b.get("body"), b.get("timeoutMs", 5000) / 1000
        )
        return {"node": name, "reply": reply}

    async def work(msg: Message, _src: str | None) -> Any:
        if msg.type != "request":
            return None
        stats["work"] += 1
        body = msg.body if isinstance(msg.body, dict) else {}
        if body.get("sleepMs"):
            await asyncio.sleep(body["sleepMs"] / 1000)
        return {"node": name}

    def fan(msg: Message, _src: str | None) -> Any:
        if msg.type == "event":
            stats["fan"].append([msg.topic, msg.body])
        return None

    def registered(msg: Message, _src: str | None) -> None:
        stats["registered"].append(msg.body["brokerClientID"])

    def deregistered(msg: Message, _src: str | None) -> None:
        stats["deregistered"].append(msg.body["brokerClientID"])

    broker.subscribe("node.whoami", whoami)
    broker.subscribe("node.stats", node_stats)
    broker.subscribe("node.call", call)
    broker.subscribe("fan.>", fan)
    broker.subscribe("_internal.client.registered", registered)
    broker.subscribe("_internal.client.deregistered", deregistered)
    if args.serve_work:
        broker.subscribe("work.>", work)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = serve(broker, "127.0.0.1", 0, "/ws")
    await server.start()
    sys.stdout.write(f"wsmq: listening on {server.url}\n")
    sys.stdout.flush()
    await stop.wait()
    await server.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "node":
        sys.exit(node_main(sys.argv[2:]))
    sys.exit("usage: nats_cluster.py node --name N --nats URL --resume-secret S [--serve-work]")
