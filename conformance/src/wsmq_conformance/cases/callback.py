"""Category 5: server→client RPC (driven through conformance.callback)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hypothesis import strategies as st

from .. import sections as S
from ..context import Context
from ..model import CaseFailed, Unimplemented, case
from ..peer import Msg, Peer, new_id
from ..strategies import json_values
from .common import check, expect_error, expect_none, expect_silence, json_equal
from .envelopes import JS_SPELLINGS

__all__: list[str] = []

CB = f"{S.RPC_S2C}; {S.FIXTURE}"


async def start_callback(
    ctx: Context, a: Peer, name: str, body: Any, timeout_ms: int = 3000
) -> tuple[asyncio.Future[Msg], Msg]:
    """Ask the server to call ``a`` back on a fresh topic ending in ``name``; returns (future
    of the fixture's answer, the server's request as ``a`` received it)."""
    topic = f"{ctx.unique('cb')}.{name}"
    corr = f"cb-{topic}"
    fut = a.waiter(corr)
    await a.send(
        a.envelope(
            "request",
            "conformance.callback",
            {"topic": topic, "body": body, "timeoutMs": timeout_ms},
            corr=corr,
            ttl=timeout_ms + 5000,
        )
    )
    req = await a.expect(
        lambda m: m.type == "request" and m.topic == topic, f"the server's request on {topic}"
    )
    check(
        isinstance(req.corr, str) and req.corr != "",
        f"server request without correlationID: {req.short()}",
    )
    return fut, req


async def answer(a: Peer, req: Msg, type_: str, body: Any) -> str:
    """Answer the server's request; returns the answer's messageID."""
    env = a.envelope(type_, req.corr, body, corr=req.corr)
    await a.send(env)
    return str(env["header"]["messageID"])


async def settle(a: Peer, fut: asyncio.Future[Msg], req: Msg, type_: str, body: Any) -> Msg:
    """Answer the server's request and return what conformance.callback then answered."""
    await answer(a, req, type_, body)
    return await a.wait(fut, "conformance.callback")


async def client_error_reaches_server(ctx: Context, name: str, code: str) -> None:
    """The client answers the server's request with error ``code``; the fixture must report
    that same code."""
    a = await ctx.peer("A")
    fut, req = await start_callback(ctx, a, name, {})
    m = await settle(a, fut, req, "error", {"error": {"code": code, "message": code.lower()}})
    check(m.type == "error" and m.error_code == code, f"callback answered {m.short()}")


@case(
    "5.1.1",
    "the server's request reaches the client and its response comes back",
    section=CB,
    fixture=True,
)
async def callback_roundtrip(ctx: Context) -> None:
    a = await ctx.peer("A")
    fut, req = await start_callback(ctx, a, "ask", {"question": 42})
    check(req.body == {"question": 42}, f"server request body {req.body!r}")
    m = await settle(a, fut, req, "response", {"answer": 42})
    check(
        m.type == "response" and m.body == {"response": {"answer": 42}},
        f"conformance.callback answered {m.short()}",
    )


@case("5.1.2", "generated bodies survive the server→client round trip", section=CB, fixture=True)
async def callback_bodies(ctx: Context) -> None:
    a = await ctx.peer("A")

    async def example(body: Any) -> None:
        fut, req = await start_callback(ctx, a, "gen", body)
        check(json_equal(req.body, body), f"server request body {req.body!r}, expected {body!r}")
        m = await settle(a, fut, req, "response", body)
        check(
            m.type == "response" and json_equal(m.body, {"response": body}),
            f"callback answered {m.short()}",
        )

    await ctx.given(
        json_values(max_leaves=8),
        example,
        examples=max(5, ctx.config.examples // 2),
        explicit=JS_SPELLINGS,
    )


@case(
    "5.1.3",
    "an error answer from the client reaches the server with its code",
    section=CB,
    fixture=True,
)
async def callback_error(ctx: Context) -> None:
    await client_error_reaches_server(ctx, "err", "CLIENT_SAID_NO")


@case(
    "5.1.4",
    "a client that does not answer makes the server's request TIMEOUT",
    section=CB,
    fixture=True,
)
async def callback_timeout(ctx: Context) -> None:
    a = await ctx.peer("A")
    fut, _req = await start_callback(ctx, a, "slow", {}, timeout_ms=300)
    m = await a.wait(fut, "conformance.callback", timeout=5)
    check(m.type == "error" and m.error_code == "TIMEOUT", f"unanswered callback gave {m.short()}")


@case(
    "5.1.5",
    "when the server gives up it sends _internal.cancel with reason TIMEOUT",
    section="§8.2 item 4, §8.8 item 2",
    fixture=True,
)
async def callback_cancel_event(ctx: Context) -> None:
    a = await ctx.peer("A")
    fut, req = await start_callback(ctx, a, "cancel", {}, timeout_ms=300)
    await a.wait(fut, "conformance.callback", timeout=5)
    m = await a.expect(lambda m: m.topic == "_internal.cancel", "_internal.cancel", timeout=3)
    problems = ctx.body_problems("InternalCancelBody", m.body)
    check(not problems, f"_internal.cancel body breaks InternalCancelBody: {problems}")
    check(
        isinstance(m.body, dict)
        and m.body.get("correlationID") == req.corr
        and m.body.get("reason") == "TIMEOUT",
        f"_internal.cancel body {m.body!r}",
    )


@case(
    "5.2.1",
    "an answer from a client the request was not sent to is not accepted",
    section="§8.4 item 4, §8.7 item 2",
    fixture=True,
)
async def wrong_client_answer(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    fut, req = await start_callback(ctx, a, "steal", {})
    mid = await answer(b, req, "response", {"from": "B"})
    # UNKNOWN_CORRELATION is "about the answer's messageID" (§8.7 rule 2).
    e = await expect_error(b, {mid}, "B's answer to A's request")
    check(e.error_code == "UNKNOWN_CORRELATION", f"B's stolen answer got {e.short()}")
    m = await settle(a, fut, req, "response", {"from": "A"})
    check(
        m.type == "response" and m.body == {"response": {"from": "A"}},
        f"callback settled with {m.short()} (B's answer must not count)",
    )


@case("5.2.2", "a duplicate answer is discarded silently", section="§8.7 item 1", fixture=True)
async def duplicate_answer(ctx: Context) -> None:
    a = await ctx.peer("A")
    fut, req = await start_callback(ctx, a, "dup", {})
    await answer(a, req, "response", {"n": 1})
    m = await settle(a, fut, req, "response", {"n": 2})
    check(
        m.type == "response" and m.body == {"response": {"n": 1}}, f"callback answered {m.short()}"
    )
    await expect_none(a, lambda m: m.type == "error", "the duplicate answer got an error")


@case(
    "5.2.3",
    "an answer to a correlationID the server never sent gets UNKNOWN_CORRELATION",
    section="§8.7 item 2",
)
async def unknown_correlation(ctx: Context) -> None:
    a = await ctx.peer("A")
    corr = ctx.unique("never")
    env = a.envelope("response", corr, {"x": 1}, corr=corr)
    await a.send(env)
    e = await expect_error(a, {env["header"]["messageID"]}, "an answer to an unknown correlationID")
    check(e.error_code == "UNKNOWN_CORRELATION", f"got {e.short()}")
    await a.ping()


@case("5.2.4", "nobody answers an error envelope with an error (no loops)", section="§4.5")
async def no_error_loops(ctx: Context) -> None:
    a = await ctx.peer("A")
    corr = ctx.unique("loop")
    await a.send(a.envelope("error", corr, {"error": {"code": "X", "message": "x"}}, corr=corr))
    # An unknown correlation may be reported once; what must not happen is a ping-pong.
    await a.ping()
    errs = a.take(lambda m: m.type == "error")
    check(len(errs) <= 1, f"{len(errs)} errors in reply to one error envelope")


@case(
    "5.1.6",
    "an answer is matched by correlationID only, even with a different topic",
    section="§4.3",
    fixture=True,
)
async def answer_other_topic(ctx: Context) -> None:
    a = await ctx.peer("A")
    fut, req = await start_callback(ctx, a, "topic", {})
    await a.send(a.envelope("response", "not-the-correlation-id", {"ok": 1}, corr=req.corr))
    m = await a.wait(fut, "conformance.callback")
    check(
        m.type == "response" and m.body == {"response": {"ok": 1}}, f"callback answered {m.short()}"
    )


@case(
    "5.3.1",
    "a client without a handler answering NO_HANDLER is reported as NO_HANDLER",
    section=CB,
    fixture=True,
)
async def callback_no_handler(ctx: Context) -> None:
    await client_error_reaches_server(ctx, "none", "NO_HANDLER")


@case(
    "5.2.5",
    "a late answer (after the server's TIMEOUT) is discarded silently",
    section="§8.7 item 1",
    fixture=True,
)
async def late_answer(ctx: Context) -> None:
    a = await ctx.peer("A")
    fut, req = await start_callback(ctx, a, "late", {}, timeout_ms=200)
    m = await a.wait(fut, "conformance.callback", timeout=5)
    check(m.error_code == "TIMEOUT", f"callback answered {m.short()}")
    await answer(a, req, "response", {"too": "late"})
    await expect_silence(a, "a late answer")


@case(
    "5.2.6",
    "an answer racing the server's timeout settles the request exactly once",
    section="§8.4, §8.6",
    fixture=True,
    timeout=60,
)
async def answer_race(ctx: Context) -> None:
    a = await ctx.peer("A")

    async def example(delay_ms: int) -> None:
        fut, req = await start_callback(ctx, a, "race", {"d": delay_ms}, timeout_ms=100)
        await asyncio.sleep(delay_ms / 1000)
        m = await settle(a, fut, req, "response", {"d": delay_ms})
        ok = m.type == "response" and m.body == {"response": {"d": delay_ms}}
        check(ok or m.error_code == "TIMEOUT", f"answer after {delay_ms} ms: {m.short()}")
        await expect_none(
            a, lambda m: m.type in ("response", "error"), f"answer after {delay_ms} ms: also got"
        )
        a.take(lambda m: m.topic == "_internal.cancel")

    await ctx.given(st.integers(60, 140), example, examples=max(5, ctx.config.examples // 2))


# -- 5.4: server→client RPC to *another* client (fixture extension: conformance.callback with
# "clientID"). A fixture that ignores "clientID" calls the caller back instead; the cases then
# answer that request and report UNIMPLEMENTED rather than FAILED.


async def targeted_callback(
    a: Peer, target: str, topic: str, timeout_ms: int
) -> asyncio.Future[Msg]:
    """``a`` asks the fixture to send request ``topic`` to client ``target``; returns the future
    of the fixture's answer to ``a``."""
    corr = new_id("cbt")
    fut = a.waiter(corr)
    body = {"topic": topic, "body": {"for": target}, "timeoutMs": timeout_ms, "clientID": target}
    await a.send(
        a.envelope("request", "conformance.callback", body, corr=corr, ttl=timeout_ms + 5000)
    )
    return fut


async def unless_caller_got_it(a: Peer, topic: str) -> None:
    """If the fixture called the caller back (it ignores clientID), answer and bail out."""
    got = a.take(lambda m: m.type == "request" and m.topic == topic)
    if got:
        await answer(a, got[0], "response", {})
        raise Unimplemented("the fixture's conformance.callback ignores clientID (spec §14)")


async def first_of(
    fut: asyncio.Future[Msg], peers: list[Peer], topic: str, timeout: float
) -> Msg | Peer:
    """The fixture's answer, or the first of ``peers`` that receives the request on ``topic``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fut.done():
            return fut.result()
        for p in peers:
            if any(m.type == "request" and m.topic == topic for m in p.inbox):
                return p
        await asyncio.sleep(0.01)
    raise CaseFailed(f"no answer to conformance.callback and no request on {topic} in {timeout}s")


async def request_at(
    ctx: Context, a: Peer, b: Peer, name: str, timeout_ms: int
) -> tuple[asyncio.Future[Msg], Msg]:
    """``a`` has the fixture send a request to ``b``; returns (the future of the fixture's
    answer to ``a``, the request as ``b`` received it).  UNIMPLEMENTED if the fixture called
    ``a`` back instead."""
    t = f"{ctx.unique('cb')}.{name}"
    fut = await targeted_callback(a, str(b.client_id), t, timeout_ms)
    if await first_of(fut, [a, b], t, 5) is a:
        await unless_caller_got_it(a, t)
    req = await b.expect(lambda m: m.type == "request" and m.topic == t, f"the request on {t} at B")
    return fut, req


@case(
    "5.4.1",
    "a request to a client ID nobody holds fails at once with UNKNOWN_CLIENT",
    section="§8.4, §8.5",
    fixture=True,
)
async def unknown_client(ctx: Context) -> None:
    a = await ctx.peer("A")
    t = ctx.unique("cb") + ".nobody"
    t0 = time.monotonic()
    fut = await targeted_callback(a, "nobody-" + ctx.unique("x").replace(".", "-"), t, 8000)
    m = await first_of(fut, [a], t, 6)
    if not isinstance(m, Msg):
        await unless_caller_got_it(a, t)
        raise CaseFailed("unreachable")
    check(m.error_code == "UNKNOWN_CLIENT", f"callback to an unknown client answered {m.short()}")
    check(time.monotonic() - t0 < 4, "UNKNOWN_CLIENT was not immediate (it must not wait the ttl)")


@case(
    "5.4.2",
    "a server→client request to another client is answered by that client only",
    section="§8.4",
    fixture=True,
)
async def other_client(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    fut, req = await request_at(ctx, a, b, "other", 5000)
    mid = await answer(a, req, "response", {"from": "A"})  # A was not asked: not accepted
    e = await expect_error(a, {mid}, "A's answer to B's request")
    check(e.error_code == "UNKNOWN_CORRELATION", f"A's answer got {e.short()}")
    await answer(b, req, "response", {"from": "B"})
    m = await a.wait(fut, "conformance.callback")
    check(m.body == {"response": {"from": "B"}}, f"callback answered {m.short()}")


@case(
    "5.4.3",
    "a pending server→client request settles with DISCONNECTED when that client goes away",
    section="§8.9, §2.3",
    fixture=True,
)
async def disconnected(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    fut, _req = await request_at(ctx, a, b, "gone", 10000)
    t0 = time.monotonic()
    await b.close()
    m = await a.wait(fut, "conformance.callback after B disconnected", timeout=8)
    check(m.error_code == "DISCONNECTED", f"callback to a client that left answered {m.short()}")
    check(time.monotonic() - t0 < 5, "DISCONNECTED was not at once (it must not wait the ttl)")
