"""Frames every system under test is fed: wsmq/1 envelopes, the raw peers' control words, and
the socket.io packet shapes.

The raw peers (``websockets``, ``picows``) are sent the very same wsmq envelopes as our broker,
so frame sizes and client-side encode/decode cost are identical and the difference measured is
the server's. Bodies are ~100-byte JSON objects as the issue asks.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

__all__ = [
    "BODY_TEXT",
    "CTRL_PREFIX",
    "ECHO_TOPIC",
    "FANOUT_TOPIC",
    "S2C_TOPIC",
    "SEQ_RE",
    "Envelope",
    "Header",
    "body",
    "closed_loop",
    "decode_envelope",
    "encode",
    "event",
    "latency_stats",
    "now_ms",
    "register",
    "request",
    "response_to",
    "seq_of",
]

ECHO_TOPIC = "bench.echo"
"""Server handler that answers a request with its body (ours); client handler for s2c RPC."""
S2C_TOPIC = "bench.s2c"
"""Control request: the server runs server→client RPC against the caller and reports timing."""
FANOUT_TOPIC = "bench.fanout"
"""Topic the fan-out publisher publishes to and every subscriber subscribes to."""
CTRL_PREFIX = b"!"
"""Raw peers: frames starting with ``!`` are control words (``!sub``, ``!pub``, ``!s2c {…}``);
no wsmq envelope starts with it."""

BODY_TEXT = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor"
"""Filler that makes :func:`body` about 100 bytes of JSON."""

_ENC = msgspec.json.Encoder()
SEQ_RE = re.compile(rb'"seq":(\d+)')


class Header(msgspec.Struct):
    """Only the header fields the load generators look at; others are ignored on decode."""

    type: str = ""
    topic: str = ""
    correlationID: str | None = None


class Envelope(msgspec.Struct):
    """A decoded envelope whose body stays raw JSON, so echoing it costs no re-encode."""

    header: Header
    body: msgspec.Raw = msgspec.Raw(b"null")


_DEC = msgspec.json.Decoder(Envelope)


def now_ms() -> int:
    """Wall-clock milliseconds for the informational ``timestamp`` header field."""
    return time.time_ns() // 1_000_000


def body(seq: int) -> dict[str, Any]:
    """The ~100-byte JSON body used by every RPC and fan-out message (``seq`` first)."""
    return {"seq": seq, "text": BODY_TEXT}


def encode(obj: Any) -> bytes:
    """Encode with the one JSON codec every load generator uses (msgspec)."""
    return _ENC.encode(obj)


def decode_envelope(data: bytes | str | memoryview) -> Envelope:
    """Decode a wsmq envelope (or an echoed one) keeping the body raw."""
    return _DEC.decode(data)


def request(topic: str, cid: str, payload: Any, ttl: int = 60_000) -> bytes:
    """A wsmq/1 ``request`` envelope (design §1) with ``cid`` as message and correlation ID."""
    return _ENC.encode(
        {
            "header": {
                "messageID": cid,
                "correlationID": cid,
                "type": "request",
                "topic": topic,
                "timestamp": now_ms(),
                "ttl": ttl,
            },
            "body": payload,
        }
    )


def event(topic: str, mid: str, payload: Any) -> bytes:
    """A wsmq/1 ``event`` envelope (a publish when sent by a client)."""
    return _ENC.encode(
        {
            "header": {"messageID": mid, "type": "event", "topic": topic, "timestamp": now_ms()},
            "body": payload,
        }
    )


def register(mid: str) -> bytes:
    """The ``_client.register`` event (design §4) a client sends first."""
    return event("_client.register", mid, {})


def response_to(env: Envelope, mid: str) -> bytes:
    """Answer a request envelope with its own body (the client side of s2c RPC)."""
    cid = env.header.correlationID or ""
    return _ENC.encode(
        {
            "header": {
                "messageID": mid,
                "correlationID": cid,
                "type": "response",
                "topic": cid,
                "timestamp": now_ms(),
            },
            "body": env.body,
        }
    )


def seq_of(data: bytes) -> int:
    """The ``seq`` of a fan-out delivery, found without a full JSON decode (any framing).

    Raises ``ValueError`` when the frame carries none, which the subscriber counts as a
    foreign frame rather than a delivery.
    """
    m = SEQ_RE.search(data)
    if m is None:
        raise ValueError("no seq in frame")
    return int(m.group(1))


def latency_stats(latencies: list[float]) -> dict[str, float]:
    """p50/p99 in milliseconds of a list of round-trip times in seconds."""
    if not latencies:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    s = sorted(latencies)
    n = len(s)
    return {
        "p50_ms": s[min(n - 1, int(n * 0.50))] * 1000.0,
        "p99_ms": s[min(n - 1, int(n * 0.99))] * 1000.0,
    }


async def closed_loop(
    call: Callable[[int], Awaitable[object]],
    spec: Mapping[str, Any],
    *,
    count_errors: bool = False,
) -> dict[str, Any]:
    """``spec["window"]`` loops, each awaiting ``call(n)`` back to back for ``warmup +
    duration`` seconds; the latencies of calls started after the warm-up.

    One implementation for every system's RPC shapes (load generators and the servers' own
    server→client runs), so that each system is measured the same way. With ``count_errors``
    a failed call is counted and the loop goes on (a server reports it); otherwise the
    exception fails the run.
    """
    window = int(spec["window"])
    t_measure = time.perf_counter() + float(spec["warmup"])
    t_end = t_measure + float(spec["duration"])
    latencies: list[float] = []
    last = [t_measure]
    errors = [0]
    total = [0]

    async def worker() -> None:
        n = 0
        while time.perf_counter() < t_end:
            n += 1
            t0 = time.perf_counter()
            try:
                await call(n)
            except Exception:
                if not count_errors:
                    raise
                errors[0] += 1
                continue
            t1 = time.perf_counter()
            total[0] += 1
            if t0 >= t_measure:
                latencies.append(t1 - t0)
                last[0] = t1

    await asyncio.gather(*(worker() for _ in range(window)))
    elapsed = max(last[0] - t_measure, 1e-9)
    return {
        "count": len(latencies),
        "elapsed": elapsed,
        "rate": len(latencies) / elapsed,
        "errors": errors[0],
        "total": total[0],
        **latency_stats(latencies),
    }
