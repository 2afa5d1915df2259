"""Category 1: registration, client IDs and resume."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from hypothesis import strategies as st

from ..context import Context
from ..model import Level, case
from .common import check, expect_error, expect_none, fixture_call

__all__: list[str] = []


@case(
    "1.1.1",
    "_client.register is acknowledged with _internal.client.registered",
    section="§6.1, §6.2",
)
async def register_ack(ctx: Context) -> None:
    a = await ctx.connect("A")
    ack = await a.register({"pageSessionID": "page-1"})
    cid = ack.get("brokerClientID")
    check(
        isinstance(cid, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,128}", cid) is not None,
        f"brokerClientID {cid!r} is not 1-128 characters of A-Z a-z 0-9 - _ (§6.1)",
    )
    check(ack.get("status") == "registered", f"ack status is {ack.get('status')!r}")
    check(ack.get("protocol") == "wsmq/1", f"ack protocol is {ack.get('protocol')!r}")
    check(
        isinstance(ack.get("resumeToken"), str) and ack["resumeToken"] != "",
        f"ack lacks a resumeToken: {ack!r}",
    )
    check(ack.get("resumed") is False, f"fresh registration says resumed={ack.get('resumed')!r}")
    problems = ctx.body_problems("RegisteredBody", ack)
    check(not problems, f"ack breaks RegisteredBody: {problems}")
    for k in ("pingInterval", "maxMessageSize"):
        v = ack.get(k)
        check(isinstance(v, int) and not isinstance(v, bool) and v > 0, f"ack {k} is {v!r}")


@case("1.1.2", "the ack echoes the pageSessionID the client sent", section="§6.2 items 1-2")
async def register_page_session(ctx: Context) -> None:
    a = await ctx.connect("A")
    ack = await a.register({"pageSessionID": "page-xyz"})
    check(
        ack.get("pageSessionID") == "page-xyz", f"ack pageSessionID is {ack.get('pageSessionID')!r}"
    )


@case("1.1.3", "concurrent connections get distinct client IDs", section="§6.1")
async def distinct_ids(ctx: Context) -> None:
    ids = []
    for i in range(5):
        p = await ctx.peer(f"P{i}")
        ids.append(p.client_id)
    check(len(set(ids)) == len(ids), f"client IDs are not distinct: {ids}")


@case(
    "1.1.4",
    "a message before _client.register registers implicitly; the ack comes first",
    section="§6.3",
)
async def implicit_register(ctx: Context) -> None:
    a = await ctx.connect("A")
    topic, body = a.barrier_request()  # _client.ping, or another request the server answers
    fut = a.waiter("c-implicit")
    await a.send(a.envelope("request", topic, body, corr="c-implicit"))
    res = await a.wait(fut, f"{topic} sent before registering")
    acks = [m for m in a.inbox if m.topic == "_internal.client.registered"]
    check(len(acks) == 1, f"expected one implicit registration ack, got {len(acks)}")
    check(acks[0].received <= res.received, "the answer arrived before the registration ack")
    check(
        res.type == "response" or topic.startswith("cfbarrier."),
        f"{topic} before registering answered {res.short()}",
    )


@case(
    "1.1.5",
    "a second _client.register gets ALREADY_REGISTERED and the connection survives",
    section="§6.2 item 3",
)
async def already_registered(ctx: Context) -> None:
    a = await ctx.peer("A")
    mid = await a.publish("_client.register", {})
    m = await expect_error(a, {mid}, "a second _client.register")
    check(m.error_code == "ALREADY_REGISTERED", f"expected ALREADY_REGISTERED, got {m.short()}")
    await a.ping()


@case(
    "1.1.6",
    "the registration ack's correlationID is the register event's messageID",
    section="§6.2 item 2",
    level=Level.SHOULD,
)
async def ack_correlation(ctx: Context) -> None:
    a = await ctx.connect("A")
    env = a.envelope("event", "_client.register", {})
    await a.send(env)
    m = await a.expect(lambda m: m.topic == "_internal.client.registered", "the ack")
    check(m.corr == env["header"]["messageID"], f"ack correlationID is {m.corr!r}")


@case(
    "1.1.7",
    "a register body that breaks RegisterBody gets BAD_MESSAGE and leaves the connection "
    "unregistered",
    section="§6.2 item 4",
)
async def bad_register_body(ctx: Context) -> None:
    a = await ctx.connect("A")
    env = a.envelope("event", "_client.register", {"pageSessionID": 5})
    await a.send(env)
    m = await expect_error(a, {env["header"]["messageID"]}, "a register with pageSessionID 5")
    check(m.error_code == "BAD_MESSAGE", f"answered {m.short()}")
    acks = a.take(lambda m: m.topic == "_internal.client.registered")
    check(not acks, "an invalid _client.register registered the connection")
    ack = await a.register({"pageSessionID": "ok"})
    check(ack.get("pageSessionID") == "ok", f"the valid register after it got {ack!r}")


@case(
    "1.2.1", "resume with a valid token after disconnect keeps the client ID", section="§6.4 item 3"
)
async def resume_valid(ctx: Context) -> None:
    a = await ctx.peer("A")
    cid, token = a.client_id, a.ack_field("resumeToken")
    await a.close()
    b = await ctx.connect("A'")
    ack = await b.register({"brokerClientID": cid, "resumeToken": token})
    check(
        ack.get("brokerClientID") == cid,
        f"resumed with ID {ack.get('brokerClientID')!r}, not {cid!r}",
    )
    check(ack.get("resumed") is True, f"ack says resumed={ack.get('resumed')!r}")
    check(isinstance(ack.get("resumeToken"), str) and ack["resumeToken"], "no fresh resumeToken")
    await b.ping()


@case(
    "1.2.2",
    "resume while the old connection is open closes the old one with 4009",
    section="§6.4 item 3; §12.2",
)
async def resume_supersede(ctx: Context) -> None:
    a = await ctx.peer("A")
    cid, token = a.client_id, a.ack_field("resumeToken")
    b = await ctx.connect("A'")
    ack = await b.register({"brokerClientID": cid, "resumeToken": token})
    check(
        ack.get("brokerClientID") == cid and ack.get("resumed") is True,
        f"resume while connected answered {ack!r}",
    )
    code = await a.wait_closed(5)
    check(code == 4009, f"old connection closed with {code}, expected 4009")
    await b.ping()


@case(
    "1.2.3",
    "resume with an invalid token gives a fresh ID, resumed=false, and no error",
    section="§6.4 item 4",
)
async def resume_invalid(ctx: Context) -> None:
    victim = await ctx.peer("V")
    a = await ctx.connect("A")
    ack = await a.register({"brokerClientID": victim.client_id, "resumeToken": "forged.token"})
    check(ack.get("resumed") is False, f"forged token accepted: {ack!r}")
    check(
        ack.get("brokerClientID") != victim.client_id, "forged token took over another client's ID"
    )
    await expect_none(a, lambda m: m.type == "error", "invalid resume produced an error")
    await victim.ping()


@case("1.2.4", "generated resume tokens never hijack an identity", section="§6.4 items 2, 4")
async def resume_fuzz(ctx: Context) -> None:
    victim = await ctx.peer("V")
    vid = victim.client_id
    real = str(victim.ack_field("resumeToken"))

    tokens = st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda i, c: real[:i] + c + real[i + 1 :],
            st.integers(0, max(0, len(real) - 1)),
            st.sampled_from("A0_-.=x"),
        ).filter(lambda t: t != real),
        st.just(real[:-1]),
        st.just(real + "x"),
    )

    async def example(token: str) -> None:
        a = await ctx.connect("A")
        try:
            ack = await a.register({"brokerClientID": vid, "resumeToken": token})
            check(
                not (ack.get("brokerClientID") == vid or ack.get("resumed") is True),
                f"token {token!r} resumed {vid!r}: {ack!r}",
            )
        finally:
            await a.close()
            ctx.peers.remove(a)

    await ctx.given(tokens, example, examples=max(5, ctx.config.examples // 2))
    await victim.ping()


@case(
    "1.2.5", "a valid token for one client ID does not resume another ID", section="§6.4 items 2, 4"
)
async def resume_wrong_id(ctx: Context) -> None:
    a, victim = await ctx.peer("A"), await ctx.peer("V")
    token = a.ack_field("resumeToken")
    b = await ctx.connect("B")
    ack = await b.register({"brokerClientID": victim.client_id, "resumeToken": token})
    check(
        ack.get("resumed") is False and ack.get("brokerClientID") != victim.client_id,
        f"A's token resumed V's ID: {ack!r}",
    )
    await victim.ping()
    await a.ping()


@case(
    "1.2.6",
    "expired, forged and other-ID tokens all give a fresh ID, resumed=false, alike acks",
    section="§6.4 item 4",
    fixture=True,
)
async def resume_expired(ctx: Context) -> None:
    victim, other = await ctx.peer("V"), await ctx.peer("O")
    vid, oid = victim.client_id, other.client_id
    m = await fixture_call(victim, "conformance.expired-token", {})
    expired = m.body.get("resumeToken") if isinstance(m.body, dict) else None
    check(isinstance(expired, str), f"conformance.expired-token answered {m.short()}")
    attempts = {
        "expired": {"brokerClientID": vid, "resumeToken": expired},
        "forged": {"brokerClientID": vid, "resumeToken": "forged.token"},
        "other ID": {
            "brokerClientID": oid,
            "resumeToken": victim.ack_field("resumeToken"),
        },
    }
    members = {}
    for label, body in attempts.items():
        p = await ctx.connect(label)
        ack = await p.register(body)
        check(
            ack.get("resumed") is False and ack.get("brokerClientID") not in (vid, oid),
            f"{label} token: ack {ack!r}, want a fresh ID and resumed: false",
        )
        members[label] = sorted(ack)
        await expect_none(p, lambda m: m.type == "error", f"the {label} token produced an error")
    check(
        len({tuple(v) for v in members.values()}) == 1,
        f"the acks differ in their members, revealing which check failed: {members}",
    )
    await victim.ping()  # none of them superseded the victim
    await other.ping()


@case(
    "1.3.1",
    "presence events: registered, deregistered superseded before registered resumed, closed",
    section="§6.5 items 1-3",
    fixture=True,
)
async def presence(ctx: Context) -> None:
    a = await ctx.peer("A")
    cid, token = a.client_id, a.ack_field("resumeToken")
    b = await ctx.connect("B")
    ack = await b.register({"brokerClientID": cid, "resumeToken": token})
    check(ack.get("resumed") is True, f"a live resume was refused: {ack!r} (case 1.2.2)")
    await a.wait_closed(10)
    await b.close()
    c = await ctx.peer("C")
    want = [
        ("_internal.client.registered", None),
        ("_internal.client.deregistered", "superseded"),
        ("_internal.client.registered", True),
        ("_internal.client.deregistered", "closed"),
    ]
    got: list[tuple[Any, Any]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # presence events reach handlers asynchronously
        m = await fixture_call(c, "conformance.presence", {"clientID": cid})
        events: Any = m.body.get("events") if isinstance(m.body, dict) else None
        check(isinstance(events, list), f"conformance.presence answered {m.short()}")
        got = [
            (e.get("topic"), e["body"].get("reason") if "deregistered" in str(e.get("topic"))
             else e["body"].get("resumed"))
            for e in events if isinstance(e, dict) and isinstance(e.get("body"), dict)
        ]  # fmt: skip
        if len(got) >= len(want):
            break
        await asyncio.sleep(0.1)
    # resumed: false is as good as absent; a close may carry a reason the broker documents
    # (§6.5 item 2: the reference says "closed by client: 1000"), just not superseded/shutdown
    norm = [(t, None if v is False else v) for t, v in got]
    if (
        len(norm) == 4
        and isinstance(norm[3][1], str)
        and norm[3][1] not in ("superseded", "shutdown")
    ):
        norm[3] = (norm[3][0], "closed")
    check(norm == want, f"presence events for {cid}: {got}, want {want}")
