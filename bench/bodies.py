"""``python -m bench.bodies``: what reading control bodies with the generated models costs.

The session (``websocketmq.protocol.session``) reads ``_client.register``, ``_client.subscribe``,
``_client.unsubscribe`` and ``_client.cancel`` with ``msgspec.convert`` into the Structs that
``python -m codegen`` generates from control.schema.json (``protocol/bodies.py``). This times
``ServerSession.receive`` per frame, in memory (no socket), for those control frames and for the
hot path (a publish and a request, which read no control body), so a run on two commits shows
whether a change slows either. Best of 7 runs; prints one JSON object of microseconds.
"""

from __future__ import annotations

import dataclasses
import json
import timeit
from typing import Any

from websocketmq.limits import DEFAULT_LIMITS
from websocketmq.protocol.session import ServerSession, SessionConfig

__all__ = ["main", "measure"]

_CONFIG = SessionConfig(
    resume_secret=b"k" * 32,
    # no rate limit: the bench sends far more than 200 frames per second on one session
    limits=dataclasses.replace(DEFAULT_LIMITS, message_rate=1e12, message_burst=1e12),
)


def _frame(kind: str, topic: str, body: Any, corr: str | None = None) -> str:
    header: dict[str, Any] = {"messageID": "m-1", "type": kind, "topic": topic, "timestamp": 1}
    if corr is not None:
        header["correlationID"] = corr
    return json.dumps({"header": header, "body": body})


FRAMES = {
    "publish": _frame("event", "chat.room1", {"text": "hi"}),
    "request": _frame("request", "example.echo", {"message": "hi"}, "c-1"),
    "subscribe": _frame("request", "_client.subscribe", {"topic": "chat.*", "echo": True}, "c-2"),
    "unsubscribe": _frame("request", "_client.unsubscribe", {"topic": "chat.*"}, "c-3"),
    "cancel": _frame("event", "_client.cancel", {"correlationID": "c-9"}),
}


def _session() -> ServerSession[str]:
    return ServerSession("c-1", _CONFIG, monotonic=lambda: 0.0)


def measure(number: int = 20_000) -> dict[str, float]:
    """Microseconds per ``receive`` of each frame (register: a new session each time)."""
    session = _session()
    session.receive(_frame("event", "_client.register", {}))
    out: dict[str, float] = {}
    for name, frame in FRAMES.items():
        best = min(timeit.repeat(lambda f=frame: session.receive(f), number=number, repeat=7))
        out[name] = round(best / number * 1e6, 2)
    register = _frame("event", "_client.register", {"pageSessionID": "page-42"})
    best = min(timeit.repeat(lambda: _session().receive(register), number=number // 4, repeat=7))
    out["register (new session, token)"] = round(best / (number // 4) * 1e6, 2)
    return out


def main() -> int:
    print(json.dumps(measure(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
