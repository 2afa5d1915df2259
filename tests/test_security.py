"""Hostile input, identity, authentication, authorization and limits, over real sockets.

Every case runs against a real broker served on 127.0.0.1 (port 0) and talks raw wsmq/1
(tests/rawpeer.py) so that it can send what no client library would. Every case ends the same
way: the documented error or close code, and :func:`bystander_ok` proves that the broker process
is alive and another client is still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import weakref
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from rawpeer import TIMEOUT, RawPeer, envelope, error_code
from websocketmq import Broker, BrokerOptions
from websocketmq import connect as connect_client
from websocketmq.errors import Unauthenticated
from websocketmq.protocol.envelope import Message
from websocketmq.server import Server, serve
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

__all__: list[str] = []


@contextlib.asynccontextmanager
async def running(
    *, fast_write: bool | None = None, compression: str | None = None, **options: Any
) -> AsyncIterator[tuple[Broker, Server]]:
    """A broker with an echo handler (``t.echo``) and a slow one (``t.slow``), served on a free
    port; every option is a ``BrokerOptions`` field (``fast_write`` and ``compression`` go to
    ``serve``)."""
    broker = Broker(BrokerOptions(**options))

    @broker.subscribe("t.echo")
    async def echo(msg: Message, client_id: str | None) -> Any:
        return msg.body

    @broker.subscribe("t.whoami")
    async def whoami(msg: Message, client_id: str | None) -> Any:
        conn = broker.get_client(client_id or "")
        return {"client": client_id, "identity": conn.identity if conn else None}

    _DEPARTURES[broker] = Departures(broker)

    release = asyncio.Event()

    @broker.subscribe("t.slow")
    async def slow(msg: Message, client_id: str | None) -> Any:
        await release.wait()
        return "late"

    async with serve(
        broker, "127.0.0.1", 0, fast_write=fast_write, compression=compression
    ) as server:
        try:
            yield broker, server
        finally:
            release.set()


class Departures:
    """Deregistrations as the broker announces them (``_internal.client.deregistered``), so a
    test can wait for "this client's state is freed" instead of sleeping (also test_faults)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.reasons: dict[str, str] = {}
        self._changed = asyncio.Condition()
        broker.subscribe("_internal.client.deregistered", self._gone)

    async def _gone(self, msg: Message, client_id: str | None) -> None:
        async with self._changed:
            self.reasons[msg.body["brokerClientID"]] = msg.body.get("reason", "")
            self._changed.notify_all()

    async def wait(self, client_id: str, timeout: float = TIMEOUT) -> str:
        """Wait until the broker has deregistered ``client_id`` (freed its state); the reason."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: client_id in self.reasons), timeout
            )
        assert client_id not in self.broker.client_ids()
        return self.reasons[client_id]


_DEPARTURES: weakref.WeakKeyDictionary[Broker, Departures] = weakref.WeakKeyDictionary()


async def departure(broker: Broker, client_id: str, timeout: float = TIMEOUT) -> str:
    """:meth:`Departures.wait` for a broker made by :func:`running`."""
    return await _DEPARTURES[broker].wait(client_id, timeout)


async def bystander_ok(url: str, **kwargs: Any) -> None:
    """A fresh, well-behaved client is served normally (the broker survived, others unaffected)."""
    peer = await RawPeer.connect(url, **kwargs)
    try:
        answer = await peer.request("t.echo", {"still": "alive"})
        assert answer["header"]["type"] == "response", answer
        assert answer["body"] == {"still": "alive"}
    finally:
        await peer.aclose()


@pytest.fixture
async def srv() -> AsyncIterator[tuple[Broker, Server]]:
    async with running() as pair:
        yield pair


# --- bad input, table-driven ------------------------------------------------------------------

HUGE = "x" * 5000
BAD_FRAMES: list[tuple[str, Any, str, str | None]] = [
    # (id, frame, expected code, expected correlationID of the error or None = don't care)
    ("not-json", "hello", "BAD_MESSAGE", "_invalid"),
    ("json-array", "[1,2]", "BAD_MESSAGE", "_invalid"),
    ("json-null", "null", "BAD_MESSAGE", "_invalid"),
    ("empty-object", "{}", "BAD_MESSAGE", "_invalid"),
    ("header-null", {"header": None}, "BAD_MESSAGE", "_invalid"),
    ("header-string", {"header": "x"}, "BAD_MESSAGE", "_invalid"),
    (
        "type-unknown",
        {"header": {"messageID": "m1", "type": "publish", "topic": "t.a"}},
        "BAD_MESSAGE",
        "m1",
    ),
    ("type-missing", {"header": {"messageID": "m1", "topic": "t.a"}}, "BAD_MESSAGE", "m1"),
    (
        "type-number",
        {"header": {"messageID": "m1", "type": 1, "topic": "t.a"}},
        "BAD_MESSAGE",
        "m1",
    ),
    ("topic-missing", {"header": {"messageID": "m1", "type": "event"}}, "BAD_MESSAGE", "m1"),
    (
        "topic-null",
        {"header": {"messageID": "m1", "type": "event", "topic": None}},
        "BAD_MESSAGE",
        "m1",
    ),
    (
        "topic-empty",
        {"header": {"messageID": "m1", "type": "event", "topic": ""}},
        "BAD_MESSAGE",
        "m1",
    ),
    (
        "topic-huge",
        {"header": {"messageID": "m1", "type": "event", "topic": HUGE}},
        "BAD_MESSAGE",
        "m1",
    ),
    ("mid-missing", {"header": {"type": "event", "topic": "t.a"}}, "BAD_MESSAGE", "_invalid"),
    (
        "mid-null",
        {"header": {"messageID": None, "type": "event", "topic": "t.a"}},
        "BAD_MESSAGE",
        "_invalid",
    ),
    (
        "mid-number",
        {"header": {"messageID": 7, "type": "event", "topic": "t.a"}},
        "BAD_MESSAGE",
        "_invalid",
    ),
    (
        "mid-huge",
        {"header": {"messageID": HUGE, "type": "event", "topic": "t.a"}},
        "BAD_MESSAGE",
        "_invalid",
    ),
    (
        "request-no-corr",
        {"header": {"messageID": "m1", "type": "request", "topic": "t.echo"}},
        "BAD_MESSAGE",
        "m1",
    ),
    (
        "corr-huge",
        {
            "header": {
                "messageID": "m1",
                "correlationID": HUGE,
                "type": "request",
                "topic": "t.echo",
            }
        },
        "BAD_MESSAGE",
        "m1",
    ),
    (
        "ttl-negative",
        {
            "header": {
                "messageID": "m1",
                "correlationID": "c1",
                "type": "request",
                "topic": "t.echo",
                "ttl": -5,
            }
        },
        "BAD_MESSAGE",
        "c1",
    ),
    (
        "ttl-string",
        {
            "header": {
                "messageID": "m1",
                "correlationID": "c1",
                "type": "request",
                "topic": "t.echo",
                "ttl": "5",
            }
        },
        "BAD_MESSAGE",
        "c1",
    ),
    (
        "timestamp-string",
        {"header": {"messageID": "m1", "type": "event", "topic": "t.a", "timestamp": "now"}},
        "BAD_MESSAGE",
        "m1",
    ),
    ("wildcard-publish", envelope("event", "t.*", corr=None), "BAD_TOPIC", None),
    ("fullwild-publish", envelope("event", "t.>"), "BAD_TOPIC", None),
    ("space-topic", envelope("event", "t a"), "BAD_TOPIC", None),
    ("nul-topic", envelope("event", "t.\u0000"), "BAD_TOPIC", None),
    ("newline-topic", envelope("event", "t.a\nb"), "BAD_TOPIC", None),
    ("empty-token", envelope("event", "t..a"), "BAD_TOPIC", None),
    ("too-many-tokens", envelope("event", ".".join(["a"] * 40)), "BAD_TOPIC", None),
    ("topic-256-bytes", envelope("event", "é" * 128), "BAD_TOPIC", None),
    ("wildcard-request", envelope("request", "t.*"), "BAD_TOPIC", None),
    ("reserved-publish", envelope("event", "_internal.client.registered", {}), "FORBIDDEN", None),
    ("reserved-request", envelope("request", "_internal.x"), "FORBIDDEN", None),
    ("underscore-publish", envelope("event", "_secret", {}), "FORBIDDEN", None),
    ("second-register", envelope("event", "_client.register", {}), "ALREADY_REGISTERED", None),
    (
        "answer-never-sent",
        envelope("response", "c-nope", {}, corr="c-nope"),
        "UNKNOWN_CORRELATION",
        None,
    ),
    ("binary-frame", b"\x00\x01binary", "BAD_MESSAGE", None),
]


@pytest.mark.parametrize(
    ("frame", "code", "corr"),
    [pytest.param(f, c, r, id=i) for i, f, c, r in BAD_FRAMES],
)
async def test_bad_frames_get_documented_error(
    srv: tuple[Broker, Server], frame: Any, code: str, corr: str | None
) -> None:
    _, server = srv
    peer = await RawPeer.connect(server.url)
    try:
        await peer.send(frame)
        err = await peer.expect(lambda m: m["header"]["type"] == "error")
        assert error_code(err) == code, err
        if corr is not None:
            assert err["header"]["correlationID"] == corr, err
        assert err["header"]["topic"] == err["header"]["correlationID"]
        # the connection stays usable after one bad frame
        answer = await peer.request("t.echo", 1)
        assert answer["body"] == 1
    finally:
        await peer.aclose()
    await bystander_ok(server.url)


async def test_subscribe_reserved_and_bad_patterns(srv: tuple[Broker, Server]) -> None:
    _, server = srv
    peer = await RawPeer.connect(server.url)
    try:
        for pattern, code in [
            ("_internal.>", "FORBIDDEN"),
            ("_internal.client.registered", "FORBIDDEN"),
            ("_client.*", "FORBIDDEN"),
            ("a.>.b", "BAD_TOPIC"),
            ("a.b*", "BAD_TOPIC"),
            ("a\tb", "BAD_TOPIC"),
            ("", "BAD_TOPIC"),
        ]:
            answer = await peer.subscribe(pattern)
            assert error_code(answer) == code, (pattern, answer)
        answer = await peer.request("_client.subscribe", {"topic": 5})
        assert error_code(answer) == "BAD_MESSAGE"
    finally:
        await peer.aclose()


async def test_wildcard_subscriber_never_sees_internal_events(srv: tuple[Broker, Server]) -> None:
    """`>` matches every topic, but `_internal.*` (who connects, with which IDs) is server-only."""
    broker, server = srv
    spy = await RawPeer.connect(server.url)
    try:
        assert (await spy.subscribe(">"))["header"]["type"] == "response"
        other = await RawPeer.connect(server.url)  # emits _internal.client.registered
        await other.aclose()  # and _internal.client.deregistered
        await broker.publish("after.all", {"marker": True})
        msg = await spy.expect(lambda m: m["header"]["type"] == "event")
        assert msg["header"]["topic"] == "after.all", msg  # nothing internal came before it
    finally:
        await spy.aclose()


async def test_invalid_utf8_closes_1007(srv: tuple[Broker, Server]) -> None:
    _, server = srv
    peer = await RawPeer.connect(server.url)
    await peer.ws.send(b'{"header": "\xc3\x28"}', text=True)  # a text frame that is not UTF-8
    assert await peer.closed() == 1007
    await bystander_ok(server.url)


async def test_nesting_depth_10000(srv: tuple[Broker, Server]) -> None:
    _, server = srv
    peer = await RawPeer.connect(server.url)
    try:
        deep = "[" * 10_000 + "]" * 10_000
        await peer.send(
            '{"header": {"messageID": "deep-1", "type": "event", "topic": "t.a"}, "body": '
            + deep
            + "}"
        )
        err = await peer.expect(lambda m: m["header"]["type"] == "error")
        assert error_code(err) == "BAD_MESSAGE"
        assert (await peer.request("t.echo", 2))["body"] == 2
    finally:
        await peer.aclose()
    await bystander_ok(server.url)


async def test_oversized_frame_too_large_then_1009() -> None:
    async with running(max_message_size=64 * 1024) as (_, server):
        peer = await RawPeer.connect(server.url, max_size=None)
        await peer.send(envelope("event", "t.big", "x" * (64 * 1024 + 1)))
        err = await peer.expect(lambda m: m["header"]["type"] == "error")
        assert error_code(err) == "TOO_LARGE"
        assert await peer.closed() == 1009
        await bystander_ok(server.url)


async def test_deflate_bomb_is_cut_off_at_the_decompressed_size() -> None:
    """A ~10 kB compressed frame that inflates to 10 MB: the decompressor stops at the limit,
    and the client is told why (TOO_LARGE) before the close 1009, like any oversized frame."""
    limit = 64 * 1024
    async with running(max_message_size=limit, compression="deflate") as (broker, server):
        peer = await RawPeer.connect(
            server.url,
            extensions=[ClientPerMessageDeflateFactory()],
            compression=None,
            max_size=None,
        )
        assert peer.ws.response is not None
        assert "permessage-deflate" in peer.ws.response.headers.get("Sec-WebSocket-Extensions", "")
        bomb = json.dumps(envelope("event", "t.bomb", "0" * 10_000_000))
        assert len(zlib.compress(bomb.encode())) < 20_000
        await peer.send(bomb)
        assert await peer.closed() == 1009
        assert [error_code(m) for m in peer.inbox] == ["TOO_LARGE"], peer.inbox
        await bystander_ok(server.url)
        assert broker.client_ids() == []  # only the bystander came and went


async def test_spoofed_correlation_from_another_client_does_not_settle(
    srv: tuple[Broker, Server],
) -> None:
    """B answers a server→client request that was sent to A: B gets UNKNOWN_CORRELATION and
    the call still settles with A's answer, exactly once."""
    broker, server = srv
    a = await RawPeer.connect(server.url)
    b = await RawPeer.connect(server.url)
    try:
        call = asyncio.create_task(broker.request_to_client(a.client_id, "q.ask", {"n": 1}))
        req = await a.expect(lambda m: m["header"]["type"] == "request")
        corr = req["header"]["correlationID"]
        await b.send(envelope("response", corr, {"from": "B"}, corr=corr))
        err = await b.expect(lambda m: m["header"]["type"] == "error")
        assert error_code(err) == "UNKNOWN_CORRELATION"
        assert not call.done()
        await a.send(envelope("response", corr, {"from": "A"}, corr=corr))
        assert await asyncio.wait_for(call, TIMEOUT) == {"from": "A"}
        # a duplicate answer from A is discarded silently (no error, no second settlement)
        await a.send(envelope("response", corr, {"from": "A again"}, corr=corr))
        assert (await a.request("_client.ping", None))["header"]["type"] == "response"
        assert not [m for m in a.inbox if m["header"]["type"] == "error"]
    finally:
        await a.aclose()
        await b.aclose()


async def test_claiming_another_clients_id_needs_its_token(srv: tuple[Broker, Server]) -> None:
    broker, server = srv
    a = await RawPeer.connect(server.url)
    try:
        for token in (None, "forged", a.resume_token[:-2] + "xx"):
            body: dict[str, Any] = {"brokerClientID": a.client_id}
            if token is not None:
                body["resumeToken"] = token
            thief = await RawPeer.connect(server.url, register=False)
            ack = await thief.register(body)
            assert ack["resumed"] is False
            assert ack["brokerClientID"] != a.client_id
            await thief.aclose()
        # A was never disturbed
        assert a.client_id in broker.client_ids()
        assert (await a.request("t.echo", "mine"))["body"] == "mine"
        # with the real token the identity moves and the old connection is closed with 4009
        heir = await RawPeer.connect(server.url, register=False)
        ack = await heir.register({"brokerClientID": a.client_id, "resumeToken": a.resume_token})
        assert ack["resumed"] is True and ack["brokerClientID"] == a.client_id
        assert await a.closed() == 4009
        await heir.aclose()
    finally:
        await a.aclose()


async def test_broker_stamps_source_over_a_forged_one(srv: tuple[Broker, Server]) -> None:
    _, server = srv
    sub = await RawPeer.connect(server.url)
    pub = await RawPeer.connect(server.url)
    try:
        await sub.subscribe("news.x")
        await pub.send(envelope("event", "news.x", {"n": 1}, source=sub.client_id))
        msg = await sub.expect(lambda m: m["header"]["type"] == "event")
        assert msg["header"]["source"] == pub.client_id
    finally:
        await sub.aclose()
        await pub.aclose()


async def test_too_many_requests_in_flight_rate_limited() -> None:
    async with running(max_pending_requests_per_connection=2) as (_, server):
        peer = await RawPeer.connect(server.url)
        try:
            for _ in range(2):
                await peer.send(envelope("request", "t.slow", None))
            answer = await peer.request("t.slow", None)
            assert error_code(answer) == "RATE_LIMITED"
        finally:
            await peer.aclose()
        await bystander_ok(server.url)


# --- slow consumer ----------------------------------------------------------------------------


@pytest.mark.parametrize("fast_write", [None, False], ids=["direct-writes", "queued-writes"])
async def test_slow_consumer_closed_4008_without_slowing_others(fast_write: bool | None) -> None:
    # both write paths of server.py: the direct one (probed websockets internals, the default)
    # and the public-API fallback; the broker supplies the RATE_LIMITED frame to either
    # close_timeout: the slow peer reads only once the publishing is over, and must still find
    # the final frame and the close code then (a loaded machine can take seconds to get there)
    async with running(fast_write=fast_write, send_queue_size=16, close_timeout=TIMEOUT * 3) as (
        broker,
        server,
    ):
        # A client that stops reading: a tiny receive buffer (no autotuning) and no reads.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        slow = await RawPeer.connect(server.url, max_queue=1, sock=sock, compression=None)
        fast = await RawPeer.connect(server.url)
        try:
            await slow.subscribe("load.x")
            await fast.subscribe("load.x")
            body = os.urandom(16_384).hex()  # 32 kB, incompressible (permessage-deflate is on)
            count = 400  # ~13 MB: far more than the slow client's socket buffers hold
            received = 0
            progress = asyncio.Event()

            async def read_fast() -> None:
                nonlocal received
                while received < count:
                    msg = await fast.expect(lambda m: m["header"]["type"] == "event")
                    assert msg["body"]["seq"] == received
                    received += 1
                    progress.set()

            reader = asyncio.create_task(read_fast())
            for seq in range(count):
                # paced by the *fast* subscriber only: if the slow one held anything back,
                # this loop would stall and the test time out
                while seq - received > 8:
                    progress.clear()
                    await asyncio.wait_for(progress.wait(), TIMEOUT)
                await broker.publish("load.x", {"seq": seq, "pad": body})
            await asyncio.wait_for(reader, TIMEOUT * 3)
            assert received == count  # the fast subscriber got everything, in order
            # the slow one was cut off: drain its socket to find the close code
            assert await slow.closed(TIMEOUT * 3) == 4008
            # ... after the error envelope that says why (spec §12.1)
            last = slow.inbox[-1]
            assert error_code(last) == "RATE_LIMITED", last
            assert last["body"]["error"]["details"] == {"reason": "slow-consumer"}
            await departure(broker, slow.client_id)
        finally:
            await slow.aclose()
            await fast.aclose()
        await bystander_ok(server.url)


# --- authentication and authorization ---------------------------------------------------------

SECRET = "s3cr3t-t0ken-value"


def _authenticate(request: Any) -> Any:
    """Accept ``?token=SECRET`` or ``Authorization: Bearer SECRET``; identity = a dict."""
    from urllib.parse import parse_qs, urlsplit

    token = parse_qs(urlsplit(request.path).query).get("token", [""])[0]
    auth = request.headers.get("Authorization", "")
    if token == SECRET or auth == f"Bearer {SECRET}":
        return {"user": "alice"}
    raise ValueError(
        f"bad token {token!r} / {auth!r}"
    )  # a careless app: the broker must not log it


async def test_authentication_at_upgrade_and_tokens_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, including websockets' own debug logging
    wrong = "wrong-" + SECRET
    async with running(authenticate=_authenticate) as (broker, server):
        for url, headers in [
            (server.url, {}),
            (server.url + "?token=" + wrong, {}),
            (server.url, {"Authorization": f"Bearer {wrong}"}),
        ]:
            with pytest.raises(InvalidStatus) as info:
                await connect(url, additional_headers=headers, open_timeout=TIMEOUT)
            assert info.value.response.status_code == 401
        assert broker.client_ids() == []  # no half-open session
        for url, headers in [
            (server.url + "?token=" + SECRET, {}),
            (server.url, {"Authorization": f"Bearer {SECRET}"}),
        ]:
            peer = await RawPeer.connect(url, additional_headers=headers)
            answer = await peer.request("t.whoami", None)
            assert answer["body"] == {"client": peer.client_id, "identity": {"user": "alice"}}
            # resume tokens are secrets too
            resume = peer.resume_token
            await peer.aclose()
            heir = await RawPeer.connect(url, additional_headers=headers, register=False)
            await heir.register({"brokerClientID": peer.client_id, "resumeToken": resume})
            await heir.aclose()
    # the broker's side only: the test's own websockets client logs what it sends, of course
    records = [r for r in caplog.records if not r.name.startswith("websockets.client")]
    assert any(r.name.startswith("websocketmq") for r in records)  # logging did happen
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records)
    for secret in (SECRET, resume):
        assert secret not in logged, [r.getMessage() for r in records if secret in r.getMessage()]


def _authorize(conn: Any, action: str, topic: str) -> bool:
    if topic.startswith("secret."):
        return False
    if action == "publish" and topic.startswith("ro."):
        return False
    return not (action == "request" and topic == "t.denied")


async def test_authorization_per_action_and_no_leak_through_wildcards() -> None:
    async with running(authorize=_authorize) as (broker, server):

        @broker.subscribe("t.denied")
        async def denied(msg: Message, client_id: str | None) -> Any:
            raise AssertionError("a denied request must never reach its handler")

        peer = await RawPeer.connect(server.url)
        try:
            assert error_code(await peer.subscribe("secret.x")) == "FORBIDDEN"
            assert error_code(await peer.request("t.denied", None)) == "FORBIDDEN"
            await peer.send(envelope("event", "ro.news", {}))
            err = await peer.expect(lambda m: m["header"]["type"] == "error")
            assert error_code(err) == "FORBIDDEN"
            # a wildcard subscription is allowed, but secret.* deliveries are filtered out
            assert (await peer.subscribe(">"))["header"]["type"] == "response"
            await broker.publish("secret.plans", {"leak": True})
            await broker.publish("public.news", {"ok": True})
            msg = await peer.expect(lambda m: m["header"]["type"] == "event")
            assert msg["header"]["topic"] == "public.news", msg
        finally:
            await peer.aclose()
        await bystander_ok(server.url)


# --- first-message authentication -------------------------------------------------------------


def _authenticate_message(upgrade_identity: Any, auth: Any) -> Any:
    if isinstance(auth, dict) and auth.get("token") == SECRET:
        return {"user": "bob", "via": "first-message"}
    raise PermissionError(f"bad credential {auth!r}")  # careless again: must not be logged


async def test_first_message_authentication(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + SECRET
    async with running(authenticate_message=_authenticate_message, auth_timeout=1.0) as (
        broker,
        server,
    ):
        # silence: the deadline passes → UNAUTHENTICATED, 4001
        idle = await RawPeer.connect(server.url, register=False)
        err = await idle.expect(lambda m: m["header"]["type"] == "error")
        assert error_code(err) == "UNAUTHENTICATED"
        assert await idle.closed() == 4001
        # anything but an authenticated register first → UNAUTHENTICATED, 1008, nothing served
        for first in (
            envelope("request", "t.whoami", None),
            envelope("event", "_client.register", {}),
            envelope("event", "_client.register", {"auth": {"token": wrong}}),
            "not json",
        ):
            peer = await RawPeer.connect(server.url, register=False)
            await peer.send(first)
            err = await peer.expect(lambda m: m["header"]["type"] == "error")
            assert error_code(err) == "UNAUTHENTICATED", (first, err)
            assert await peer.closed() == 1008
            assert not [m for m in peer.inbox if m["header"]["type"] != "error"]
        assert broker.client_ids() == []  # never a half-open session
        # the right credential: registered, identity visible to handlers
        good = await RawPeer.connect(server.url, register=False)
        ack = await good.register({"auth": {"token": SECRET}, "pageSessionID": "p1"})
        assert ack["status"] == "registered" and ack["pageSessionID"] == "p1"
        answer = await good.request("t.whoami", None)
        assert answer["body"]["identity"] == {"user": "bob", "via": "first-message"}
        await good.aclose()
        # the Python client sends it for you, on every (re)connection
        async with connect_client(server.url, auth={"token": SECRET}) as client:
            assert (await client.request("t.whoami", None))["identity"]["user"] == "bob"
        with pytest.raises(Unauthenticated):
            await connect_client(server.url, auth={"token": wrong}, auto_reconnect=False)
    logged = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith("websockets.client")
    )
    assert SECRET not in logged
