"""Subprocess plumbing: start a process, wait for a line or a JSON event with a deadline, stop it.

Readiness is always a printed line, never a sleep. Every process the harness starts is stopped
by it (stdin closed, then SIGTERM, then SIGKILL), so a failed run leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import sys
from typing import Any

__all__ = ["BenchError", "Proc", "python_argv"]


class BenchError(RuntimeError):
    """A measurement could not be made (process died, deadline passed, deliveries lost)."""


def python_argv(module: str, *args: str) -> list[str]:
    """``python -m module args…`` with the interpreter running the harness (the venv's)."""
    return [sys.executable, "-m", module, *args]


class Proc:
    """A child process whose output lines are queued for :meth:`line` and :meth:`event`."""

    def __init__(
        self, name: str, proc: asyncio.subprocess.Process, merged: bool, stdin_ends: bool = True
    ) -> None:
        self.name = name
        self.stdin_ends = stdin_ends
        self.proc = proc
        self.pid = proc.pid
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._tail: collections.deque[str] = collections.deque(maxlen=40)
        assert proc.stdout is not None
        self._readers = [asyncio.create_task(self._read(proc.stdout, True))]
        if not merged:
            assert proc.stderr is not None
            self._readers.append(asyncio.create_task(self._read(proc.stderr, False)))

    @classmethod
    async def start(
        cls, name: str, argv: list[str], *, merge_stderr: bool = False, stdin_ends: bool = True
    ) -> Proc:
        """Start ``argv``; ``merge_stderr`` for programs that log readiness on stderr;
        ``stdin_ends`` False for programs that ignore stdin (stopped by SIGTERM at once)."""
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
            limit=2**20,
        )
        return cls(name, proc, merge_stderr, stdin_ends)

    async def _read(self, stream: asyncio.StreamReader, queue: bool) -> None:
        while True:
            raw = await stream.readline()
            if not raw:
                break
            text = raw.decode(errors="replace").rstrip("\n")
            self._tail.append(text)
            if queue:
                await self._lines.put(text)
        if queue:
            await self._lines.put(None)

    def tail(self) -> str:
        """The last lines the process printed (for error messages)."""
        return "\n".join(self._tail)

    async def line(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """Wait for an output line matching ``pattern``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise BenchError(
                    f"{self.name}: no line matching {pattern.pattern!r} "
                    f"within {timeout:.0f}s\n{self.tail()}"
                )
            try:
                text = await asyncio.wait_for(self._lines.get(), remaining)
            except TimeoutError:
                continue
            if text is None:
                await self.proc.wait()
                raise BenchError(
                    f"{self.name}: exited ({self.proc.returncode}) before "
                    f"printing {pattern.pattern!r}\n{self.tail()}"
                )
            m = pattern.search(text)
            if m:
                return m

    async def event(self, kind: str, timeout: float) -> dict[str, Any]:
        """Wait for a JSON line ``{"event": kind, …}`` and return it."""
        m = await self.line(re.compile(r'^\{"event": "' + re.escape(kind) + '"'), timeout)
        result: dict[str, Any] = json.loads(m.string)
        return result

    def close_stdin(self) -> None:
        """Tell the process to finish (servers and holding clients exit on stdin EOF)."""
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    async def stop(self, timeout: float = 5.0) -> None:
        """Close stdin, then escalate to SIGTERM and SIGKILL; always reaps the process."""
        self.close_stdin()
        first = None if self.stdin_ends else self.proc.terminate
        for signal_it in (first, self.proc.terminate, self.proc.kill):
            if signal_it is not None and self.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    signal_it()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
                break
            except TimeoutError:
                continue
        for r in self._readers:
            r.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
