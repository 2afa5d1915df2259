"""The sans-I/O session, in memory: the rules of protocol/session.py without sockets."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from websocketmq.limits import DEFAULT_LIMITS
from websocketmq.protocol.envelope import decode, new_request
from websocketmq.protocol.session import (
    TRANSITIONS,
    Answer,
    Authenticate,
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
)

__all__: list[str] = []

SECRET = b"k" * 32


def session(client_id: str = "c-1", now: float = 1000.0) -> ServerSession[str]:
    return ServerSession(
        client_id, SessionConfig(resume_secret=SECRET, max_message_size=1000), lambda: now
    )


def env(kind: str, topic: str, body: Any = None, corr: str | None = None, **extra: Any) -> str:
    header: dict[str, Any] = {
        "messageID": "m-" + topic,
        "type": kind,
        "topic": topic,
        "timestamp": 1,
    }
    if corr:
        header["correlationID"] = corr
    header.update(extra)
    return json.dumps({"header": header, "body": body})


def sent(actions: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(a.frame) for a in actions if isinstance(a, Send)]


def test_transition_table_covers_every_state() -> None:
    assert {s for s, _ in TRANSITIONS} == set(State)


def test_explicit_registration_and_second_register_is_refused() -> None:
    s = session()
    actions = s.receive(env("event", "_client.register", {"pageSessionID": "p1"}))
    ack = sent(actions)[0]
    assert ack["header"]["topic"] == "_internal.client.registered"
    assert ack["header"]["correlationID"] == "m-_client.register"
    assert ack["body"]["brokerClientID"] == "c-1" and ack["body"]["pageSessionID"] == "p1"
    assert ack["body"]["resumed"] is False and ack["body"]["protocol"] == "wsmq/1"
    assert any(isinstance(a, Registered) for a in actions)
    assert s.state is State.REGISTERED
    again = sent(s.receive(env("event", "_client.register", {})))
    assert again[0]["body"]["error"]["code"] == "ALREADY_REGISTERED"


def test_implicit_registration_sends_ack_first() -> None:
    s = session()
    actions = s.receive(env("event", "a.b", 1))
    assert sent(actions)[0]["header"]["topic"] == "_internal.client.registered"
    assert isinstance(actions[-1], Publish) and actions[-1].message.header.source == "c-1"


def test_resume_with_valid_token_keeps_the_id_and_bad_token_gets_a_fresh_one() -> None:
    first = session("c-old")
    token = sent(first.receive(env("event", "_client.register")))[0]["body"]["resumeToken"]
    s = session("c-new")
    ack = sent(
        s.receive(
            env("event", "_client.register", {"brokerClientID": "c-old", "resumeToken": token})
        )
    )
    assert ack[0]["body"]["brokerClientID"] == "c-old" and ack[0]["body"]["resumed"] is True
    s2 = session("c-new")
    bad = {"brokerClientID": "c-old", "resumeToken": token[:-2] + "xx"}
    ack2 = sent(s2.receive(env("event", "_client.register", bad)))
    assert ack2[0]["body"]["brokerClientID"] == "c-new" and ack2[0]["body"]["resumed"] is False
    expired = session("c-new", now=10.0**10)
    ack3 = sent(
        expired.receive(
            env("event", "_client.register", {"brokerClientID": "c-old", "resumeToken": token})
        )
    )
    assert ack3[0]["body"]["resumed"] is False


def registered() -> ServerSession[str]:
    s = session()
    s.receive(env("event", "_client.register"))
    return s


def test_reserved_and_bad_topics() -> None:
    s = registered()
    assert (
        sent(s.receive(env("event", "_internal.client.registered", {})))[0]["body"]["error"]["code"]
        == "FORBIDDEN"
    )
    assert (
        sent(s.receive(env("request", "_secret", corr="c1")))[0]["body"]["error"]["code"]
        == "FORBIDDEN"
    )
    out = sent(s.receive(env("event", "a..b")))[0]
    assert (
        out["body"]["error"]["code"] == "BAD_TOPIC" and out["header"]["correlationID"] == "m-a..b"
    )
    out = sent(s.receive(env("request", "a.*", corr="c2")))[0]
    assert out["body"]["error"]["code"] == "BAD_TOPIC" and out["header"]["correlationID"] == "c2"
    sub = sent(s.receive(env("request", "_client.subscribe", {"topic": "_internal.>"}, corr="c3")))
    assert sub[0]["body"]["error"]["code"] == "FORBIDDEN"


def test_request_ttl_is_defaulted_and_clamped() -> None:
    s = registered()
    (req,) = s.receive(env("request", "a.b", corr="c1"))
    assert isinstance(req, Request) and req.message.header.ttl == 30_000
    (req,) = s.receive(env("request", "a.b", corr="c2", ttl=10**9))
    assert isinstance(req, Request) and req.message.header.ttl == 300_000


def test_subscribe_cancel_and_ping() -> None:
    s = registered()
    (sub,) = s.receive(
        env("request", "_client.subscribe", {"topic": "a.>", "echo": True}, corr="c1")
    )
    assert isinstance(sub, Subscribe) and sub.pattern == "a.>" and sub.echo
    (cancel,) = s.receive(env("event", "_client.cancel", {"correlationID": "c9"}))
    assert isinstance(cancel, CancelRequest) and cancel.correlation_id == "c9"
    pong = sent(s.receive(env("request", "_client.ping", corr="c2")))[0]
    assert pong["header"]["type"] == "response" and isinstance(pong["body"]["timestamp"], int)


def test_answers_settle_once_late_ones_are_dropped_unknown_ones_reported() -> None:
    s = registered()
    req = new_request("client.do", None, 1000)
    corr = req.header.correlation_id
    assert corr is not None
    s.send_request(req, "waiter")
    (answer,) = s.receive(env("response", corr, 1, corr=corr))
    assert isinstance(answer, Answer) and answer.waiter == "waiter"
    assert s.receive(env("response", corr, 2, corr=corr)) == []  # duplicate: silent
    unknown = sent(s.receive(env("response", "zzz", 1, corr="zzz")))[0]
    assert unknown["body"]["error"]["code"] == "UNKNOWN_CORRELATION"
    assert unknown["header"]["correlationID"] == "m-zzz"


def test_give_up_emits_internal_cancel_and_later_answer_is_dropped() -> None:
    s = registered()
    req = new_request("client.do", None, 1000)
    corr = req.header.correlation_id
    assert corr is not None
    s.send_request(req, "w")
    cancel = s.give_up(corr, "TIMEOUT")
    assert cancel is not None
    assert decode(cancel).body == {"correlationID": corr, "reason": "TIMEOUT"}
    assert s.receive(env("error", corr, {"error": {"code": "X", "message": "x"}}, corr=corr)) == []


def test_binary_oversized_and_invalid_frames() -> None:
    s = registered()
    assert sent(s.receive(b"{}"))[0]["body"]["error"]["code"] == "BAD_MESSAGE"
    assert s.state is State.REGISTERED
    assert s.receive(env("response", "x")) == []  # invalid response: never answered
    actions = s.receive("x" * 1001)
    assert sent(actions)[0]["body"]["error"]["code"] == "TOO_LARGE"
    assert isinstance(actions[-1], Close) and actions[-1].code == 1009
    assert s.receive(env("event", "a.b")) == []  # closing: nothing more is processed


def test_closed_returns_pending_waiters() -> None:
    s = registered()
    s.send_request(new_request("x.y", None, 1000), "w1")
    assert s.closed() == ["w1"] and s.state is State.CLOSED


def test_register_body_with_wrong_types_is_bad_message_and_stays_open() -> None:
    s = session()
    out = sent(s.receive(env("event", "_client.register", {"pageSessionID": 5})))
    assert out[0]["body"]["error"]["code"] == "BAD_MESSAGE"
    assert s.state is State.OPEN
    out = sent(s.receive(env("event", "_client.register", {"brokerClientID": "x" * 129})))
    assert out[0]["body"]["error"]["code"] == "BAD_MESSAGE" and s.state is State.OPEN


def test_bad_register_bodies_are_charged_to_the_error_budget() -> None:
    """§12.1: every error the client causes counts, registration included (then 4029)."""
    limits = dataclasses.replace(DEFAULT_LIMITS, error_budget=3, error_window=60.0)
    s = ServerSession(
        "c-1",
        SessionConfig(resume_secret=SECRET, max_message_size=1000, limits=limits),
        lambda: 1.0,
    )
    actions: list[Any] = []
    for _ in range(4):
        actions = s.receive(env("event", "_client.register", {"pageSessionID": 5}))
    assert isinstance(actions[-1], Close) and actions[-1].code == 4029
    assert sent(actions)[-1]["body"]["error"]["code"] == "RATE_LIMITED"


def auth_session() -> ServerSession[str]:
    config = SessionConfig(resume_secret=SECRET, max_message_size=1000)
    return ServerSession("c-1", config, lambda: 1000.0, auth_pending=True)


def test_first_message_auth_is_a_state_of_the_session() -> None:
    s = auth_session()
    assert s.state is State.AUTH_PENDING
    [action] = s.receive(env("event", "_client.register", {"auth": "tok", "pageSessionID": "p"}))
    assert isinstance(action, Authenticate)
    assert action.credential == "tok" and action.message.body == {"pageSessionID": "p"}
    assert s.state is State.AUTH_PENDING  # until the I/O layer's hook has decided
    actions = s.authenticated(action.message)
    assert s.state is State.REGISTERED and any(isinstance(a, Registered) for a in actions)
    assert sent(actions)[0]["body"]["pageSessionID"] == "p"
    assert "auth" not in sent(actions)[0]["body"]


def test_first_message_auth_refusals_close_1008_and_the_deadline_4001() -> None:
    for first in (env("event", "other.topic", {}), env("event", "_client.register", {}), "nope"):
        s = auth_session()
        actions = s.receive(first)
        assert [type(a) for a in actions] == [Send, Close]
        assert sent(actions)[0]["body"]["error"]["code"] == "UNAUTHENTICATED"
        assert actions[1] == Close(1008, "authentication failed") and s.state is State.CLOSING
    s = auth_session()
    [action] = s.receive(env("event", "_client.register", {"auth": 1}))
    expired = s.auth_expired()
    assert expired[1] == Close(4001, "authentication deadline")
    assert sent(expired)[0]["body"]["error"]["code"] == "UNAUTHENTICATED"
    # the hook finished after the deadline: nothing more happens, either way
    assert s.authenticated(action.message) == [] and s.auth_refused(action.message) == []
    assert s.auth_expired() == [] and s.state is State.CLOSING


def test_the_state_table_in_the_design_doc_is_the_transition_table() -> None:
    """docs/design.md §8.3 shows TRANSITIONS; this keeps the two in step."""
    from pathlib import Path

    from websocketmq.protocol.session import Trigger

    doc = (Path(__file__).parent.parent / "docs" / "design.md").read_text()
    triggers = [Trigger.AUTHENTICATED, Trigger.REGISTER, Trigger.CLOSE, Trigger.CLOSED]
    assert set(triggers) == set(Trigger)
    header = "| state \\ trigger | " + " | ".join(f"`{t.value}`" for t in triggers) + " |"
    assert header in doc
    for state in State:
        cells = [TRANSITIONS.get((state, t)) for t in triggers]
        row = " | ".join(f"`{c.value}`" if c else "—" for c in cells)
        assert f"| `{state.value}` | {row} |" in doc, state


def test_every_received_frame_is_counted_once_as_what_it_decoded_as() -> None:
    """The session's "Counting" rule (wsmq_messages_received_total, docs/operations.md)."""
    counts: dict[str, int] = {}
    s = ServerSession(
        "c-1",
        SessionConfig(resume_secret=SECRET, max_message_size=1000),
        lambda: 1000.0,
        counts=counts,
    )
    s.receive(env("event", "_client.register", {}))
    s.receive(env("request", "orders.get", {"id": 1}, corr="r1"))
    s.receive(env("response", "orders.get", {}, corr="never-sent"))
    s.receive(env("error", "orders.get", {"error": {"code": "X", "message": "m"}}, corr="nope"))
    s.receive(b"\x00binary")
    s.receive("not json")
    s.receive("[" * 200 + "]" * 200)  # too deep
    s.receive(env("event", "x", "y" * 2000))  # too large: closes
    s.receive(env("event", "after.close", {}))  # CLOSING: nothing decodes it
    assert counts == {"event": 1, "request": 1, "response": 1, "error": 1, "binary": 1, "other": 4}


def test_an_authenticated_first_frame_is_counted_once() -> None:
    counts: dict[str, int] = {}
    config = SessionConfig(resume_secret=SECRET, max_message_size=1000)
    s: ServerSession[str] = ServerSession(
        "c-1", config, lambda: 1000.0, auth_pending=True, counts=counts
    )
    [action] = s.receive(env("event", "_client.register", {"auth": "tok"}))
    assert isinstance(action, Authenticate)
    s.authenticated(action.message)
    assert counts == {"event": 1}
    refused: dict[str, int] = {}
    r: ServerSession[str] = ServerSession(
        "c-2", config, lambda: 1000.0, auth_pending=True, counts=refused
    )
    r.receive(b"binary first")
    assert refused == {"binary": 1}
