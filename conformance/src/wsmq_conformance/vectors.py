"""Cases generated from the language-neutral vector files (spec/vectors/*.json, spec §15.2).

- ``envelopes.json``: every vector becomes case ``6.3.<vector id>``.  An invalid one: send its
  exact frame and expect the vector's ``error`` code, ``BAD_MESSAGE`` when it names none
  (correlated as §3.5 item 2 says), with the connection surviving, except that an invalid frame
  whose type reads as ``response`` or ``error`` MUST be dropped without an answer (§3.5 item
  3).  A valid one MUST be accepted (§15.2), shown by the positive answer it implies
  (:func:`expect_accepted`).
- ``semantics.json``: every ``client-to-broker`` vector becomes case ``6.6.<vector id>``: send
  its ``setup`` frames, then its frame, and check ``expect`` (``error`` code; ``accept``: the
  positive answer the frame implies; ``drop``: no answer at all).
- ``bodies.json``: every vector of a body a *client* sends (``RegisterBody``,
  ``SubscribeBody``, ``UnsubscribeBody``, ``CancelBody``, and ``ErrorBody`` as the body of a
  client's error answer) becomes a case: sent on its topic, a valid body gets
  its normal answer, an invalid one its error (§10) or, as an answer, is dropped (§3.5 item 3).
  Bodies only a server sends are judged by the suite's own schema checks of every frame.
  (Case IDs ``6.8.<vector id>``.)
- ``topics.json``: every vector becomes case ``6.7.<vector id>``: a ``TopicName`` is published
  and requested, a ``TopicPattern`` subscribed; a valid one gets no error (a subscribe is
  answered ``subscribed: true``), an invalid one ``BAD_TOPIC`` (``BAD_MESSAGE`` for a lone
  surrogate, which refuses the whole frame, correlated to it: spec §2.2 item 7).

Vectors are found in ``--vectors DIR``, else ``$WSMQ_VECTORS``, else ``spec/vectors`` of the
checkout the package lives in, else the copy shipped inside the package (``wsmq_conformance/
spec``, put there when the wheel is built), else ``spec/vectors`` in the working directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .model import REGISTRY, Case, Level, add_case

__all__ = [
    "expect_accepted",
    "find_vectors_dir",
    "load_topic_vectors",
    "load_vectors",
    "register_vector_cases",
]


def find_vectors_dir(explicit: str | None = None) -> Path | None:
    candidates = [explicit, os.environ.get("WSMQ_VECTORS")]
    here = Path(__file__).resolve()
    candidates += [str(p / "spec" / "vectors") for p in here.parents]
    candidates.append(str(here.parent / "spec" / "vectors"))  # shipped in the wheel
    candidates.append(str(Path.cwd() / "spec" / "vectors"))
    for c in candidates:
        if c and (Path(c) / "envelopes.json").is_file():
            return Path(c)
    return None


def load_vectors(name: str, explicit: str | None = None) -> list[dict[str, Any]]:
    d = find_vectors_dir(explicit)
    if d is None or not (d / name).is_file():
        return []
    data = json.loads((d / name).read_text(encoding="utf-8"))
    key = "body" if name == "bodies.json" else "frame"
    return [
        v
        for v in data.get("vectors", [])
        if v.get("id") and key in v and (key == "body" or isinstance(v["frame"], str))
    ]


def load_topic_vectors(explicit: str | None = None) -> list[dict[str, Any]]:
    """The vectors of ``topics.json`` (they carry a ``topic``, not a ``frame``)."""
    d = find_vectors_dir(explicit)
    if d is None or not (d / "topics.json").is_file():
        return []
    data = json.loads((d / "topics.json").read_text(encoding="utf-8"))
    return [v for v in data.get("vectors", []) if isinstance(v.get("topic"), str) and v.get("id")]


def _section(v: dict[str, Any]) -> str:
    s = str(v.get("section") or "15.2")
    return s if s.startswith("§") else f"§{s}"


async def expect_accepted(ctx: Any, a: Any, frame: str, what: str) -> None:
    """Send ``frame`` (a valid message) on ``a`` and wait for the positive answer it implies,
    so that a server that ignores the frame does not pass for accepting it:

    - an answer (``response``/``error``): the server never sent that correlation, so one
      ``UNKNOWN_CORRELATION`` about its messageID (§8.7 item 2), where an invalid answer would
      be dropped;
    - a request: its answer; a ``response`` for a control request, anything but BAD_MESSAGE
      otherwise (NO_HANDLER when nobody serves the topic);
    - ``_client.register`` on a fresh connection: the ack (``resumed`` false for a token the
      server never issued);
    - any other reserved event: an error other than BAD_MESSAGE (FORBIDDEN, §5.3);
    - an event with a wildcard topic: BAD_TOPIC, not BAD_MESSAGE (§5.1 item 4);
    - any other event: its delivery back to ``a`` through an ``echo`` subscription, body
      unchanged and ``source`` set to ``a``'s ID (§3.2, §7.4).
    """
    from .cases.common import check, expect_error, json_equal, strict_json

    obj = strict_json(frame)
    h = obj["header"]
    t, topic, mid = h["type"], h["topic"], h["messageID"]
    if t in ("response", "error"):
        await a.send_raw(frame)
        e = await expect_error(a, {mid}, what)
        check(e.error_code == "UNKNOWN_CORRELATION", f"{what}: answered {e.short()}")
    elif t == "request":
        fut = a.waiter(h["correlationID"])
        await a.send_raw(frame)
        m = await a.wait(fut, what)
        if topic.startswith("_client."):
            check(m.type == "response", f"{what}: answered {m.short()}")
        else:
            check(m.error_code != "BAD_MESSAGE", f"{what}: rejected {m.short()}")
    elif topic == "_client.register":
        await a.send_raw(frame)
        ack = await a.wait_ack()
        body = obj.get("body") if isinstance(obj.get("body"), dict) else {}
        if "brokerClientID" in body:
            check(
                ack.get("resumed") is False and ack.get("brokerClientID") != body["brokerClientID"],
                f"{what}: a token the server never issued resumed {ack!r}",
            )
    elif topic.startswith("_"):
        await a.send_raw(frame)
        e = await expect_error(a, {mid}, what)
        check(e.error_code not in ("BAD_MESSAGE", None), f"{what}: answered {e.short()}")
    elif any(tok in ("*", ">") for tok in topic.split(".")):
        await a.send_raw(frame)
        e = await expect_error(a, {mid}, what)
        check(e.error_code == "BAD_TOPIC", f"{what}: answered {e.short()}")
    else:
        await a.subscribe(topic, echo=True)
        await a.send_raw(frame)
        m = await a.expect(lambda m: m.type == "event" and m.topic == topic, f"{what} delivered")
        check(json_equal(m.body, obj.get("body")), f"{what}: delivered body {m.body!r}")
        check(m.header.get("source") == a.client_id, f"{what}: delivered {m.short()}")


def _fresh_needed(frame: str) -> bool:
    from .cases.common import readable_type, strict_json

    if readable_type(frame) != "event":
        return False
    return bool(strict_json(frame)["header"].get("topic") == "_client.register")


def _envelope_case(v: dict[str, Any]) -> Case:
    frame: str = v["frame"]
    valid = v.get("valid") is True

    async def run(ctx: Any) -> None:
        from .cases.common import (
            candidates_for,
            expect_code_for_frame,
            expect_silence,
            readable_type,
        )

        if valid:
            if _fresh_needed(frame):
                a = await ctx.connect("A")
            else:
                a = await ctx.peer("A")
                await a.ping()
                a.inbox.clear()
            await expect_accepted(ctx, a, frame, f"valid vector {v['id']}")
            return
        a = await ctx.peer("A")
        if readable_type(frame) in ("response", "error"):
            await a.send_raw(frame)
            await expect_silence(a, "an invalid answer (§3.5 item 3)")
            return
        want = v.get("error") or "BAD_MESSAGE"
        await expect_code_for_frame(a, frame, candidates_for(frame), want, f"vector {v['id']}")

    kind = "valid" if valid else "invalid"
    return Case(
        id=f"6.3.{v['id']}",
        description=f"{kind} envelope vector {v['id']}: {v.get('description', '')}"[:160],
        section=_section(v) + ("; §15.2" if valid else ""),
        level=Level.MUST,
        fn=run,
    )


def _semantics_case(v: dict[str, Any]) -> Case:
    frame: str = v["frame"]
    setup: list[str] = [f for f in v.get("setup") or [] if isinstance(f, str)]
    expect: dict[str, Any] = v.get("expect") or {}

    async def run(ctx: Any) -> None:
        from .cases.common import (
            candidates_for,
            expect_code_for_frame,
            expect_silence,
        )

        a = await ctx.connect("A")
        if setup:  # the setup registers, explicitly or implicitly (§6.3)
            for f in setup:
                await a.send_raw(f)
            await a.wait_ack()
        elif not _fresh_needed(frame):
            await a.register()
        if a.ack is not None:
            await a.ping()
            a.inbox.clear()
        what = f"vector {v['id']}"
        if "error" in expect:
            await expect_code_for_frame(a, frame, candidates_for(frame), expect["error"], what)
            return
        if expect.get("drop"):
            await a.send_raw(frame)
            await expect_silence(a, what)
        else:
            await expect_accepted(ctx, a, frame, what)

    return Case(
        id=f"6.6.{v['id']}",
        description=f"semantics vector {v['id']}: {v.get('description', '')}"[:160],
        section=_section(v) + "; §15.2",
        level=Level.MUST,
        fn=run,
    )


CLIENT_BODIES = {
    "RegisterBody": ("event", "_client.register"),
    "SubscribeBody": ("request", "_client.subscribe"),
    "UnsubscribeBody": ("request", "_client.unsubscribe"),
    "CancelBody": ("event", "_client.cancel"),
    "ErrorBody": ("error", ""),
}


def _body_case(v: dict[str, Any]) -> Case:
    schema: str = v["schema"]
    body: Any = v["body"]
    valid = v.get("valid") is True
    type_, topic = CLIENT_BODIES[schema]

    async def run(ctx: Any) -> None:
        from .cases.callback import start_callback
        from .cases.common import check, expect_error, expect_silence

        what = f"body vector {v['id']} ({schema})"
        if schema == "ErrorBody":  # as the body of the client's error answer (§11.1)
            ctx.need_fixture()
            a = await ctx.peer("A")
            fut, req = await start_callback(ctx, a, "body", {}, timeout_ms=400)
            await a.send(a.envelope("error", req.corr, body, corr=req.corr))
            m = await a.wait(fut, "conformance.callback")
            # §11.1: an error without code is the seed clients' thrown error, HANDLER_ERROR
            want = body["error"].get("code", "HANDLER_ERROR") if valid else "TIMEOUT"
            check(m.error_code == want, f"{what}: callback settled with {m.short()}, want {want}")
            return
        if topic == "_client.register":
            a = await ctx.connect("A")
        else:
            a = await ctx.peer("A")
        if type_ == "request":
            m = await a.request(topic, body)
            if valid:
                check(m.type == "response", f"{what}: answered {m.short()}")
            else:  # a bad pattern is BAD_TOPIC by §7.1 item 1, the schema's verdict otherwise
                ok = {v.get("error") or "BAD_MESSAGE", "BAD_TOPIC"}
                check(m.error_code in ok, f"{what}: answered {m.short()}, want one of {ok}")
            return
        env = a.envelope(type_, topic, body)
        await a.send(env)
        if valid and topic == "_client.register":
            ack = await a.wait_ack()
            if "brokerClientID" in body:
                check(ack.get("resumed") is False, f"{what}: forged token resumed: {ack!r}")
        elif valid:
            await expect_silence(a, what)
        else:
            e = await expect_error(a, {env["header"]["messageID"]}, what)
            check(e.error_code == (v.get("error") or "BAD_MESSAGE"), f"{what}: got {e.short()}")
            if topic == "_client.register":
                check(not a.take(lambda m: m.topic == "_internal.client.registered"), what)

    return Case(
        id=f"6.8.{v['id']}",
        description=f"{'valid' if valid else 'invalid'} {schema} vector {v['id']}: "
        f"{v.get('description', '')}"[:160],
        section=f"§10; {_section(v)}",
        level=Level.MUST,
        fn=run,
        fixture=schema == "ErrorBody",
    )


def _topic_frame(kind: str, topic: str, body: Any, corr: str) -> str:
    header: dict[str, Any] = {"messageID": corr, "type": kind, "topic": topic, "timestamp": 1}
    if kind == "request":
        header["correlationID"] = corr
    return json.dumps({"header": header, "body": body})  # ASCII: a lone surrogate is escaped


def _refusal(corr: str) -> Any:
    """An error about ``corr`` that refuses its topic (what a valid one must not get)."""
    return lambda m: m.type == "error" and m.corr == corr and m.error_code in _REFUSALS


def _response(corr: str) -> Any:
    return lambda m: m.type == "response" and m.corr == corr


_REFUSALS = ("BAD_TOPIC", "BAD_MESSAGE")


def _topic_case(v: dict[str, Any]) -> Case:
    topic: str = v["topic"]
    pattern = v.get("schema") == "TopicPattern"
    valid = v.get("valid") is True
    codes = {str(v.get("error") or "BAD_TOPIC")}
    if any(0xD800 <= ord(c) <= 0xDFFF for c in topic):
        # No UTF-8 form: the frame is refused whole (§2.2 item 7), answered to its IDs (§3.5).
        codes = {"BAD_MESSAGE"}

    async def run(ctx: Any) -> None:
        from .cases.common import check, expect_error, expect_none

        a = await ctx.peer("A")
        if pattern:
            frames = [_topic_frame("request", "_client.subscribe", {"topic": topic}, "t-sub")]
        else:
            frames = [_topic_frame("event", topic, None, "t-pub")]
            frames.append(_topic_frame("request", topic, None, "t-req"))
        for frame in frames:
            corr = json.loads(frame)["header"]["messageID"]
            await a.send_raw(frame)
            what = f"vector {v['id']} ({corr})"
            if valid:  # a request may get NO_HANDLER: only the topic must not be refused
                await expect_none(a, _refusal(corr), what)
                if pattern:
                    got = a.take(_response(corr))
                    check(
                        bool(got) and got[0].body == {"topic": topic, "subscribed": True},
                        f"{what}: want subscribed: true, got {[m.short() for m in got]}",
                    )
            else:
                m = await expect_error(a, {corr}, what)
                check(m.error_code in codes, f"{what}: want {sorted(codes)}, got {m.short()}")
        await a.ping()

    return Case(
        id=f"6.7.{v['id']}",
        description=f"topic vector {v['id']}: {v.get('description', '')}"[:160],
        section=_section(v),
        level=Level.MUST,
        fn=run,
    )


def register_vector_cases(explicit: str | None = None) -> int:
    """Add the vector cases (idempotent); returns how many cases the vector files yield."""
    cases = [_envelope_case(v) for v in load_vectors("envelopes.json", explicit)]
    cases += [
        _semantics_case(v)
        for v in load_vectors("semantics.json", explicit)
        if v.get("direction") == "client-to-broker"
    ]
    cases += [
        _body_case(v)
        for v in load_vectors("bodies.json", explicit)
        if v.get("schema") in CLIENT_BODIES
    ]
    cases += [_topic_case(v) for v in load_topic_vectors(explicit)]
    for c in cases:
        if c.id not in REGISTRY:
            add_case(c)
    return len(cases)
