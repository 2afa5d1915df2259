"""Category 9: limits (message size, topic length and depth, ID length)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from .. import sections as S
from ..context import Context
from ..model import CaseFailed, Unimplemented, case
from ..peer import Peer
from .common import check, expect_code_for_frame, expect_error

__all__: list[str] = []


def _limit(ack: dict[str, Any]) -> int:
    """The advertised maxMessageSize; a missing or absurd value fails the case instead of
    letting a size test run against a made-up limit."""
    limit = ack.get("maxMessageSize")
    if limit is None:
        raise Unimplemented("the registration ack has no maxMessageSize (case 1.1.1 judges it)")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 512:
        raise CaseFailed(f"ack maxMessageSize is {limit!r}")
    if limit > 64 * 1024 * 1024:
        raise AssertionError(f"maxMessageSize {limit} too large to test")
    return limit


async def _oversize(ctx: Context) -> tuple[Peer, int]:
    a = await ctx.connect("A")
    limit = _limit(await a.register())
    env = a.envelope("event", "cf.big", "x" * (limit + 16))
    await a.send_raw(json.dumps(env))
    return a, limit


@case(
    "9.1.1",
    "a frame above maxMessageSize closes the connection with 1009",
    section=f"{S.LIMITS}; {S.CLOSE_CODES}",
)
async def too_large_close(ctx: Context) -> None:
    a, _ = await _oversize(ctx)
    code = await a.wait_closed(10)
    check(code == 1009, f"oversize frame closed with {code}, expected 1009")


@case(
    "9.1.2",
    "a TOO_LARGE error envelope (correlationID _invalid) is sent before the 1009 close",
    section=S.LIMITS,
)
async def too_large_error(ctx: Context) -> None:
    a, _ = await _oversize(ctx)
    await a.wait_closed(10)
    errs = a.take(lambda m: m.type == "error")
    check(
        any(m.error_code == "TOO_LARGE" and m.corr == "_invalid" for m in errs),
        f"no TOO_LARGE error before the close (errors: {[m.error_code for m in errs]})",
    )


@case("9.1.3", "a frame just under maxMessageSize is accepted", section=S.LIMITS, fixture=True)
async def just_under(ctx: Context) -> None:
    a = await ctx.peer("A")
    # The whole frame stays within the limit: the envelope around the body is < 512 bytes.
    size = _limit(a.ack or {}) - 512
    m = await a.request("conformance.echo", "y" * size, timeout=10)
    check(
        m.type == "response" and m.body == "y" * size,
        f"{size}-char body answered {m.short()[:100]}",
    )


@case("9.2.1", "topics over 255 bytes or 32 tokens are rejected with BAD_TOPIC", section=S.TOPICS)
async def topic_limits(ctx: Context) -> None:
    a = await ctx.peer("A")
    long_bytes = "é" * 128  # 256 bytes in UTF-8, 128 characters
    deep = ".".join(["t"] * 33)
    for t in (long_bytes, deep):
        if ctx.caps.subscribe:  # else only the publish half: subscribe is a tool here
            m = await a.request("_client.subscribe", {"topic": t})
            check(
                m.type == "error" and m.error_code == "BAD_TOPIC",
                f"subscribe to {t[:40]!r}… answered {m.short()}",
            )
        mid = await a.publish(t, {})
        e = await expect_error(a, {mid}, f"publish to {t[:40]!r}…")
        check(e.error_code == "BAD_TOPIC", f"publish to {t[:40]!r}… answered {e.short()}")
    ok = ".".join(["t"] * 32)
    a.need("subscribe")
    res = await a.call("_client.subscribe", {"topic": ok})
    check(
        isinstance(res, dict) and res.get("subscribed") is True,
        f"32-token subscribe answered {res!r}",
    )


@case("9.2.2", "a messageID over 128 characters is rejected with BAD_MESSAGE", section=S.ENVELOPE)
async def long_message_id(ctx: Context) -> None:
    a = await ctx.peer("A")
    frame = json.dumps(a.envelope("event", "cf.x", {}, msg_id="m" * 129))
    await expect_code_for_frame(
        a, frame, {"_invalid", "m" * 129}, "BAD_MESSAGE", "a 129-character messageID"
    )


@case(
    "9.2.3",
    "a frame nested far deeper than any sane limit gets BAD_MESSAGE; the connection survives",
    section=S.LIMITS,
)
async def deep_nesting(ctx: Context) -> None:
    a = await ctx.peer("A")
    depth = 5000
    body = "[" * depth + "]" * depth
    frame = (
        '{"header": {"messageID": "m-deep", "type": "event", "topic": "cf.deep", '
        f'"timestamp": 1764110000000}}, "body": {body}}}'
    )
    await expect_code_for_frame(
        a, frame, {"m-deep", "_invalid"}, "BAD_MESSAGE", f"a body nested {depth} deep"
    )


@case(
    "9.3.1",
    "_client.ping is answered while many requests are in flight",
    section=f"{S.KEEPALIVE}; {S.LIMITS}",
    fixture=True,
)
async def ping_when_busy(ctx: Context) -> None:
    a = await ctx.peer("A")
    n = 300  # above the reference in-flight limit (256), below its burst rate (400)
    futs = []
    for i in range(n):
        corr = f"busy-{i}"
        futs.append(a.waiter(corr))
        await a.send(a.envelope("request", "conformance.sleep", {"ms": 4000}, corr=corr, ttl=10000))
    await a.ping(timeout=3.5)
    done = await asyncio.gather(*(a.wait(f, "a busy request", 10) for f in futs))
    codes = {m.error_code for m in done if m.type == "error"}
    check(codes <= {"RATE_LIMITED"}, f"busy requests failed with {sorted(codes)}")


@case(
    "9.4.1",
    "a burst of protocol errors ends with RATE_LIMITED and close 4029 (error budget)",
    section=f"{S.LIMITS}; {S.CLOSE_CODES}",
)
async def error_budget(ctx: Context) -> None:
    a = await ctx.peer("A")
    for _ in range(200):
        if a.is_closed:
            break
        try:
            await a.send_raw("not json")
        except CaseFailed:
            break
    code = await a.wait_closed(5)
    check(code == 4029, f"closed with {code}, expected 4029")
    limited = [m for m in a.inbox if m.error_code == "RATE_LIMITED"]
    check(bool(limited), "no RATE_LIMITED error before the 4029 close")


@case(
    "9.1.4",
    "frame size is counted in UTF-8 bytes: fewer characters than the limit, more bytes, 1009",
    section=f"{S.LIMITS}; {S.CLOSE_CODES}",
)
async def size_in_bytes(ctx: Context) -> None:
    a = await ctx.connect("A")
    limit = _limit(await a.register())
    env = a.envelope("event", "cf.big", "\u20ac" * (limit // 3 + 64))  # 3 bytes each in UTF-8
    frame = json.dumps(env, ensure_ascii=False)
    assert len(frame) < limit < len(frame.encode())
    await a.send_raw(frame)
    code = await a.wait_closed(10)
    check(code == 1009, f"a frame of {len(frame)} characters, {len(frame.encode())} bytes "
          f"(limit {limit}) closed with {code}, expected 1009")  # fmt: skip


async def _unpaced(ctx: Context, name: str) -> Peer:
    p = await ctx.peer(name)
    p.rate = 0  # these cases exceed the limits on purpose
    return p


@case(
    "9.5.1",
    "a connection sending faster than its message rate gets RATE_LIMITED",
    section=S.LIMITS,
)
async def message_rate(ctx: Context) -> None:
    a = await _unpaced(ctx, "A")
    topic, body = a.barrier_request()
    # Frames built up front and sent back to back, so that even a loaded machine sends far
    # faster than any message-rate limit (a per-frame json.dumps ran at ~125/s under load).
    frames = [
        json.dumps(a.envelope("request", topic, body, corr=f"c-rate-{i}")) for i in range(5000)
    ]
    sent, t0 = 0, time.monotonic()
    with contextlib.suppress(CaseFailed):  # closed: e.g. the error budget's 4029 (§12.1)
        for i in range(0, len(frames), 250):  # no server limits a connection above 5000/s
            for f in frames[i : i + 250]:
                await a.send_raw(f)
            sent = i + 250
            await asyncio.sleep(0)
            if any(m.error_code == "RATE_LIMITED" for m in a.inbox):
                return
    with contextlib.suppress(CaseFailed):  # the errors that came before a close count too
        await a.expect(lambda m: m.error_code == "RATE_LIMITED", "RATE_LIMITED", 3.0)
        return
    rate = sent / max(1e-3, time.monotonic() - t0)
    raise CaseFailed(
        f"{sent} requests sent at {rate:.0f}/s, no RATE_LIMITED (§12.1: a message-rate limit); "
        f"connection {'closed: ' + a.close_desc() if a.is_closed else 'open'}"
    )


@case(
    "9.5.2",
    "requests beyond the pending-request limit get RATE_LIMITED",
    section=S.LIMITS,
    fixture=True,
    timeout=45.0,
)
async def in_flight_cap(ctx: Context) -> None:
    a = await ctx.peer("A")  # paced (150/s): the message-rate limit stays out of the way
    for i in range(1000):
        await a.send(a.envelope("request", "conformance.sleep", {"ms": 20000}, corr=f"c-cap-{i}",
                                ttl=30000))  # fmt: skip
        if i % 16 == 0 and any(m.error_code == "RATE_LIMITED" for m in a.inbox):
            return
    with contextlib.suppress(CaseFailed):
        await a.expect(lambda m: m.error_code == "RATE_LIMITED", "RATE_LIMITED", 3.0)
        return
    raise CaseFailed("1000 requests pending on one connection, no RATE_LIMITED (§12.1)")
