"""Launchers for a real broker in tests (STYLE §15): in-process and as a subprocess.

Both wait for a readiness signal, never a sleep: :func:`run_broker` returns once the socket
listens; :func:`spawn_broker` reads the ``wsmq: listening on …`` line of ``wsmq serve``.
Reconnect tests stop a broker and start another on the same port (``run_broker(port=old)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from .broker import Broker, BrokerOptions
from .server import Server, serve

__all__ = ["RunningBroker", "SpawnedBroker", "run_broker", "spawn_broker"]

_READY = re.compile(r"^wsmq: listening on (ws://\S+)$")


@dataclass
class RunningBroker:
    """An in-process broker + server."""

    broker: Broker
    server: Server

    @property
    def url(self) -> str:
        """WebSocket URL."""
        return self.server.url

    @property
    def port(self) -> int:
        """The bound port."""
        return self.server.port

    async def stop(self) -> None:
        """Graceful close (idempotent)."""
        await self.server.close()


@contextlib.asynccontextmanager
async def run_broker(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    path: str = "/ws",
    options: BrokerOptions | None = None,
    demo: bool = False,
    **option_overrides: Any,
) -> AsyncIterator[RunningBroker]:
    """In-process broker listening on ``host:port`` (0 = free port) until the block exits;
    ``demo=True`` serves the demo page (not its handlers: :func:`websocketmq.demo.install_demo`)."""
    broker = Broker(options, **option_overrides)
    server = serve(broker, host, port, path, demo=demo)
    await server.start()
    running = RunningBroker(broker, server)
    try:
        yield running
    finally:
        await server.close()


@dataclass
class SpawnedBroker:
    """A ``python -m websocketmq serve`` subprocess."""

    process: asyncio.subprocess.Process
    url: str

    @property
    def port(self) -> int:
        """The bound port (parsed from the readiness line)."""
        return int(self.url.rsplit(":", 1)[1].split("/", 1)[0])


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


@contextlib.asynccontextmanager
async def spawn_broker(
    *cli_args: str,
    ready_timeout: float = 20.0,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    stderr: str | os.PathLike[str] | None = None,
) -> AsyncIterator[SpawnedBroker]:
    """Run ``python -m websocketmq serve --port 0 <cli_args>`` (in ``cwd``, with ``env`` added
    to the environment, its log written to the file ``stderr`` if given); waits for the
    readiness line, SIGTERMs it at exit (killed if it does not exit within 5 s). A test may
    stop it itself (``process``) and read its exit status."""
    args = list(cli_args)
    if "--port" not in args:
        args += ["--port", "0"]
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    log = open(stderr, "ab") if stderr is not None else None  # noqa: SIM115, ASYNC230 - tiny, closed below
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "websocketmq",
        "serve",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=log.fileno() if log is not None else asyncio.subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    drain: asyncio.Task[None] | None = None
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(ready_timeout):
            while True:
                line = await proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"wsmq serve exited early with {await proc.wait()}")
                m = _READY.match(line.decode().strip())
                if m:
                    break
        # Keep reading stdout after the readiness line, so a chatty server never blocks on a
        # full pipe while the test runs.
        drain = asyncio.create_task(_drain(proc.stdout))
        yield SpawnedBroker(proc, m.group(1))
    finally:
        if log is not None:
            log.close()  # the child has its own copy of the descriptor
        if drain is not None:
            drain.cancel()
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
