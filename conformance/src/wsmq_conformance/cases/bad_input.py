"""Category 6: bad input and reserved topics; the connection survives where the spec says so."""

from __future__ import annotations

import json

from .. import sections as S
from ..context import Context
from ..model import CaseFailed, Unimplemented, case
from ..peer import Peer
from ..strategies import Mutation, bad_envelopes, expected_code
from .common import candidates_for, check, expect_code_for_frame, expect_error, expect_none

__all__: list[str] = []


@case(
    "6.1.1",
    'malformed JSON gets BAD_MESSAGE (correlationID "_invalid"); connection survives',
    section=f"{S.FRAMES}; {S.ERRORS}",
)
async def bad_json(ctx: Context) -> None:
    a = await ctx.peer("A")
    for frame in ('{"header": {"messageID": "m1", "type": "event"', "not json at all", "{}}"):
        await expect_code_for_frame(a, frame, {"_invalid"}, "BAD_MESSAGE")


@case("6.1.2", "a binary frame gets BAD_MESSAGE; connection survives", section=S.FRAMES)
async def binary_frame(ctx: Context) -> None:
    a = await ctx.peer("A")
    await expect_code_for_frame(a, b'{"header": {}}', {"_invalid"}, "BAD_MESSAGE", "binary frame")


@case(
    "6.1.3",
    'an envelope without a readable messageID is answered with correlationID "_invalid"',
    section=S.ERRORS,
)
async def no_message_id(ctx: Context) -> None:
    a = await ctx.peer("A")
    frame = '{"header": {"type": "event", "topic": "a.b", "timestamp": 1}, "body": 1}'
    await expect_code_for_frame(a, frame, {"_invalid"}, "BAD_MESSAGE")


@case(
    "6.1.4",
    "a request without correlationID gets BAD_MESSAGE correlated to its messageID",
    section=f"{S.ENVELOPE}; {S.ERRORS}",
)
async def request_without_corr(ctx: Context) -> None:
    a = await ctx.peer("A")
    frame = (
        '{"header": {"messageID": "m-nocorr", "type": "request", "topic": "a.b", "timestamp": 1}}'
    )
    await expect_code_for_frame(a, frame, {"m-nocorr"}, "BAD_MESSAGE")


@case("6.1.5", "an unknown message type gets BAD_MESSAGE", section=S.ENVELOPE)
async def unknown_type(ctx: Context) -> None:
    a = await ctx.peer("A")
    frame = '{"header": {"messageID": "m-type", "type": "notify", "topic": "a.b", "timestamp": 1}}'
    await expect_code_for_frame(a, frame, {"m-type"}, "BAD_MESSAGE")


@case(
    "6.2.1",
    "generated near-miss envelopes each get an error, and the connection survives",
    section=f"{S.ENVELOPE}; {S.ERRORS}; {S.TOPICS}",
    timeout=90,
)
async def generated_bad(ctx: Context) -> None:
    # §12.1: a server may close a connection after ~20 protocol errors in 10 s (4029), so the
    # examples rotate to a fresh connection every few frames and stay under any sane budget.
    state: dict[str, Peer] = {"a": await ctx.peer("A")}
    used = [0]

    async def fresh() -> Peer:
        old = state["a"]
        await old.close()
        ctx.peers.remove(old)
        state["a"] = await ctx.peer("A")
        used[0] = 0
        return state["a"]

    async def example(mut: Mutation) -> None:
        kind, frame = mut
        if state["a"].is_closed or used[0] >= 5:
            await fresh()
        used[0] += 1
        what = f"{kind} frame {frame[:120]!r}"
        await expect_code_for_frame(
            state["a"], frame, candidates_for(frame), expected_code(kind, frame), what
        )

    await ctx.given(bad_envelopes(), example)


@case(
    "6.4.1",
    "publishing to a reserved topic is FORBIDDEN; nothing is delivered",
    section="§5.3 item 3",
)
async def reserved_publish(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    for t in ("_internal.client.registered", "_secret.x", "_client.nope"):
        mid = await a.publish(t, {"evil": True})
        m = await expect_error(a, {mid}, f"publish to {t}")
        check(m.error_code == "FORBIDDEN", f"publish to {t} answered {m.short()}")
    await a.ping()
    await expect_none(
        b,
        lambda m: m.type == "event" and isinstance(m.body, dict) and bool(m.body.get("evil")),
        "a forged reserved event was delivered",
    )


@case("6.4.2", "subscribing to a reserved topic is FORBIDDEN", section="§5.3 items 3-4")
async def reserved_subscribe(ctx: Context) -> None:
    a = await ctx.peer("A")
    for t in ("_internal.client.registered", "_internal.>", "_x"):
        m = await a.request("_client.subscribe", {"topic": t})
        check(
            m.type == "error" and m.error_code == "FORBIDDEN",
            f"subscribe {t!r} answered {m.short()}",
        )


@case("6.4.3", "a request to a reserved non-control topic is FORBIDDEN", section="§5.3 items 2-3")
async def reserved_request(ctx: Context) -> None:
    a = await ctx.peer("A")
    for t in ("_internal.client.registered", "_secret.rpc", "_client.unknown"):
        m = await a.request(t, {})
        check(
            m.type == "error" and m.error_code == "FORBIDDEN", f"request {t!r} answered {m.short()}"
        )


@case(
    "6.5.1",
    "error bodies carry {error: {code, message}} with a well-formed code",
    section=S.ERROR_BODY,
)
async def error_body_shape(ctx: Context) -> None:
    a = await ctx.peer("A")
    if ctx.caps.no_handler:
        m = await a.request(ctx.unique("nohandler") + ".x", {})
    else:  # any error will do: the one about a frame that is not JSON (§2.2 item 4)
        await a.send_raw("not json")
        try:
            m = await a.expect(lambda m: m.type == "error", "an error about a non-JSON frame")
        except CaseFailed:
            raise Unimplemented("the server sent no error envelope to judge") from None
    check(m.type == "error", f"expected an error, got {m.short()}")
    err = m.body.get("error") if isinstance(m.body, dict) else None
    check(
        isinstance(err, dict)
        and isinstance(err.get("code"), str)
        and isinstance(err.get("message"), str),
        f"error body {m.body!r}",
    )


@case("6.1.6", "a text frame with invalid UTF-8 closes the connection with 1007", section="§2.2")
async def invalid_utf8(ctx: Context) -> None:
    a = await ctx.peer("A")
    try:
        await a.ws.send(b'{"header": "\xff\xfe"}', text=True)
    except Exception as exc:
        raise CaseFailed(f"could not send the frame: {exc!r}") from exc
    code = await a.wait_closed(5)
    check(code == 1007, f"closed with {code}, expected 1007")


@case(
    "6.4.4",
    "a control topic sent as the wrong message type is FORBIDDEN and not processed",
    section="§5.3 items 2-3",
)
async def control_wrong_type(ctx: Context) -> None:
    a = await ctx.peer("A")
    for topic, body in (
        ("_client.register", {}),
        ("_client.cancel", {"correlationID": "x"}),
    ):
        m = await a.request(topic, body)
        check(m.error_code == "FORBIDDEN", f"a request on {topic} answered {m.short()}")
    for topic, body in (
        ("_client.subscribe", {"topic": ctx.unique()}),
        ("_client.ping", {}),
    ):
        mid = await a.publish(topic, body)
        m = await expect_error(a, {mid}, f"an event on {topic}")
        check(m.error_code == "FORBIDDEN", f"an event on {topic} answered {m.short()}")
    await expect_none(
        a,
        lambda m: m.topic == "_internal.client.registered" or m.type == "response",
        "a control message of the wrong type was processed",
    )


@case("6.1.7", "a boolean ttl on a request gets BAD_MESSAGE", section="§3.2")
async def boolean_ttl(ctx: Context) -> None:
    a = await ctx.peer("A")
    env = a.envelope("request", "_client.ping", {}, corr="c-bool-ttl")
    env["header"]["ttl"] = True
    frame = json.dumps(env)
    await expect_code_for_frame(a, frame, candidates_for(frame), "BAD_MESSAGE", "ttl: true")
