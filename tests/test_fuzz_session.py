"""Fuzz the broker's protocol session (sans-I/O): any sequence of frames, no exception, ever.

``ServerSession.receive`` is what the broker calls for every frame a client sends, with the
limits of websocketmq.limits in front of the decoder. Whatever a client sends, it must return a
list of actions (never raise: an exception there would be a dead connection handler), every
error frame it produces must be a valid envelope with a documented code, and once it decides to
close it must stay closed. Sequences matter (registration, budgets, rate), so the property runs
over lists of frames, mixing near-valid envelopes and garbage, with a fake clock.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from websocketmq.errors import CODES
from websocketmq.limits import Limits
from websocketmq.protocol.envelope import decode
from websocketmq.protocol.session import (
    Answer,
    CancelRequest,
    Close,
    Publish,
    Registered,
    Request,
    Send,
    ServerSession,
    SessionConfig,
    State,
    Subscribe,
    Unsubscribe,
)

__all__: list[str] = []

EXAMPLES = int(os.environ.get("WSMQ_FUZZ_EXAMPLES", "300"))
ACTIONS = (Send, Close, Registered, Publish, Request, Subscribe, Unsubscribe, CancelRequest, Answer)
CLOSE_CODES = {1009: "TOO_LARGE", 4029: "RATE_LIMITED"}  # close code -> the error sent before it

topics = st.sampled_from(
    ["t.a", "t.*", "t.>", "_client.register", "_client.subscribe", "_client.unsubscribe",
     "_client.ping", "_client.cancel", "_internal.x", "", "a b", "x" * 300, "c-1"]
)  # fmt: skip
bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(
        st.sampled_from(["topic", "echo", "correlationID", "brokerClientID", "resumeToken",
                         "pageSessionID", "x"]), c, max_size=3),
    max_leaves=8,
)  # fmt: skip


@st.composite
def frames(draw: st.DrawFn) -> str | bytes:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=50))
    if kind == 1:
        return draw(st.text(max_size=50))
    if kind == 2:
        depth = draw(st.integers(1, 3000))
        return '{"header":{"messageID":"m","type":"event","topic":"t"},"body":' + (
            "[" * depth + "]" * depth + "}"
        )
    if kind == 3:
        sub = draw(st.sampled_from(["_client.subscribe", "_client.unsubscribe"]))
        return json.dumps(
            {
                "header": {
                    "messageID": "s-1",
                    "correlationID": draw(st.sampled_from(["c-1", "c-2", "c-3"])),
                    "type": "request",
                    "topic": sub,
                    "timestamp": 1,
                },
                "body": {"topic": draw(topics), "echo": draw(st.booleans())},
            }
        )
    header: dict[str, Any] = {
        "messageID": draw(st.sampled_from(["m-1", "m-2", "m-3", "", "x" * 200])),
        "type": draw(st.sampled_from(["event", "request", "response", "error", "bogus"])),
        "topic": draw(topics),
        "timestamp": draw(st.sampled_from([1764110000000, 1764110000000, 0, -1, "now"])),
    }
    if draw(st.booleans()):
        header["correlationID"] = draw(st.sampled_from(["c-1", "c-2", "", 5]))
    if draw(st.booleans()):
        header["ttl"] = draw(st.sampled_from([1, 0, -1, 10**9, "5"]))
    env: dict[str, Any] = {"header": header}
    if draw(st.booleans()):
        env["body"] = draw(bodies)
    return json.dumps(env)


@settings(
    max_examples=EXAMPLES,
    derandomize=bool(os.environ.get("CI")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(frames(), min_size=1, max_size=40),
    st.lists(st.floats(0, 0.5), min_size=40, max_size=40),
    st.integers(1, 10),
    st.sampled_from([200, 4096, 1 << 20, 1 << 20]),
)
def test_session_never_raises_and_stays_closed(
    sequence: list[str | bytes], steps: list[float], budget: int, max_size: int
) -> None:
    now = [0.0]
    limits = Limits(
        max_json_depth=16, message_rate=20, message_burst=5, error_budget=budget, error_window=1
    )
    config = SessionConfig(resume_secret=b"k" * 32, max_message_size=max_size, limits=limits)
    session: ServerSession[object] = ServerSession("c-fuzz", config, clock=lambda: now[0])
    closed = False
    for frame, step in zip(sequence, steps, strict=False):
        now[0] += step
        actions = session.receive(frame)  # must not raise
        assert isinstance(actions, list)
        if closed:
            assert actions == []  # nothing is processed after a close decision
            continue
        for action in actions:
            assert isinstance(action, ACTIONS), action
            if isinstance(action, Send):
                msg = decode(action.frame)  # everything we send is a valid envelope
                if msg.header.type == "error":
                    code = msg.body["error"]["code"]
                    assert code in CODES, code
            if isinstance(action, Close):
                assert action.code in CLOSE_CODES, action
                event(f"closed {action.code}")
                closed = True
            else:
                event(type(action).__name__)
        if closed:
            assert session.state is State.CLOSING
            close, before = actions[-1], actions[-2]
            assert isinstance(close, Close)  # the close comes after its error envelope
            assert isinstance(before, Send)
            err = decode(before.frame)
            assert err.header.type == "error"
            assert err.body["error"]["code"] == CLOSE_CODES[close.code], (close, err.body)
