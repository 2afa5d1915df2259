"""Regression tests for broker-side bugs found in review, each against spec/protocol.md.

Every test here failed before its fix. They run a real broker on 127.0.0.1 (port 0) and talk
to it with raw peers (tests/rawpeer.py), so nothing about the transport is mocked.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from rawpeer import RawPeer, envelope, error_code
from websocketmq.backends.memory import MemoryBackend
from websocketmq.errors import Disconnected, ShuttingDown
from websocketmq.limits import Limits
from websocketmq.protocol.envelope import Message
from websocketmq.protocol.session import (
    CancelRequest,
    Publish,
    Send,
    ServerSession,
    SessionConfig,
    Subscribe,
)
from websocketmq.protocol.topics import SubscriptionIndex, matches
from websocketmq.testing import RunningBroker, run_broker

__all__: list[str] = []

pytestmark = pytest.mark.timeout(60)


def _is_request(topic: str) -> Any:
    return lambda m: m["header"]["type"] == "request" and m["header"]["topic"] == topic


# -- §6.4 rule 3, §6.5 rule 3: resume while the old connection is still open -------------------


async def test_resume_supersedes_a_dead_connection_at_once_and_announces_it() -> None:
    """Resuming an ID whose old connection is still open (but dead: the usual case after a
    network drop) must close the old one with 4009, settle its pending server→client requests
    with DISCONNECTED *at once* (not after the close handshake times out), publish
    ``deregistered`` (reason ``superseded``) before ``registered`` (``resumed: true``) and not
    let the old connection's subscriptions keep receiving.

    Bug: the superseded connection's state was only torn down when its socket finished
    closing (close_timeout later for a dead peer), and no ``deregistered`` event was ever
    published for it (the registry already pointed at the new connection)."""
    async with run_broker(close_timeout=20.0) as rb:
        presence: list[tuple[str, dict[str, Any]]] = []
        rb.broker.subscribe("_internal.client.*", lambda m, _: presence.append((m.topic, m.body)))
        old = await RawPeer.connect(rb.url)
        assert (await old.subscribe("news.*"))["header"]["type"] == "response"
        pending = asyncio.create_task(
            rb.broker.request_to_client(old.client_id, "app.ask", {"q": 1}, timeout=30)
        )
        await old.expect(_is_request("app.ask"))
        old.ws.transport.pause_reading()  # the old socket goes dead: it never answers a close

        heir = await RawPeer.connect(rb.url, register=False)
        t0 = time.monotonic()
        resume = {"brokerClientID": old.client_id, "resumeToken": old.resume_token}
        ack = await heir.register(resume)
        assert ack["resumed"] is True and ack["brokerClientID"] == old.client_id
        with pytest.raises(Disconnected):
            await asyncio.wait_for(pending, 5)
        assert time.monotonic() - t0 < 5  # well before close_timeout (20 s)

        topics = [(t, b.get("reason"), b.get("resumed")) for t, b in presence]
        assert topics == [
            ("_internal.client.registered", None, None),
            ("_internal.client.deregistered", "superseded", None),
            ("_internal.client.registered", None, True),
        ]
        assert all(b["brokerClientID"] == old.client_id for _, b in presence)
        # the old connection's subscription is gone; the heir has none until it re-subscribes
        assert rb.broker.registry.subscribers("news.x") == ()
        assert rb.broker.client_ids() == [old.client_id]
        assert rb.broker.get_client(old.client_id) is not None
        await heir.aclose()
        old.ws.transport.abort()


# -- §12.3: an identity from ``authenticate`` must not outlive a failed handshake -------------


async def test_identity_of_a_failed_handshake_is_not_kept() -> None:
    """Bug (reported): the identity returned by ``authenticate`` was stored by ``id(conn)`` and
    only removed when the WebSocket handler ran; a handshake that failed after authentication
    left it in the dict forever (a leak, and a later connection object reusing the same
    ``id()`` would have inherited somebody else's identity)."""
    async with run_broker(authenticate=lambda req: {"user": "alice"}) as rb:
        reader, writer = await asyncio.open_connection("127.0.0.1", rb.port)
        # Authenticated, but not a valid WebSocket upgrade (bad Sec-WebSocket-Key): 400 after
        # process_request has run.
        writer.write(
            (
                "GET /ws HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{rb.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: not-a-valid-key\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        async with asyncio.timeout(10):
            response = await reader.read()  # until the server closes
        writer.close()
        assert response.startswith(b"HTTP/1.1 400"), response[:80]
        # the per-IP slot is released on every way out; the identity lives on the connection
        # object only (server.py _Connection), so it goes with it
        await _slots_released(rb.server)
        # and a good connection still gets its identity
        seen: list[Any] = []
        rb.broker.subscribe("who", lambda m, cid: seen.append(rb.broker.get_client(cid).identity))
        peer = await RawPeer.connect(rb.url)
        await peer.send(envelope("event", "who", {}))
        assert (await peer.request("_client.ping"))["header"]["type"] == "response"
        assert seen == [{"user": "alice"}]
        await peer.aclose()


async def _slots_released(server: Any) -> None:
    """Wait until no connection holds a per-IP slot or a pending handshake (the slot is given
    back when the TCP connection is lost; there is no event to wait on)."""
    async with asyncio.timeout(10):
        while server.connections_from("127.0.0.1") or server.pending_handshakes:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


# -- §8.8 rule 2, §8.5: shutdown settles server→client requests and tells the client ---------


async def test_shutdown_sends_internal_cancel_for_pending_server_requests() -> None:
    """Bug: on shutdown the pending server→client requests failed with SHUTTING_DOWN
    server-side, but the client was never sent ``_internal.cancel`` (reason
    ``SHUTTING_DOWN``), so its handler kept running for a request nobody waits for."""
    async with run_broker() as rb:
        peer = await RawPeer.connect(rb.url)
        pending = asyncio.create_task(
            rb.broker.request_to_client(peer.client_id, "app.slow", None, timeout=30)
        )
        req = await peer.expect(_is_request("app.slow"))
        stopping = asyncio.create_task(rb.stop())
        cancel = await peer.expect(lambda m: m["header"]["topic"] == "_internal.cancel")
        assert cancel["body"] == {
            "correlationID": req["header"]["correlationID"],
            "reason": "SHUTTING_DOWN",
        }
        with pytest.raises(ShuttingDown):
            await asyncio.wait_for(pending, 5)
        assert await peer.closed() == 1001
        await asyncio.wait_for(stopping, 10)


# -- an exception in the authorize hook must not kill the publisher's connection -------------


async def test_authorize_raising_for_one_subscriber_does_not_break_delivery() -> None:
    """Bug: ``authorize`` is called per subscriber at delivery; when it raised for one
    subscriber the exception escaped into the *publisher's* receive loop, which closed the
    publisher with 1011 and left the remaining subscribers without the event. A raising hook
    now counts as a refusal (fail closed) for that one check only."""

    def authorize(conn: Any, action: str, topic: str) -> bool:
        if action == "subscribe" and topic == "room.1" and conn.identity == "bad":
            raise RuntimeError("authorization service unavailable")
        return True

    identities = iter(["bad", "good", "pub"])
    async with run_broker(authorize=authorize, authenticate=lambda _r: next(identities)) as rb:
        bad = await RawPeer.connect(rb.url)
        good = await RawPeer.connect(rb.url)
        pub = await RawPeer.connect(rb.url)
        for peer in (bad, good):
            assert (await peer.subscribe("room.*"))["header"]["type"] == "response"
        await pub.send(envelope("event", "room.1", {"n": 1}))
        got = await good.expect(lambda m: m["header"]["topic"] == "room.1")
        assert got["body"] == {"n": 1} and got["header"]["source"] == pub.client_id
        # the publisher's connection is alive and served
        assert (await pub.request("_client.ping"))["header"]["type"] == "response"
        # the subscriber whose check raised got nothing
        assert (await bad.request("_client.ping"))["header"]["type"] == "response"
        assert not [m for m in bad.inbox if m["header"]["topic"] == "room.1"]
        for peer in (bad, good, pub):
            await peer.aclose()


# -- §5.2: a leading wildcard never matches a reserved topic --------------------------------


def test_leading_wildcards_do_not_match_reserved_topics() -> None:
    """Spec §5.2: "a pattern whose first token is ``*`` or ``>`` MUST NOT match a topic whose
    first token starts with ``_``" (table: ``>`` does not match ``_client.register``).

    Bug: ``matches`` and :class:`SubscriptionIndex` applied plain NATS semantics, so a server
    handler on ``>`` (an audit log, say) was handed every ``_internal.client.*`` presence event.
    """
    assert not matches(">", "_client.register")
    assert not matches("*.client.registered", "_internal.client.registered")
    assert not matches("*", "_x")
    assert matches("_internal.>", "_internal.client.registered")
    assert matches("_internal.*.registered", "_internal.client.registered")
    assert matches(">", "chat.room1") and matches("*.b", "a.b")
    index: SubscriptionIndex[str] = SubscriptionIndex()
    for pattern in (">", "*.client.registered", "*.*.*", "_internal.>", "_internal.client.*"):
        index.add(pattern, pattern)
    assert set(index.match("_internal.client.registered")) == {"_internal.>", "_internal.client.*"}
    assert set(index.match("a.client.registered")) == {">", "*.client.registered", "*.*.*"}


async def test_catch_all_server_handler_gets_no_internal_events(live: RunningBroker) -> None:
    """The same rule over a real broker: a ``>`` handler sees client publishes only, while a
    handler on ``_internal.client.*`` still gets the presence events (spec §6.5)."""
    everything: list[str] = []
    presence: list[str] = []
    live.broker.subscribe(">", lambda m, _: everything.append(m.topic))
    live.broker.subscribe("_internal.client.*", lambda m, _: presence.append(m.topic))
    peer = await RawPeer.connect(live.url)
    await peer.send(envelope("event", "app.hello", {}))
    assert (await peer.request("_client.ping"))["header"]["type"] == "response"
    await peer.aclose()
    async with asyncio.timeout(10):
        while len(presence) < 2:  # noqa: ASYNC110 - the deregistration follows the close
            await asyncio.sleep(0.01)
    assert presence == ["_internal.client.registered", "_internal.client.deregistered"]
    assert everything == ["app.hello"]


# -- §8.3 rule 2, §11.3: a handler result that cannot be sent is an error answer -------------


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_unencodable_handler_result_is_answered_and_connection_survives(
    live: RunningBroker, kind: str
) -> None:
    """Bug: a *sync* handler whose return value is not JSON-encodable (``object()``, a set…)
    raised in the broker's encode outside any try; the exception escaped into the receive
    loop and the requesting client was closed with 1011 instead of getting an error answer.
    Both kinds now answer ``HANDLER_ERROR`` and the connection keeps working."""

    async def async_bad(_m: Any, _c: Any) -> Any:
        return {"oops": object()}

    def sync_bad(_m: Any, _c: Any) -> Any:
        return {"oops": object()}

    live.broker.subscribe("bad.result", sync_bad if kind == "sync" else async_bad)
    peer = await RawPeer.connect(live.url)
    answer = await peer.request("bad.result", {})
    assert error_code(answer) == "HANDLER_ERROR", answer
    assert (await peer.request("_client.ping"))["header"]["type"] == "response"
    await peer.aclose()


# -- §6.5 rule 2: shutdown announces every client with reason "shutdown" ----------------------


async def test_shutdown_deregisters_every_client_with_reason_shutdown() -> None:
    """Spec §6.5 rule 2 names the reason ``"shutdown"``. Bug: the deregistration events of a
    shutdown were published only when each socket had finished closing, after the backend
    was already closed (lost on a cluster backend), and with the reason
    ``"closed by broker: 1001 broker shutting down"``. Now the broker publishes them itself,
    before it closes the backend."""
    async with run_broker() as rb:
        gone: list[dict[str, Any]] = []
        rb.broker.subscribe("_internal.client.deregistered", lambda m, _: gone.append(m.body))
        peers = [await RawPeer.connect(rb.url) for _ in range(2)]
        closed = [asyncio.create_task(p.closed()) for p in peers]
        await rb.stop()
        assert sorted(await asyncio.gather(*closed)) == [1001, 1001]
        assert sorted(b["brokerClientID"] for b in gone) == sorted(p.client_id for p in peers)
        assert {b["reason"] for b in gone} == {"shutdown"}
        assert rb.broker.client_ids() == []


class _CountingBackend(MemoryBackend):
    """The in-process backend, counting attach/detach per client ID (a cluster backend such as
    NATS keeps one hold per attach and releases the ID when the count drops to zero)."""

    def __init__(self) -> None:
        super().__init__()
        self.holds: dict[str, int] = {}

    async def attach_client(self, client_id: str) -> None:
        self.holds[client_id] = self.holds.get(client_id, 0) + 1
        await super().attach_client(client_id)

    async def detach_client(self, client_id: str) -> None:
        self.holds[client_id] = self.holds.get(client_id, 0) - 1
        await super().detach_client(client_id)


async def test_every_attach_is_detached_after_a_local_resume() -> None:
    """Bug: a connection superseded by a resume on the same node was never detached from the
    backend, so a counting backend (NATS) kept holding the ID (its subscription leaked, and
    other nodes kept routing to this node) after the heir disconnected too."""
    backend = _CountingBackend()
    async with run_broker(backend=backend) as rb:
        old = await RawPeer.connect(rb.url)
        heir = await RawPeer.connect(rb.url, register=False)
        await heir.register({"brokerClientID": old.client_id, "resumeToken": old.resume_token})
        assert await old.closed() == 4009
        assert backend.holds == {old.client_id: 1}
        other = await RawPeer.connect(rb.url)
        await heir.aclose()
        async with asyncio.timeout(10):
            while backend.holds.get(old.client_id):  # noqa: ASYNC110 - detach follows the close
                await asyncio.sleep(0.01)
        assert backend.holds[old.client_id] == 0
        assert old.client_id not in backend._clients
    assert backend.holds == {old.client_id: 0, other.client_id: 0}  # shutdown detaches too


async def test_identity_of_a_client_gone_during_async_authentication_is_not_kept() -> None:
    """The same leak by another path: an async ``authenticate`` that returns after the client
    has already hung up stored the identity after the close watcher had cleaned up, and no
    handler ever came to take it."""
    entered, proceed = asyncio.Event(), asyncio.Event()

    async def authenticate(_req: Any) -> Any:
        entered.set()
        await proceed.wait()
        return {"user": "late"}

    async with run_broker(authenticate=authenticate) as rb:
        _reader, writer = await asyncio.open_connection("127.0.0.1", rb.port)
        writer.write(
            (
                "GET /ws HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{rb.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        await asyncio.wait_for(entered.wait(), 10)
        writer.close()  # the client gives up while authentication runs
        await _slots_released(rb.server)
        proceed.set()
        await rb.stop()  # waits for the handshake to finish
        assert rb.server.connections_from("127.0.0.1") == 0


# -- §7.1 rule 1, §10: a control body that breaks its schema is BAD_MESSAGE -------------------


def _session_reply(frame: dict[str, Any]) -> list[dict[str, Any]]:
    session: ServerSession[str] = ServerSession("c-1", SessionConfig(resume_secret=b"k" * 32))
    session.receive(json.dumps(envelope("event", "_client.register", {})))
    actions = session.receive(json.dumps(frame))
    return [json.loads(a.frame) for a in actions if isinstance(a, Send)]


@pytest.mark.parametrize(
    "frame",
    [
        envelope("request", "_client.subscribe", {"topic": "a.b", "echo": "yes"}, corr="c-9"),
        envelope("request", "_client.subscribe", {"topic": "a.b", "echo": None}, corr="c-9"),
        envelope("event", "_client.cancel", {"correlationID": "x" * 129}, messageID="c-9"),
        envelope("event", "_client.cancel", {"correlationID": 7}, messageID="c-9"),
    ],
    ids=["echo-string", "echo-null", "cancel-corr-too-long", "cancel-corr-number"],
)
def test_control_bodies_that_break_their_schema_are_bad_message(frame: dict[str, Any]) -> None:
    """Bug: ``{"echo": "yes"}`` (vector body-invalid ``echo-boolean``) was accepted as
    ``echo: false`` and a ``_client.cancel`` correlationID longer than 128 characters was
    accepted, although spec §7.1 rule 1 and §10 make a body that breaks ``SubscribeBody`` /
    ``CancelBody`` a ``BAD_MESSAGE``."""
    replies = _session_reply(frame)
    assert len(replies) == 1, replies
    assert error_code(replies[0]) == "BAD_MESSAGE"
    assert replies[0]["header"]["correlationID"] == "c-9"


def test_valid_control_bodies_still_accepted() -> None:
    """The other side of the rule: well-formed bodies are not refused."""
    ok = envelope("request", "_client.subscribe", {"topic": "a.*", "echo": True, "x": 1})
    session: ServerSession[str] = ServerSession("c-1", SessionConfig(resume_secret=b"k" * 32))
    session.receive(json.dumps(envelope("event", "_client.register", {})))
    (sub,) = session.receive(json.dumps(ok))
    assert isinstance(sub, Subscribe) and sub.echo is True and sub.pattern == "a.*"
    cancel = envelope("event", "_client.cancel", {"correlationID": "c" * 128})
    (action,) = session.receive(json.dumps(cancel))
    assert isinstance(action, CancelRequest) and action.correlation_id == "c" * 128


# -- a backend failure on a publish drops that publish, not the publisher's connection --------


class _FlakyBackend(MemoryBackend):
    """The in-process backend with an outage switch (as a NATS backend has when NATS is down:
    its publish raises)."""

    down = False

    async def publish(
        self, topic: str, frame: bytes, source: str | None, message: Message | None = None
    ) -> None:
        if self.down:
            raise ConnectionError("backend unavailable")
        await super().publish(topic, frame, source, message)


async def test_backend_failure_on_publish_does_not_close_the_publisher() -> None:
    """Bug: an exception from ``Backend.publish`` (NATS unreachable) escaped into the
    publisher's receive loop and closed its connection with 1011: a backend outage
    disconnected every client that published. A publish is best effort (spec §7.4 rule 3):
    it is dropped (and logged); the connection stays, and the presence events of a client
    registering during the outage do not kill it either."""
    backend = _FlakyBackend()
    async with run_broker(backend=backend) as rb:
        rb.broker.subscribe("_internal.client.registered", lambda m, _: None)
        sub = await RawPeer.connect(rb.url)
        await sub.subscribe("news.*")
        pub = await RawPeer.connect(rb.url)
        backend.down = True
        await pub.send(envelope("event", "news.lost", {"n": 1}))
        assert (await pub.request("_client.ping"))["header"]["type"] == "response"
        late = await RawPeer.connect(rb.url)  # registration during the outage
        assert (await late.request("_client.ping"))["header"]["type"] == "response"
        backend.down = False
        await pub.send(envelope("event", "news.kept", {"n": 2}))
        got = await sub.expect(lambda m: m["header"]["type"] == "event")
        assert got["header"]["topic"] == "news.kept"
        for peer in (sub, pub, late):
            await peer.aclose()


async def test_async_presence_handlers_see_the_shutdown_deregistrations() -> None:
    """Follow-up of the shutdown fix: an *async* handler runs as a task, and ``close`` used to
    cancel every background task right after publishing, before those tasks had started."""
    gone: list[str] = []

    async def on_gone(msg: Message, _: str | None) -> None:
        gone.append(msg.body["reason"])

    async with run_broker() as rb:
        rb.broker.subscribe("_internal.client.deregistered", on_gone)
        peer = await RawPeer.connect(rb.url)
        await rb.stop()
        assert gone == ["shutdown"]
        await peer.aclose()


# -- §12.1: a duplicate correlationID counts against the protocol-error budget ---------------


async def test_duplicate_correlation_ids_count_against_the_error_budget() -> None:
    """Spec §12.1 counts every ``BAD_MESSAGE`` answer against the error budget. Bug: the
    broker (not the session) answers a request reusing the correlationID of one in flight,
    and that refusal was never charged: a client could repeat it forever instead of being
    closed with 4029. (The in-flight limit's ``RATE_LIMITED`` stays uncharged on purpose:
    conformance case 9.3.1 expects a busy client to keep its connection.)"""
    release = asyncio.Event()

    async def blocked(_m: Message, _c: str | None) -> str:
        await release.wait()
        return "done"

    async with run_broker(error_budget=3) as rb:
        rb.broker.subscribe("slow.op", blocked)
        peer = await RawPeer.connect(rb.url)
        await peer.send(envelope("request", "slow.op", None, corr="held"))
        for _ in range(6):
            await peer.send(envelope("request", "slow.op", None, corr="held"))
        assert await peer.closed() == 4029
        codes = [error_code(m) for m in peer.inbox if m["header"]["type"] == "error"]
        assert codes[-1] == "RATE_LIMITED" and set(codes[:-1]) == {"BAD_MESSAGE"}, codes
        assert peer.inbox[-1]["body"]["error"]["details"] == {"reason": "error-budget"}
        release.set()


# -- §6.4 rule 4: any bad resume token is "resumed": false, never an exception ----------------


@pytest.mark.parametrize(
    "token", ["\u00b2.abc", "\u0661\u0662\u0663.abc", "\U0001d7d7\U0001d7d7.abc"]
)
def test_resume_token_with_non_ascii_digits_is_just_invalid(token: str) -> None:
    """Bug: the token's expiry was checked with ``str.isdigit``, which accepts ``²`` (and
    ``int("²")`` raises ValueError): a register with such a token raised out of the session
    and the broker closed the connection with 1011 and logged a traceback per attempt.
    Non-ASCII digits are now simply an invalid token: a fresh ID, ``resumed: false``."""
    session: ServerSession[str] = ServerSession("c-fresh", SessionConfig(resume_secret=b"k" * 32))
    register = envelope(
        "event", "_client.register", {"brokerClientID": "c-old", "resumeToken": token}
    )
    (ack, registered) = session.receive(json.dumps(register))
    body = json.loads(ack.frame)["body"]
    assert body["resumed"] is False and body["brokerClientID"] == "c-fresh"
    assert registered.client_id == "c-fresh"


# -- limits run on a monotonic clock: a wall-clock step back must not throttle a connection ---


def test_rate_limit_survives_the_wall_clock_stepping_back() -> None:
    """Bug: the session fed ``time.time()`` (wall clock) to the rate limiter and the error
    budget, whose buckets refill only when time moves forward. After an NTP step or a VM
    restore moved the clock back an hour, every open connection was refused
    (``RATE_LIMITED``, then close 4029) for that hour. The limits now use the monotonic
    clock; the wall clock is kept for resume-token expiry only."""
    wall, mono = [1_000_000.0], [50.0]
    limits = Limits(message_rate=10, message_burst=1, error_budget=100)
    config = SessionConfig(resume_secret=b"k" * 32, limits=limits)
    session: ServerSession[str] = ServerSession(
        "c-1", config, clock=lambda: wall[0], monotonic=lambda: mono[0]
    )
    event = json.dumps(envelope("event", "a.b", {}))
    assert [type(a) for a in session.receive(event)][-1] is Publish  # registers implicitly
    wall[0] -= 3600  # the wall clock steps back an hour …
    mono[0] += 1.0  # … while a second really passes
    assert [type(a) for a in session.receive(event)] == [Publish]
    # and a session built as the broker builds it (default clocks) limits by monotonic time
    assert ServerSession("c-2", config).monotonic is time.monotonic
