"""Start a server under test as a subprocess and wait for its readiness line.

Used by ``--spawn-reference`` (the reference broker) and by the tests (the broken servers, and
tests/rawpeer.py's ``wsmq serve`` for the security, limit and soak tests).  Readiness is the line
``wsmq: listening on ws://HOST:PORT/PATH`` on stdout (docs/design.md §8), never a sleep; the
process is always terminated, then killed if it lingers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

__all__ = [
    "READY_RE",
    "REFERENCE_CMD",
    "SpawnError",
    "SpawnedProcess",
    "spawned_process",
    "spawned_server",
]

READY_RE = re.compile(r"^wsmq: listening on (ws://\S+)\s*$")
REFERENCE_CMD = (sys.executable, "-m", "websocketmq", "serve", "--port", "0", "--conformance")


class SpawnError(Exception):
    """The server process exited or stayed silent instead of printing its readiness line."""


@dataclass
class SpawnedProcess:
    """A server that printed its readiness line: its URL and the process (pid, signals)."""

    url: str
    process: asyncio.subprocess.Process


@contextlib.asynccontextmanager
async def spawned_process(
    cmd: Sequence[str], *, ready_timeout: float = 30.0
) -> AsyncIterator[SpawnedProcess]:
    """Run ``cmd``; yield it once its readiness line is out; stop it on exit."""
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    drain: list[asyncio.Task[None]] = []
    try:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            url = await asyncio.wait_for(_read_ready(proc.stdout), ready_timeout)
        except TimeoutError:
            msg = f"{' '.join(cmd)} printed no readiness line in {ready_timeout}s"
            raise SpawnError(msg) from None
        if url is None:
            err = (await proc.stderr.read()).decode(errors="replace")[-2000:]
            raise SpawnError(f"{' '.join(cmd)} exited ({await proc.wait()}) before ready:\n{err}")
        # Keep the pipes drained so a chatty server never blocks on a full pipe.
        drain = [
            asyncio.create_task(_discard(proc.stdout)),
            asyncio.create_task(_discard(proc.stderr)),
        ]
        yield SpawnedProcess(url, proc)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for t in drain:
            t.cancel()
            with contextlib.suppress(BaseException):
                await t


@contextlib.asynccontextmanager
async def spawned_server(
    cmd: Sequence[str] = REFERENCE_CMD, *, ready_timeout: float = 30.0
) -> AsyncIterator[str]:
    """Run ``cmd``; yield the URL from its readiness line; stop it on exit."""
    async with spawned_process(cmd, ready_timeout=ready_timeout) as spawned:
        yield spawned.url


async def _read_ready(stream: asyncio.StreamReader) -> str | None:
    while line := await stream.readline():
        m = READY_RE.match(line.decode(errors="replace"))
        if m:
            return m.group(1)
    return None


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass
