"""Category 7: per-connection ordering."""

from __future__ import annotations

from .. import sections as S
from ..context import Context
from ..model import Level, case
from .common import check

__all__: list[str] = []


@case("7.1.1", "events from one publisher reach a subscriber in publish order", section=S.ORDERING)
async def publish_order(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    t = ctx.unique() + ".order"
    await b.subscribe(t)
    n = 200
    for i in range(n):
        await a.publish(t, {"seq": i})
    await b.expect(lambda m: m.topic == t and m.body == {"seq": n - 1}, "the last event")
    got = [m.body["seq"] for m in b.take(lambda m: m.topic == t)] + [n - 1]
    check(got == list(range(n)), f"events out of order or missing: first mismatch in {got[:20]}…")


@case(
    "7.1.2",
    "server-side publishes on one topic arrive in publish order (seq 0..49)",
    section=f"{S.ORDERING}; {S.FIXTURE}",
    fixture=True,
)
async def server_publish_order(ctx: Context) -> None:
    a = await ctx.peer("A")
    t = ctx.unique() + ".seq"
    await a.subscribe(t)
    res = await a.call("conformance.publish", {"topic": t, "body": {"k": "v"}, "count": 50})
    check(res == {"published": 50}, f"conformance.publish answered {res!r}")
    await a.expect(
        lambda m: m.topic == t and isinstance(m.body, dict) and m.body.get("seq") == 49,
        "the event with seq 49",
    )
    got = [
        m.body.get("seq") if isinstance(m.body, dict) else None
        for m in a.take(lambda m: m.topic == t)
    ]
    check(got == list(range(49)), f"seq out of order: {got[:12]}… ({len(got) + 1} events)")


@case(
    "7.1.3",
    "answers to pipelined requests with the same handler keep request order",
    section=S.ORDERING,
    fixture=True,
    level=Level.MAY,
)
async def response_order(ctx: Context) -> None:
    a = await ctx.peer("A")
    corrs = [f"ord-{i}" for i in range(30)]
    futs = [a.waiter(c) for c in corrs]
    for c in corrs:
        await a.send(a.envelope("request", "conformance.echo", {"c": c}, corr=c))
    for f in futs:
        await a.wait(f, "pipelined echo")
    times = [f.result().received for f in futs]
    ctx.informational("in request order" if times == sorted(times) else "reordered (allowed)")
