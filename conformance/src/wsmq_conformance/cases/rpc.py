"""Category 4: client→server RPC: responses, NO_HANDLER, handler errors, timeouts, cancel,
concurrency without cross-talk."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from hypothesis import strategies as st

from .. import sections as S
from ..context import Context
from ..model import CaseFailed, case
from ..peer import Msg, Peer, new_id
from .common import check, expect_none, fixture_call

__all__: list[str] = []


def new_corr() -> str:
    return new_id("c")


@case(
    "4.1.1",
    "a request is answered once with a response carrying the handler's result",
    section=f"{S.RPC_C2S}; {S.FIXTURE}",
    fixture=True,
)
async def echo(ctx: Context) -> None:
    a = await ctx.peer("A")
    m = await a.request("conformance.echo", {"q": [1, "two"]}, corr="c-4.1.1")
    check(m.type == "response" and m.body == {"q": [1, "two"]}, f"echo answered {m.short()}")
    await expect_none(a, lambda m: m.corr == "c-4.1.1", "a second answer arrived")


@case("4.1.2", "a request with no handler gets NO_HANDLER immediately", section=S.NO_HANDLER)
async def no_handler(ctx: Context) -> None:
    a = await ctx.peer("A")
    t = ctx.unique("nohandler") + ".x"
    t0 = time.monotonic()
    m = await a.request(t, {}, ttl=20000, timeout=5)
    check(
        m.type == "error" and m.error_code == "NO_HANDLER", f"request to {t!r} answered {m.short()}"
    )
    check(time.monotonic() - t0 < 4, "NO_HANDLER was not immediate (took more than 4 s)")
    await a.ping()


@case(
    "4.1.3",
    "a failing handler answers HANDLER_ERROR; application codes pass through",
    section=f"{S.RPC_C2S}; {S.ERROR_BODY}",
    fixture=True,
)
async def handler_error(ctx: Context) -> None:
    a = await ctx.peer("A")
    m = await a.request("conformance.fail", {})
    check(
        m.type == "error" and m.error_code == "HANDLER_ERROR",
        f"conformance.fail answered {m.short()}",
    )
    m = await a.request("conformance.fail", {"code": "APP_SPECIFIC_9"})
    check(
        m.type == "error" and m.error_code == "APP_SPECIFIC_9",
        f"conformance.fail with code APP_SPECIFIC_9 answered {m.short()}",
    )
    await a.ping()


@case(
    "4.1.4", "a request that outlives its ttl is answered TIMEOUT", section=S.RPC_C2S, fixture=True
)
async def timeout(ctx: Context) -> None:
    a = await ctx.peer("A")
    t0 = time.monotonic()
    m = await a.request("conformance.sleep", {"ms": 5000}, ttl=300, timeout=4)
    took = time.monotonic() - t0
    check(
        m.type == "error" and m.error_code == "TIMEOUT", f"ttl=300 sleep 5000 answered {m.short()}"
    )
    check(took < 3, f"TIMEOUT arrived after {took:.1f}s for ttl 300 ms")
    await a.ping()


@case("4.1.5", "a short sleep within its ttl is answered normally", section=S.RPC_C2S, fixture=True)
async def sleep_ok(ctx: Context) -> None:
    a = await ctx.peer("A")
    m = await a.request("conformance.sleep", {"ms": 50}, ttl=5000)
    check(m.type == "response" and m.body == {"slept": 50}, f"sleep 50 answered {m.short()}")


@case(
    "4.1.6", "after _client.cancel the broker sends no answer", section="§8.8 item 1", fixture=True
)
async def cancel(ctx: Context) -> None:
    a = await ctx.peer("A")
    corr = "c-cancel-4.1.6"
    started = ctx.unique() + ".started"  # conformance.sleep's notify: the handler is running
    if ctx.caps.subscribe:
        await a.subscribe(started)
    body = {"ms": 800, "notify": started}
    await a.send(a.envelope("request", "conformance.sleep", body, corr=corr, ttl=5000))
    # a fixture without notify: 0.3 s into the 0.8 s sleep the handler has most likely begun
    with contextlib.suppress(CaseFailed):
        await a.expect(lambda m: m.topic == started, "the handler's start", 0.3)
    await a.publish("_client.cancel", {"correlationID": corr})
    # Negative check: nothing may arrive for `corr`, not even after the sleep would have ended.
    await asyncio.sleep(1.0)
    await expect_none(a, lambda m: m.corr == corr, "an answer arrived after _client.cancel")


@case(
    "4.1.7",
    "a request with a reused correlationID from another client is not cross-talked",
    section=S.RPC_C2S,
    fixture=True,
)
async def same_corr(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    fa, fb = a.waiter("shared-corr"), b.waiter("shared-corr")
    await a.send(a.envelope("request", "conformance.sleep", {"ms": 100}, corr="shared-corr"))
    await b.send(b.envelope("request", "conformance.echo", {"who": "B"}, corr="shared-corr"))
    ma, mb = await a.wait(fa, "A's request"), await b.wait(fb, "B's request")
    check(ma.type == "response" and ma.body == {"slept": 100}, f"A got {ma.short()}")
    check(mb.type == "response" and mb.body == {"who": "B"}, f"B got {mb.short()}")


@case(
    "4.2.1",
    "many requests in flight from several clients: each answered once, to its sender",
    section=f"{S.RPC_C2S}; {S.ORDERING}",
    fixture=True,
    timeout=60,
)
async def concurrency(ctx: Context) -> None:
    peers = [await ctx.peer(f"P{i}") for i in range(4)]

    async def one(p: Peer, i: int, sleep: int) -> None:
        body: dict[str, Any] = {"from": p.name, "i": i}
        if sleep:
            m = await p.request("conformance.sleep", {"ms": sleep}, ttl=10000, timeout=5)
            check(
                m.type == "response" and m.body == {"slept": sleep}, f"{p.name} #{i}: {m.short()}"
            )
        else:
            m = await p.request("conformance.echo", body, timeout=5)
            check(m.type == "response" and m.body == body, f"{p.name} #{i} got {m.short()}")

    async def stray_watch() -> None:
        """Fail as soon as any peer holds an answer it did not ask for (cross-talk), instead of
        waiting for the victim's request to time out."""
        while True:
            for p in peers:
                stray = [m for m in p.inbox if m.type in ("response", "error")]
                if stray:
                    raise CaseFailed(
                        f"{p.name} got an answer it did not ask for: {stray[0].short()}"
                    )
            await asyncio.sleep(0.02)

    async def example(sleeps: list[int]) -> None:
        work: asyncio.Future[Any] = asyncio.gather(
            *(one(p, i, s) for p in peers for i, s in enumerate(sleeps))
        )
        watch: asyncio.Future[Any] = asyncio.create_task(stray_watch())
        try:
            done, _ = await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()
        finally:
            watch.cancel()
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
        for p in peers:
            await expect_none(
                p,
                lambda m: m.type in ("response", "error"),
                f"{p.name} got an answer it did not ask for",
            )

    await ctx.given(
        st.lists(st.sampled_from([0, 0, 0, 1, 5, 20]), min_size=5, max_size=25),
        example,
        examples=max(3, ctx.config.examples // 5),
    )


@case(
    "4.2.2",
    "pipelined echo requests on one connection are all answered with their own bodies",
    section=S.RPC_C2S,
    fixture=True,
)
async def pipelined(ctx: Context) -> None:
    a = await ctx.peer("A")
    futs: list[tuple[int, asyncio.Future[Msg]]] = []
    for i in range(100):
        corr = f"pipe-{i}"
        futs.append((i, a.waiter(corr)))
        await a.send(a.envelope("request", "conformance.echo", {"i": i}, corr=corr))
    for i, f in futs:
        m = await a.wait(f, f"pipelined request {i}")
        check(m.type == "response" and m.body == {"i": i}, f"pipe-{i} answered {m.short()}")


@case(
    "4.3.1",
    "a request with a ttl above the maximum is accepted (clamped), not rejected",
    section=S.TTL,
    fixture=True,
)
async def ttl_clamp(ctx: Context) -> None:
    # Only the acceptance is observable: proving the clamp would mean waiting out the maximum.
    a = await ctx.peer("A")
    m = await a.request("conformance.echo", {"big": True}, ttl=10**12)
    check(m.type == "response", f"huge ttl answered {m.short()}")


@case(
    "4.1.8",
    "a handler finishing as its ttl expires still gets exactly one answer",
    section="§8.2, §8.6",
    fixture=True,
    timeout=60,
)
async def ttl_race(ctx: Context) -> None:
    a = await ctx.peer("A")

    async def example(ms_ttl: tuple[int, int]) -> None:
        ms, ttl = ms_ttl
        corr = new_corr()
        m = await a.request("conformance.sleep", {"ms": ms}, ttl=ttl, corr=corr)
        ok = (m.type == "response" and m.body == {"slept": ms}) or m.error_code == "TIMEOUT"
        check(ok, f"sleep {ms} ms with ttl {ttl} answered {m.short()}")
        await expect_none(a, lambda m: m.corr == corr, f"sleep {ms} / ttl {ttl}: a second answer")

    pairs = st.integers(20, 120).flatmap(
        lambda t: st.tuples(st.integers(max(0, t - 15), t + 15), st.just(t))
    )
    await ctx.given(pairs, example)


@case(
    "4.1.9",
    "a request's client-supplied source is overwritten before the handler sees it",
    section="§3.2; §4.2",
    fixture=True,
)
async def request_source(ctx: Context) -> None:
    a = await ctx.peer("A")
    for forged in ("someone-else", None):
        extra = {"source": forged} if forged else {}
        m = await fixture_call(a, "conformance.source", {}, **extra)
        check(
            m.type == "response" and m.body == {"source": a.client_id},
            f"the handler saw source {m.body!r} (sent {forged!r}), want {a.client_id!r}",
        )


@case(
    "4.1.10",
    "a handler raising an exception without a code answers HANDLER_ERROR",
    section="§8.3 item 2; §11.3",
    fixture=True,
)
async def handler_raises(ctx: Context) -> None:
    a = await ctx.peer("A")
    m = await fixture_call(a, "conformance.raise", {})
    check(m.type == "error" and m.error_code == "HANDLER_ERROR", f"answered {m.short()}")
    await a.ping()


@case(
    "4.1.11",
    "ttl runs from receipt: a request with a stale timestamp is not timed out early",
    section="§8.2 items 2, 5",
    fixture=True,
)
async def ttl_from_receipt(ctx: Context) -> None:
    a = await ctx.peer("A")
    stale = int(time.time() * 1000) - 3_600_000  # one hour ago: clocks differ (§8.2 item 5)
    m = await a.request("conformance.sleep", {"ms": 200}, ttl=3000, timestamp=stale)
    check(m.type == "response" and m.body == {"slept": 200}, f"answered {m.short()}")
