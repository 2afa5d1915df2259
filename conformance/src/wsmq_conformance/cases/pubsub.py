"""Category 3: publish/subscribe, wildcards, echo, unsubscribe, server-side publish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from .. import sections as S
from ..context import Context
from ..model import Unimplemented, case
from ..peer import Msg, Peer
from ..strategies import json_values, matches, pattern_and_topic
from .common import check, expect_error, expect_none, json_equal
from .envelopes import JS_SPELLINGS

__all__: list[str] = []


async def _barrier(sub: Peer, pub: Peer, ctx: Context) -> None:
    """Give anything ``pub`` published so far the chance to reach ``sub``: publish a sentinel on
    a topic only ``sub`` listens to and wait for it.

    Used only before *negative* checks ("nothing arrived"). The spec promises order per
    publisher and topic only (§7.4 rule 4), so a server that reorders across topics could let
    a wrong delivery slip past this barrier (a missed bug, never a false failure); positive
    checks always wait for the delivery itself."""
    t = ctx.unique("cfs")
    await sub.subscribe(t)
    await pub.publish(t, {"sentinel": True})
    await sub.expect(lambda m: m.topic == t, f"sentinel on {t}")
    await sub.unsubscribe(t)


def _on(topic: str) -> Callable[[Msg], bool]:
    return lambda m: m.topic == topic


async def _expect_no_more(
    sub: Peer, pub: Peer, ctx: Context, pred: Callable[[Msg], bool], what: str
) -> None:
    """After the barrier, ``sub`` may hold no (further) delivery matching ``pred``; ``what``
    names the wrong delivery in the failure.  Matching deliveries are removed."""
    await _barrier(sub, pub, ctx)
    got = sub.take(pred)
    check(not got, f"{what}: {got[0].short() if got else ''}")


@case("3.1.1", "_client.subscribe answers {topic, subscribed: true}", section=S.SUBSCRIBE)
async def subscribe_answer(ctx: Context) -> None:
    a = await ctx.peer("A")
    t = ctx.unique() + ".>"
    # §3.4: unknown members of a control body are ignored
    res = await a.call("_client.subscribe", {"topic": t, "futureOption": {"x": 1}})
    problems = ctx.body_problems("SubscribeResult", res)
    check(not problems, f"answer breaks SubscribeResult: {problems}")
    check(
        res == {"topic": t, "subscribed": True}
        or (isinstance(res, dict) and res.get("topic") == t and res.get("subscribed") is True),
        f"subscribe answered {res!r}",
    )


@case(
    "3.1.2",
    "a publish reaches every matching subscriber with topic, body and source",
    section=S.EVENT,
)
async def publish_delivered(ctx: Context) -> None:
    a, b, c = await ctx.peer("A"), await ctx.peer("B"), await ctx.peer("C")
    t = ctx.unique() + ".news"
    await b.subscribe(t)
    await c.subscribe(t)
    await a.publish(t, {"hello": "world"})
    for p in (b, c):
        m = await p.expect(lambda m: m.topic == t, f"the event on {t}")
        check(m.type == "event", f"delivery has type {m.type!r}")
        check(m.body == {"hello": "world"}, f"delivered body {m.body!r}")
        check(
            m.header.get("source") == a.client_id,
            f"delivered source {m.header.get('source')!r}, expected {a.client_id!r}",
        )
    await expect_none(
        a,
        lambda m: m.topic != "_internal.client.registered",
        "the publisher got an answer to its publish (§4.1)",
    )


@case("3.1.3", "a publish is not echoed to its sender by default", section="§7.4 item 2")
async def no_echo(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    t = ctx.unique() + ".noecho"
    await a.subscribe(t)
    await b.subscribe(t)
    await a.publish(t, {"n": 1})
    await b.expect(lambda m: m.topic == t, f"the event on {t}")
    # The server handled A's publish before A's ping (per-connection order), so a delivery to
    # A would precede the ping's response.
    await expect_none(a, lambda m: m.topic == t, "the sender received its own publish")


@case(
    "3.1.4",
    "subscribing with echo: true delivers the sender's own publishes",
    section="§7.1 item 3, §7.4 item 2",
)
async def echo_true(ctx: Context) -> None:
    a = await ctx.peer("A")
    t = ctx.unique() + ".echo"
    await a.subscribe(t, echo=True)
    await a.publish(t, {"n": 2})
    m = await a.expect(lambda m: m.topic == t, f"own event on {t} (echo: true)")
    check(m.body == {"n": 2}, f"echoed body {m.body!r}")


@case(
    "3.1.5",
    "after _client.unsubscribe no more deliveries; answer says unsubscribed: true",
    section=S.SUBSCRIBE,
)
async def unsubscribe(ctx: Context) -> None:
    a, b, c = await ctx.peer("A"), await ctx.peer("B"), await ctx.peer("C")
    t = ctx.unique() + ".unsub"
    await b.subscribe(t)
    await c.subscribe(t)
    res = await b.unsubscribe(t)
    check(
        isinstance(res, dict) and res.get("unsubscribed") is True and res.get("topic") == t,
        f"unsubscribe answered {res!r}",
    )
    await a.publish(t, {"after": True})
    await c.expect(lambda m: m.topic == t, f"the event on {t} at the still-subscribed client")
    await _expect_no_more(b, a, ctx, lambda m: m.topic == t, "delivered after unsubscribe")


@case(
    "3.1.6",
    "unsubscribing a pattern that was never subscribed answers unsubscribed: false",
    section="§7.2",
)
async def unsubscribe_unknown(ctx: Context) -> None:
    a = await ctx.peer("A")
    t = ctx.unique() + ".never"
    res = await a.unsubscribe(t)
    problems = ctx.body_problems("UnsubscribeResult", res)
    check(not problems, f"answer breaks UnsubscribeResult: {problems}")
    check(
        isinstance(res, dict) and res.get("unsubscribed") is False, f"unsubscribe answered {res!r}"
    )


@case(
    "3.2.1",
    "wildcard delivery matches NATS semantics ('*' one token, '>' one or more)",
    section=S.WILDCARDS,
)
async def wildcards(ctx: Context) -> None:
    pub, sub = await ctx.peer("P"), await ctx.peer("S")

    async def example(pt: tuple[list[str], list[str]]) -> None:
        ptoks, ttoks = pt
        pre = ctx.unique()
        pattern, topic = ".".join([pre, *ptoks]), ".".join([pre, *ttoks])
        await sub.subscribe(pattern)
        try:
            await pub.publish(topic, {"t": topic})
            want = matches(pattern, topic)
            if want:
                await sub.expect(lambda m: m.topic == topic, f"{topic!r} via pattern {pattern!r}")
            await _barrier(sub, pub, ctx)
            n = int(want) + len(sub.take(lambda m: m.topic == topic))
            check(
                n == int(want),
                f"pattern {pattern!r}, topic {topic!r}: {n} deliveries, want {int(want)}",
            )
        finally:
            await sub.unsubscribe(pattern)

    spec_table = [  # spec §5.2's examples, as (pattern tokens, topic tokens)
        (["a", "*"], ["a", "b"]),
        (["a", "*"], ["a"]),
        (["a", "*"], ["a", "b", "a"]),
        (["a", ">"], ["a", "b"]),
        (["a", ">"], ["a", "b", "a"]),
        (["a", ">"], ["a"]),
        (["*", "b"], ["a", "b"]),
        (["*", "b"], ["a", "a", "b"]),
    ]
    await ctx.given(pattern_and_topic(), example, explicit=spec_table)


@case(
    "3.2.2",
    "a publish matching several subscriptions of one connection is delivered once",
    section=f"{S.WILDCARDS}; {S.EVENT}",
)
async def overlapping(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    pre = ctx.unique()
    for p in (f"{pre}.x", f"{pre}.*", f"{pre}.>"):
        await b.subscribe(p)
    await a.publish(f"{pre}.x", {"n": 1})
    await b.expect(lambda m: m.topic == f"{pre}.x", "the event")
    await _expect_no_more(
        b,
        a,
        ctx,
        lambda m: m.topic == f"{pre}.x",
        "a second delivery of one publish to a connection with 3 matching subscriptions",
    )


@case(
    "3.2.3",
    "subscribing twice to one pattern is idempotent (one delivery)",
    section="§7.1 item 2, §7.4 item 1",
)
async def idempotent_subscribe(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    t = ctx.unique() + ".twice"
    await b.subscribe(t)
    await b.subscribe(t)
    await a.publish(t, {"n": 1})
    await b.expect(lambda m: m.topic == t, "the event")
    await _expect_no_more(
        b, a, ctx, lambda m: m.topic == t, "a second delivery after subscribing twice"
    )


@case(
    "3.2.4",
    "unsubscribe removes exactly that pattern (unsubscribing x.* keeps x.>)",
    section="§7.2",
)
async def unsubscribe_exact(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    pre = ctx.unique()
    await b.subscribe(f"{pre}.>")
    res = await b.unsubscribe(f"{pre}.*")
    check(
        isinstance(res, dict) and res.get("unsubscribed") is False, f"unsubscribe answered {res!r}"
    )
    await a.publish(f"{pre}.y", {"n": 1})
    await b.expect(lambda m: m.topic == f"{pre}.y", f"the event via {pre}.>")


@case("3.3.1", "invalid subscription patterns are rejected with BAD_TOPIC", section=S.WILDCARDS)
async def bad_patterns(ctx: Context) -> None:
    a = await ctx.peer("A")
    for pattern in ("", "a..b", "a.>.b", "a*", "a.b>", ">.a", "a. b", ".a", "a."):
        m = await a.request("_client.subscribe", {"topic": pattern})
        check(
            m.type == "error" and m.error_code == "BAD_TOPIC",
            f"subscribe {pattern!r} answered {m.short()}",
        )
    await a.ping()


@case(
    "3.3.2",
    "publishing to a wildcard topic is rejected with BAD_TOPIC (error correlates to the messageID)",
    section=f"{S.TOPICS}; {S.ERRORS}",
)
async def publish_wildcard(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    pre = ctx.unique()
    await b.subscribe(f"{pre}.>")
    for t in (f"{pre}.*", f"{pre}.>"):
        mid = await a.publish(t, {"n": 1})
        m = await expect_error(a, {mid}, f"publish to {t!r}")
        check(m.error_code == "BAD_TOPIC", f"publish to {t!r} answered {m.short()}")
    await _expect_no_more(
        b, a, ctx, lambda m: m.topic.startswith(pre), "a wildcard publish was delivered"
    )


@case(
    "3.4.1",
    "conformance.publish: server-side publishes reach subscribers",
    section=f"{S.EVENT}; {S.FIXTURE}",
    fixture=True,
)
async def server_publish(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    t = ctx.unique() + ".srv"
    await b.subscribe(t)
    res = await a.call("conformance.publish", {"topic": t, "body": {"v": 1}})
    check(res == {"published": 1}, f"conformance.publish answered {res!r}")
    m = await b.expect(lambda m: m.topic == t, f"the server's event on {t}")
    check(m.body == {"v": 1}, f"server event body {m.body!r}")


@case(
    "3.4.2",
    "client publishes reach server-side handlers (conformance.events counts them)",
    section=f"{S.EVENT}; {S.FIXTURE}",
    fixture=True,
)
async def server_handler_events(ctx: Context) -> None:
    a = await ctx.peer("A")
    t = "conformance.events"
    before = await a.call("conformance.events.count", {"topic": t})
    check(
        isinstance(before, dict) and isinstance(before.get("count"), int),
        f"events.count answered {before!r}",
    )
    for i in range(3):
        await a.publish(t, {"i": i})
    # Events and the count request take different paths through a server (a cluster may route
    # them differently), so poll for a bounded time instead of assuming an order.
    want = before["count"] + 3
    deadline = time.monotonic() + 5
    while True:
        after = await a.call("conformance.events.count", {"topic": t})
        n = after.get("count") if isinstance(after, dict) else None
        if n == want or time.monotonic() > deadline or (isinstance(n, int) and n > want):
            break
        await asyncio.sleep(0.05)
    check(n == want, f"count went from {before['count']} to {after!r} after 3 events")


@case("3.5.1", "generated bodies are delivered to subscribers unchanged", section=S.EVENT)
async def bodies_delivered(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    t = ctx.unique() + ".body"
    await b.subscribe(t)

    async def example(body: Any) -> None:
        await a.publish(t, body)
        m = await b.expect(lambda m: m.topic == t, f"the event on {t}")
        check(json_equal(m.body, body), f"sent {body!r}, delivered {m.body!r}")

    await ctx.given(json_values(), example, explicit=JS_SPELLINGS)


@case(
    "3.2.5",
    "topics are case-sensitive and compared byte for byte (no Unicode normalization)",
    section=S.TOPICS,
)
async def case_sensitive(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    pre = ctx.unique()
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    await b.subscribe(f"{pre}.Room")
    await b.subscribe(f"{pre}.{composed}")
    await a.publish(f"{pre}.room", {"n": 1})
    await a.publish(f"{pre}.{decomposed}", {"n": 2})
    await a.publish(f"{pre}.{composed}", {"n": 3})
    await a.publish(f"{pre}.Room", {"n": 4})  # the exact spelling, capital and all, matches
    got = [await b.expect(lambda m: m.topic.startswith(pre), "an event on a subscribed topic")
           for _ in range(2)]  # fmt: skip
    bodies = sorted(str(m.body) for m in got)
    check(
        bodies == [str({"n": 3}), str({"n": 4})],
        f"want the events on the exact spellings ({pre}.{composed}, {pre}.Room), got "
        f"{[m.short() for m in got]}",
    )
    await _expect_no_more(b, a, ctx, lambda m: m.topic.startswith(pre), "unexpected delivery")


Op = tuple[int, str, int]  # (client index, "sub" | "unsub" | "pub", pattern or topic index)
_PATTERNS = ["a.x", "*.x", "a.>", ">", "b.*"]
_TOPICS = ["a.x", "b.x", "a.y", "b.y.z"]


@case(
    "3.6.1",
    "random interleavings of subscribe, unsubscribe and publish by 3 clients match a model",
    section=f"{S.SUBSCRIBE}; {S.EVENT}; {S.WILDCARDS}",
    timeout=90,
)
async def interleavings(ctx: Context) -> None:
    peers = [await ctx.peer(f"C{i}") for i in range(3)]
    ops = st.lists(
        st.tuples(
            st.integers(0, 2),
            st.sampled_from(["sub", "sub", "unsub", "pub", "pub", "pub"]),
            st.integers(0, 4),
        ),
        min_size=1,
        max_size=12,
    )

    async def example(seq: list[Op]) -> None:
        pre = ctx.unique()
        subs: list[set[str]] = [set(), set(), set()]
        history: list[list[frozenset[str]]] = [[], [], []]  # each receiver's subs after each op
        pubs: list[tuple[int, int, str]] = []  # (op number, publisher, topic)
        for n, (i, op, k) in enumerate(seq):
            p = peers[i]
            if op == "pub":
                topic = f"{pre}.{_TOPICS[k % len(_TOPICS)]}"
                await p.publish(topic, {"n": n})
                await p.ping()  # the broker has handled the publish before the next op
                pubs.append((n, i, topic))
            elif op == "sub":
                await p.subscribe(f"{pre}.{_PATTERNS[k]}")
                subs[i].add(_PATTERNS[k])
            else:
                res = await p.unsubscribe(f"{pre}.{_PATTERNS[k]}")
                was = _PATTERNS[k] in subs[i]
                subs[i].discard(_PATTERNS[k])
                got = res.get("unsubscribed") if isinstance(res, dict) else res
                check(got is was, f"op {n}: unsubscribe {_PATTERNS[k]!r} answered {res!r}")
            for j in range(3):
                history[j].append(frozenset(subs[j]))

        def hit(j: int, n: int, topic: str) -> bool:
            return any(matches(f"{pre}.{q}", topic) for q in history[j][n])

        for j, p in enumerate(peers):
            must, may = [], set()
            for n, i, topic in pubs:
                if i == j:  # §7.4 rule 2: never back to the sender (no echo subscriptions here)
                    continue
                later = {hit(j, m, topic) for m in range(n, len(seq))}
                if later == {True}:
                    must.append(n)
                elif later != {False}:
                    may.add(n)  # j's subscriptions changed while the publish may be in flight
            for n in must:  # §7.4: delivered, at most once
                body = {"n": n}
                await p.expect(
                    lambda m: m.topic.startswith(pre) and bool(m.body == body),  # noqa: B023
                    f"{p.name}: the delivery of op #{n}",
                )
            for other in peers:
                if other is not p:
                    await _barrier(p, other, ctx)
            extra = p.take(lambda m: m.topic.startswith(pre + "."))
            wrong = [m for m in extra if not (isinstance(m.body, dict) and m.body.get("n") in may)]
            check(
                not wrong,
                f"{p.name} got an unexpected delivery: {wrong[0].short() if wrong else ''}",
            )
        for i, p in enumerate(peers):
            for pattern in subs[i]:
                await p.unsubscribe(f"{pre}.{pattern}")

    await ctx.given(ops, example, examples=max(5, ctx.config.examples // 2))


@case(
    "3.1.7",
    "re-subscribing with echo: false turns the echo of that pattern off again",
    section="§7.1 items 2-3, §7.4 item 2",
)
async def echo_replaced(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    t = ctx.unique() + ".reecho"
    await b.subscribe(t)
    await a.subscribe(t, echo=True)
    await a.publish(t, {"n": 1})
    await a.expect(lambda m: m.topic == t, f"own event on {t} (echo: true)")
    await b.expect(lambda m: m.topic == t, f"the event on {t} at B")
    await a.subscribe(t, echo=False)
    await a.publish(t, {"n": 2})
    await b.expect(lambda m: m.topic == t, f"the second event on {t} at B")
    await expect_none(
        a,
        lambda m: m.topic == t,
        "own event delivered after re-subscribing with echo: false",
    )


@case(
    "3.1.8",
    "an echo subscription echoes only the topics it matches, once, next to non-echo ones",
    section="§7.1 item 3, §7.4 items 1-2",
)
async def echo_mixed(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    pre = ctx.unique()
    await b.subscribe(f"{pre}.>")
    await a.subscribe(f"{pre}.*")  # no echo
    await a.subscribe(f"{pre}.e", echo=True)
    await a.publish(f"{pre}.e", {"n": 1})  # both of A's match, one with echo: one delivery
    await a.publish(f"{pre}.n", {"n": 2})  # only the non-echo one matches: none
    for t in (f"{pre}.e", f"{pre}.n"):
        await b.expect(_on(t), f"the event on {t} at B")
    await a.expect(lambda m: m.topic == f"{pre}.e", f"own event on {pre}.e (echo: true)")
    await expect_none(
        a,
        lambda m: m.topic in (f"{pre}.e", f"{pre}.n"),
        f"a second echo of {pre}.e, or an echo of {pre}.n that only a non-echo pattern matches",
    )


@case(
    "3.4.3",
    "'>' and '*.x' subscribers never receive a server publish on a reserved topic",
    section=f"{S.WILDCARDS}; §5.3 item 4; {S.FIXTURE}",
    fixture=True,
)
async def wildcard_reserved(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    await b.subscribe(">")
    await b.subscribe("*.cfreserved")
    m = await a.request("conformance.publish", {"topic": "_cf.cfreserved", "body": {"n": 1}})
    if m.type != "response":
        raise Unimplemented(f"the fixture does not publish a reserved topic: {m.short()}")
    sentinel = ctx.unique() + ".after"  # the server's next publish, on a topic '>' matches
    await a.call("conformance.publish", {"topic": sentinel, "body": {"sentinel": True}})
    await b.expect(lambda m: m.topic == sentinel, f"the server's event on {sentinel}")
    got = b.take(lambda m: isinstance(m.topic, str) and m.topic.startswith("_cf."))
    check(
        not got,
        f"a wildcard subscriber received a reserved topic: {got[0].short() if got else ''}",
    )
