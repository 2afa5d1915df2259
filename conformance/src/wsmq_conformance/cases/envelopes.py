"""Category 2: the envelope: field rules, forward compatibility, bodies, server frame validity."""

from __future__ import annotations

from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake
from websockets.typing import Subprotocol

from .. import sections as S
from ..context import Context
from ..model import CaseFailed, Level, case
from ..strategies import json_values
from .common import check, json_equal

__all__ = ["JS_SPELLINGS"]

JS_SPELLINGS: list[object] = [3.299974200384027e16, {"n": [1e300, -0.0, 1e21, 2.5e-7]}]


@case(
    "2.1.1",
    "a response carries the request's correlationID and topic = correlationID",
    section=S.ENVELOPE,
    fixture=True,
)
async def response_header(ctx: Context) -> None:
    a = await ctx.peer("A")
    m = await a.request("conformance.echo", {"x": 1}, corr="corr-2.1.1")
    check(m.type == "response", f"echo answered {m.short()}")
    check(m.corr == "corr-2.1.1", f"response correlationID is {m.corr!r}")
    check(m.topic == "corr-2.1.1", f"response topic is {m.topic!r}, must equal the correlationID")


@case("2.1.2", "unknown header fields are ignored", section=S.ENVELOPE, fixture=True)
async def unknown_fields(ctx: Context) -> None:
    a = await ctx.peer("A")
    env = a.envelope("request", "conformance.echo", {"y": 2}, corr="c-2.1.2", xFuture={"n": [1]})
    env["header"]["priority"] = 9
    env["trailer"] = {"unknown": "top-level member"}  # §3.1: other top-level members ignored
    fut = a.waiter("c-2.1.2")
    await a.send(env)
    m = await a.wait(fut, "a request with unknown header fields and top-level members")
    check(
        m.type == "response" and m.body == {"y": 2},
        f"extra header fields broke the request: {m.short()}",
    )


@case("2.1.3", "an absent body is null", section=S.ENVELOPE, fixture=True)
async def absent_body(ctx: Context) -> None:
    a = await ctx.peer("A")
    m = await a.request("conformance.echo")
    check(m.type == "response" and m.body is None, f"echo of an absent body answered {m.short()}")


@case(
    "2.1.4",
    "any JSON body round-trips unchanged through conformance.echo",
    section=f"{S.ENVELOPE}; {S.FIXTURE}",
    fixture=True,
)
async def echo_bodies(ctx: Context) -> None:
    a = await ctx.peer("A")

    async def example(body: Any) -> None:
        m = await a.request("conformance.echo", body)
        check(m.type == "response", f"echo answered {m.short()}")
        check(
            json_equal(m.body, body),
            f"body changed: sent {body!r}, got {m.body!r}",
        )

    # the spec's example of a number other languages spell differently (3.299974200384027e16
    # comes back as 32999742003840270 from JavaScript and Go), and nested variants of it
    await ctx.given(json_values(), example, explicit=JS_SPELLINGS)


@case(
    "2.1.5",
    "a client-supplied source header is overwritten with the sender's ID",
    section=S.ENVELOPE,
)
async def source_overwritten(ctx: Context) -> None:
    a, b = await ctx.peer("A"), await ctx.peer("B")
    t = ctx.unique() + ".src"
    await b.subscribe(t)
    await a.publish(t, {"n": 1}, source="someone-else")
    m = await b.expect(lambda m: m.topic == t, f"the event on {t}")
    check(
        m.header.get("source") == a.client_id,
        f"delivered source is {m.header.get('source')!r}, expected sender {a.client_id!r}",
    )


@case(
    "2.2.1",
    "messageIDs of server frames are unique per connection",
    section=S.ENVELOPE,
    fixture=True,
)
async def unique_ids(ctx: Context) -> None:
    a = await ctx.peer("A")
    t = ctx.unique() + ".ids"
    await a.subscribe(t)
    await a.call("conformance.publish", {"topic": t, "body": {}, "count": 20})
    # the events and the answer take different paths through a cluster: wait for each event
    seen = [
        (await a.expect(lambda m: m.topic == t, f"event {i + 1} of 20")).msg_id for i in range(20)
    ]
    check(len(set(seen)) == len(seen), f"duplicate messageIDs among {seen}")


@case("2.3.1", "the broker selects the subprotocol wsmq.v1 when offered", section="§2.1")
async def subprotocol(ctx: Context) -> None:
    ws = await connect(ctx.url, subprotocols=[Subprotocol("wsmq.v1")], open_timeout=10)
    try:
        check(ws.subprotocol == "wsmq.v1", f"selected subprotocol {ws.subprotocol!r}")
    finally:
        await ws.close()


@case(
    "2.3.2",
    "a client offering only unknown subprotocols is accepted",
    section="§2.1",
    level=Level.SHOULD,
)
async def unknown_subprotocol(ctx: Context) -> None:
    try:
        ws = await connect(ctx.url, subprotocols=[Subprotocol("x-unknown.v9")], open_timeout=10)
    except InvalidHandshake as exc:
        raise CaseFailed(f"handshake refused: {exc}") from exc
    except Exception as exc:
        raise CaseFailed(f"handshake failed: {exc!r}") from exc
    await ws.close()


@case(
    "2.9.1",
    "every frame the server sent during the run was a valid wsmq/1 envelope",
    section=S.ENVELOPE,
    final=True,
)
async def all_frames_valid(ctx: Context) -> None:
    check(ctx.log.frames > 0, "no frames were received during the run")
    bad = ctx.log.violations
    check(not bad, f"{len(bad)} invalid frame(s), first: {bad[0] if bad else ''}")
