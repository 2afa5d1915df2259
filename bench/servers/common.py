"""What every bench server script shares: the readiness line, the stdin-EOF lifetime, fd limits,
and the server→client RPC driver the raw peers use.

The s2c driver is written as a small synchronous state machine (frames in, frames out) so the
``websockets`` peer and the callback-only ``picows`` peer run exactly the same logic.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import threading
import time

from bench import wire

__all__ = ["S2CRun", "announce", "raise_fd_limit", "stop_on_stdin_eof"]


def raise_fd_limit() -> None:
    """Lift the soft fd limit to the hard one: the memory shape opens 10,000 connections."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def announce(url: str, prefix: str = "bench") -> None:
    """Print the readiness line the harness waits for (never a sleep), flushed."""
    print(f"{prefix}: listening on {url}", flush=True)


def stop_on_stdin_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Set ``stop`` when stdin closes: the harness closes it to end the server, and a killed
    harness closes it too, so no server outlives its run."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, daemon=True).start()


class S2CRun:
    """Server→client RPC against one client, ``window`` requests in flight, for ``duration`` s.

    The first ``warmup`` seconds are not counted. Requests are wsmq envelopes on
    ``bench.echo``; the client answers each with a ``response``. After the deadline no new
    request is sent; once the outstanding ones are answered :meth:`result` gives the report.
    """

    def __init__(self, window: int, duration: float, warmup: float) -> None:
        self.window = window
        self.t_start = time.perf_counter()
        self.t_measure = self.t_start + warmup
        self.t_end = self.t_measure + duration
        self.t_last = self.t_measure
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self.errors = 0
        self.n = 0

    def _next(self) -> bytes:
        self.n += 1
        cid = f"s{self.n}"
        frame = wire.request(wire.ECHO_TOPIC, cid, wire.body(self.n))
        self.sent_at[cid] = time.perf_counter()
        return frame

    def start(self) -> list[bytes]:
        """The first ``window`` requests."""
        return [self._next() for _ in range(self.window)]

    def on_response(self, data: bytes | str | memoryview) -> bytes | None:
        """Account one answer; return the next request to send, if any."""
        now = time.perf_counter()
        env = wire.decode_envelope(data)
        t0 = self.sent_at.pop(env.header.correlationID or "", None)
        if t0 is None or env.header.type != "response":
            self.errors += 1
        elif t0 >= self.t_measure:
            self.latencies.append(now - t0)
            self.t_last = now
        if now < self.t_end:
            return self._next()
        return None

    @property
    def done(self) -> bool:
        """True once the deadline passed and nothing is outstanding."""
        return not self.sent_at and time.perf_counter() >= self.t_end

    def result(self) -> dict[str, float | int]:
        """Count, rate and latency percentiles of the measured part."""
        elapsed = max(self.t_last - self.t_measure, 1e-9)
        return {
            "count": len(self.latencies),
            "elapsed": elapsed,
            "rate": len(self.latencies) / elapsed,
            "errors": self.errors,
            "total": self.n,
            **wire.latency_stats(self.latencies),
        }

    def result_frame(self) -> bytes:
        """The ``!result {…}`` control frame the raw peers end an s2c run with."""
        return b"!result " + json.dumps(self.result()).encode()
