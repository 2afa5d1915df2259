"""Helpers shared by the case modules: bad-input round trips and small assertions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..model import CaseFailed, Unimplemented
from ..peer import Msg, Peer

__all__ = [
    "candidates_for",
    "check",
    "expect_code_for_frame",
    "expect_error",
    "expect_none",
    "expect_silence",
    "fixture_call",
    "json_equal",
    "readable_type",
    "strict_json",
]


def check(cond: bool, message: str) -> None:
    """``assert`` that survives ``python -O``."""
    if not cond:
        raise CaseFailed(message)


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values as JSON sees them: ``true`` is not ``1``, but numbers are
    compared as numbers, whatever their spelling.  A JavaScript or Go server re-serializes
    ``3.299974200384027e16`` as ``32999742003840270`` (the same double), which Python reads as
    an int: an int and a float are equal when the int rounds to that float (§3.3 allows
    re-serialization, which keeps the value, not the spelling)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, float) or isinstance(b, float):
            try:
                return float(a) == float(b)
            except OverflowError:
                return False
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str) -> Any:
    """RFC 8259 JSON only (Python's json also accepts NaN and Infinity)."""
    return json.loads(text, parse_constant=_no_constants)


def _id_ok(v: Any) -> bool:
    """A readable ID (§3.5 item 2): 1-128 characters, none a lone surrogate (§2.2 item 7)."""
    return (
        isinstance(v, str) and 1 <= len(v) <= 128 and not any(0xD800 <= ord(c) <= 0xDFFF for c in v)
    )


def readable_type(frame: str | bytes) -> Any:
    """The frame's ``header.type`` if the frame is JSON with a header object, else None."""
    if isinstance(frame, bytes):
        return None
    try:
        obj = strict_json(frame)
    except ValueError:
        return None
    h = obj.get("header") if isinstance(obj, dict) else None
    return h.get("type") if isinstance(h, dict) else None


def candidates_for(frame: str | bytes) -> set[str]:
    """Which correlationID an error about ``frame`` must carry (spec §3.5 item 2): a request's
    valid correlationID, else a readable messageID, else "_invalid".  An error about an answer
    (UNKNOWN_CORRELATION) is about the answer's messageID (§8.7 rule 2)."""
    if isinstance(frame, bytes):
        return {"_invalid"}
    try:
        obj = strict_json(frame)
    except ValueError:
        return {"_invalid"}
    h = obj.get("header") if isinstance(obj, dict) else None
    if not isinstance(h, dict):
        return {"_invalid"}
    corr, mid, t = h.get("correlationID"), h.get("messageID"), h.get("type")
    if t == "request" and _id_ok(corr):
        return {str(corr)}
    return {str(mid)} if _id_ok(mid) else {"_invalid"}


async def expect_error(
    peer: Peer, candidates: set[str], what: str, timeout: float | None = None
) -> Msg:
    """Wait for the error envelope about a message we sent (its correlationID is one of
    ``candidates``); errors about other things are left in the inbox."""
    try:
        return await peer.expect(
            lambda m: m.type == "error" and m.corr in candidates,
            f"an error envelope about {what} (correlationID in {sorted(candidates)})",
            timeout,
        )
    except CaseFailed as exc:
        others = [m.short() for m in peer.inbox if m.type == "error"]
        if others:
            raise CaseFailed(f"{exc}; other errors received: {others[:3]}") from None
        raise


async def expect_none(peer: Peer, pred: Callable[[Msg], bool], what: str) -> None:
    """The negative check every case needs: after a ping round trip (the server has handled
    everything ``peer`` sent before it, and everything it sent ``peer`` before the answer has
    been read) no inbox message may match ``pred``.  ``what`` names the forbidden message; the
    failure shows the first one that arrived.  Matching messages are removed from the inbox."""
    await peer.ping()
    got = peer.take(pred)
    if got:
        raise CaseFailed(f"{what}: {got[0].short()}")


async def expect_silence(peer: Peer, what: str) -> None:
    """Nothing may answer what we just sent: no error and no stray answer after a ping."""
    await expect_none(
        peer,
        lambda m: m.type in ("error", "response"),
        f"{what} was answered, must be dropped silently",
    )


async def expect_code_for_frame(
    peer: Peer, frame: str | bytes, candidates: set[str], code: str, what: str | None = None
) -> Msg:
    """Send ``frame`` as it is, wait for the error about it (correlationID in ``candidates``),
    check its code, then prove the connection survived with a ping round trip: the sequence
    every bad-input case repeats."""
    if what is None:
        shown: Any = frame if len(frame) < 200 else frame[:200]
        what = f"frame {shown!r}"
    await peer.send_raw(frame)
    m = await expect_error(peer, candidates, what)
    check(m.error_code == code, f"{what}: want {code}, got {m.short()}")
    await peer.ping()
    return m


async def fixture_call(peer: Peer, topic: str, body: Any, **extra: Any) -> Any:
    """Call a fixture topic added after the first six of spec §14 (``conformance.raise``,
    ``.source``, ``.presence``, ``.expired-token``): a server whose fixture predates it answers
    NO_HANDLER, which makes the case UNIMPLEMENTED, not FAILED."""
    m = await peer.request(topic, body, **extra)
    if m.type == "error" and m.error_code == "NO_HANDLER":
        raise Unimplemented(f"the server's fixture has no {topic} (spec §14)")
    return m
