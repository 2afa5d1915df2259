"""Cases generated from the language-neutral vector files (spec/vectors/*.json, spec §15.2).

- ``envelopes.json``: every vector with ``"valid": false`` becomes case ``6.3.<vector id>``:
  send its exact frame and expect the vector's ``error`` code, ``BAD_MESSAGE`` when it names
  none (correlated as §3.5 item 2 says), with the connection surviving, except that an invalid
  frame whose type reads as ``response`` or ``error`` MUST be dropped without an answer (§3.5
  item 3).
- ``semantics.json``: every ``client-to-broker`` vector becomes case ``6.6.<vector id>``: send
  its ``setup`` frames, then its frame, and check ``expect`` (``error`` code, ``accept`` = no
  error about it, ``drop`` = no answer at all).

Vectors are found in ``--vectors DIR``, else ``$WSMQ_VECTORS``, else ``spec/vectors`` above the
package or in the working directory; without them the suite still runs its own bad input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .model import REGISTRY, Case, Level, add_case

__all__ = ["find_vectors_dir", "load_vectors", "register_vector_cases"]


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
    for c in cases:
        if c.id not in REGISTRY:
            add_case(c)
    return len(cases)
