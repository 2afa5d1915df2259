"""Category 9: limits (message size, topic length and depth, ID length)."""

from __future__ import annotations

import json

from .. import sections as S
from ..context import Context
from ..model import CaseFailed, Level, case
from ..peer import Peer
from .common import check, expect_error

__all__: list[str] = []


async def _oversize(ctx: Context) -> tuple[Peer, int]:
    a = await ctx.connect("A")
    ack = await a.register({})
    limit = ack.get("maxMessageSize")
    if not isinstance(limit, int) or limit <= 0:
        raise CaseFailed(f"ack maxMessageSize is {limit!r}")
    if limit > 64 * 1024 * 1024:
        raise AssertionError(f"maxMessageSize {limit} too large to test")
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
    "a TOO_LARGE error envelope is sent before the 1009 close",
    section=S.LIMITS,
    level=Level.SHOULD,
)
async def too_large_error(ctx: Context) -> None:
    a, _ = await _oversize(ctx)
    await a.wait_closed(10)
    errs = a.take(lambda m: m.type == "error")
    check(
        any(m.error_code == "TOO_LARGE" for m in errs),
        f"no TOO_LARGE error before the close (errors: {[m.error_code for m in errs]})",
    )


@case("9.1.3", "a frame just under maxMessageSize is accepted", section=S.LIMITS, fixture=True)
async def just_under(ctx: Context) -> None:
    a = await ctx.peer("A")
    limit = int((a.ack or {}).get("maxMessageSize", 0))
    size = min(limit - 512, 256 * 1024)
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
        m = await a.request("_client.subscribe", {"topic": t})
        check(
            m.type == "error" and m.error_code == "BAD_TOPIC",
            f"subscribe to {t[:40]!r}… answered {m.short()}",
        )
        mid = await a.publish(t, {})
        e = await expect_error(a, {mid}, f"publish to {t[:40]!r}…")
        check(e.error_code == "BAD_TOPIC", f"publish to {t[:40]!r}… answered {e.short()}")
    ok = ".".join(["t"] * 32)
    res = await a.call("_client.subscribe", {"topic": ok})
    check(
        isinstance(res, dict) and res.get("subscribed") is True,
        f"32-token subscribe answered {res!r}",
    )


@case("9.2.2", "a messageID over 128 characters is rejected with BAD_MESSAGE", section=S.ENVELOPE)
async def long_message_id(ctx: Context) -> None:
    a = await ctx.peer("A")
    env = a.envelope("event", "cf.x", {}, msg_id="m" * 129)
    await a.send(env)
    m = await expect_error(a, {"_invalid", "m" * 129}, "a 129-character messageID")
    check(m.error_code == "BAD_MESSAGE", f"answered {m.short()}")
    await a.ping()
