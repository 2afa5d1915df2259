"""Cases generated from the language-neutral vector files (spec/vectors/*.json, spec §15.2).

- ``envelopes.json``: every vector with ``"valid": false`` becomes case ``6.3.<vector id>``:
  send its exact frame and expect the vector's ``error`` code, ``BAD_MESSAGE`` when it names
  none (correlated as §3.5 item 2 says), with the connection surviving, except that an invalid
  frame whose type reads as ``response`` or ``error`` MUST be dropped without an answer (§3.5
  item 3).
- ``semantics.json``: every ``client-to-broker`` vector becomes case ``6.6.<vector id>``: send
  its ``setup`` frames, then its frame, and check ``expect`` (``error`` code, ``accept`` = no
  error about it, ``drop`` = no answer at all).
- ``topics.json``: every vector becomes case ``6.7.<vector id>``: a ``TopicName`` is published
  and requested, a ``TopicPattern`` subscribed; a valid one gets no error (a subscribe is
  answered ``subscribed: true``), an invalid one ``BAD_TOPIC`` (or ``BAD_MESSAGE`` for a lone
  surrogate, spec §2.2 item 7).

Vectors are found in ``--vectors DIR``, else ``$WSMQ_VECTORS``, else ``spec/vectors`` above the
package or in the working directory; without them the suite still runs its own bad input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .model import REGISTRY, Case, Level, add_case

__all__ = ["find_vectors_dir", "load_topic_vectors", "load_vectors", "register_vector_cases"]


def find_vectors_dir(explicit: str | None = None) -> Path | None:
    candidates = [explicit, os.environ.get("WSMQ_VECTORS")]
    here = Path(__file__).resolve()
    candidates += [str(p / "spec" / "vectors") for p in here.parents]
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
    return [v for v in data.get("vectors", []) if isinstance(v.get("frame"), str) and v.get("id")]


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


def _envelope_case(v: dict[str, Any]) -> Case:
    frame: str = v["frame"]

    async def run(ctx: Any) -> None:
        from .cases.common import (
            candidates_for,
            expect_code_for_frame,
            expect_silence,
            readable_type,
        )

        a = await ctx.peer("A")
        if readable_type(frame) in ("response", "error"):
            await a.send_raw(frame)
            await expect_silence(a, "an invalid answer (§3.5 item 3)")
            return
        want = v.get("error") or "BAD_MESSAGE"
        await expect_code_for_frame(a, frame, candidates_for(frame), want, f"vector {v['id']}")

    return Case(
        id=f"6.3.{v['id']}",
        description=f"invalid envelope vector {v['id']}: {v.get('description', '')}"[:160],
        section=_section(v),
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
            expect_none,
            expect_silence,
        )

        a = await ctx.connect("A")
        if setup:  # the setup registers, explicitly or implicitly (§6.3)
            for f in setup:
                await a.send_raw(f)
            await a.wait_ack()
        elif '"_client.register"' not in frame.replace(" ", ""):
            await a.register({})
        if a.ack is not None:
            await a.ping()
            a.inbox.clear()
        if "error" in expect:
            what = f"vector {v['id']}"
            await expect_code_for_frame(a, frame, candidates_for(frame), expect["error"], what)
            return
        await a.send_raw(frame)
        if expect.get("drop"):
            await expect_silence(a, f"vector {v['id']}")
        else:
            await expect_none(
                a, lambda m: m.type == "error", f"vector {v['id']} must be accepted, got"
            )

    return Case(
        id=f"6.6.{v['id']}",
        description=f"semantics vector {v['id']}: {v.get('description', '')}"[:160],
        section=_section(v),
        level=Level.MUST,
        fn=run,
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
    about: set[str] = set()
    if any(0xD800 <= ord(c) <= 0xDFFF for c in topic):
        # No UTF-8 form: the frame may be refused whole (§2.2 item 7), its IDs unread (§3.5).
        codes.add("BAD_MESSAGE")
        about.add("_invalid")

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
                m = await expect_error(a, {corr} | about, what)
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
    cases = [
        _envelope_case(v)
        for v in load_vectors("envelopes.json", explicit)
        if v.get("valid") is False
    ]
    cases += [
        _semantics_case(v)
        for v in load_vectors("semantics.json", explicit)
        if v.get("direction") == "client-to-broker"
    ]
    cases += [_topic_case(v) for v in load_topic_vectors(explicit)]
    for c in cases:
        if c.id not in REGISTRY:
            add_case(c)
    return len(cases)
