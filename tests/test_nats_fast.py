"""The nats-py shortcuts of ``websocketmq.backends.nats_fast`` (NatsBackend's hot path).

Why: they lean on nats-py internals, so these tests pin (1) that the installed nats-py still
has them (``supported()``; a nats-py upgrade that breaks them fails here, not silently slow),
(2) that the fast parser yields exactly what nats-py's own parser yields for any split of the
byte stream (differential test, the reference parser is the oracle), and (3) direct
subscriptions and ``publish_nowait`` against a real nats-server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.protocol.parser import Parser
from nats_cluster import NATS_SERVER, SKIP_REASON, NatsServer
from websocketmq.backends import nats_fast
from websocketmq.backends.nats_fast import FastClient, FastParser
from websocketmq.backends.nats_subjects import build_headers

pytestmark = [pytest.mark.nats, pytest.mark.timeout(60)]

__all__: list[str] = []

STREAM = (
    b'INFO {"server_id":"x","max_payload":1048576}\r\n'
    b"MSG a.b 1 5\r\nhello\r\n"
    b"MSG a.b 1 _INBOX.r 0\r\n\r\n"
    b"+OK\r\n"
    b"HMSG a.c 2 wsmq.n.x.a.1 16 21\r\nNATS/1.0 503\r\n\r\nbody!\r\n"
    b"PING\r\n"
    b"HMSG a.d 3 24 26\r\nNATS/1.0\r\nK: v\r\nX: y\r\n\r\n{}\r\n"
    b"PONG\r\n"
    b"MSG  spaced.subject\t4  reply.to  3\r\nabc\r\n"
    b"-ERR 'Permissions Violation for Subscription to foo'\r\n"
    b"MSG last 5 2\r\n\r\n\r\n"
)


class Recorder:
    """Stands in for nats-py's Client: records what the parser dispatches, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        self.calls.append(("msg", sid, bytes(subject), bytes(reply), data, headers))

    async def _process_ping(self) -> None:
        self.calls.append(("ping",))

    async def _process_pong(self) -> None:
        self.calls.append(("pong",))

    async def _process_info(self, info: dict[str, Any]) -> None:
        self.calls.append(("info", info))

    async def _process_err(self, err: str) -> None:
        self.calls.append(("err", err))


async def _run(parser_cls: type[Parser], chunks: list[bytes]) -> list[tuple[Any, ...]]:
    rec = Recorder()
    parser = parser_cls(rec)
    for chunk in chunks:
        await parser.parse(chunk)
    assert not parser.buf, "everything was consumed"
    return rec.calls


def test_installed_nats_py_has_what_the_fast_path_needs() -> None:
    assert nats_fast.supported()


async def test_fast_parser_matches_nats_py_for_every_split() -> None:
    expected = await _run(Parser, [STREAM])
    assert len(expected) == 10 and expected[3][-1] == b"NATS/1.0 503\r\n\r\n"
    assert await _run(FastParser, [STREAM]) == expected
    assert await _run(FastParser, [bytes([b]) for b in STREAM]) == expected
    for cut in range(1, len(STREAM)):
        got = await _run(FastParser, [STREAM[:cut], STREAM[cut:]])
        assert got == expected, f"split at {cut}"
    for a in range(1, len(STREAM), 7):
        for b in range(a + 1, len(STREAM), 11):
            got = await _run(FastParser, [STREAM[:a], STREAM[a:b], STREAM[b:]])
            assert got == expected, f"splits at {a}, {b}"


class DirectRecorder(Recorder):
    """A Recorder with direct handlers for some sids, dispatched like FastClient does on the
    base parser's path (the fast parser calls them itself)."""

    def __init__(self, sids: tuple[int, ...]) -> None:
        super().__init__()
        self.stats = {"in_msgs": 0, "in_bytes": 0}
        self._direct = {sid: self._handler(sid) for sid in sids}

    _call_direct = nats_fast.FastClient._call_direct  # what the fast parser calls: the real one

    def _handler(self, sid: int) -> nats_fast.DirectHandler:
        def fn(subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
            self.calls.append(("msg", sid, bytes(subject), bytes(reply), data, headers))

        return fn

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        fn = self._direct.get(sid)
        if fn is None:
            await super()._process_msg(sid, subject, reply, data, headers)
        else:
            fn(subject, reply, data, headers)


async def test_fast_parser_calls_direct_handlers_in_stream_order() -> None:
    expected = await _run(Parser, [STREAM])
    splits = [[STREAM], [bytes([b]) for b in STREAM]]
    splits += [[STREAM[:cut], STREAM[cut:]] for cut in range(1, len(STREAM), 5)]
    for chunks in splits:
        rec = DirectRecorder((1, 3))
        parser = FastParser(rec)
        for chunk in chunks:
            await parser.parse(chunk)
        assert rec.calls == expected
    # without the INFO in front the fast path takes the MSG/HMSG ops up to the -ERR itself
    whole = DirectRecorder((1, 3))
    await FastParser(whole).parse(STREAM[STREAM.index(b"MSG ") :])
    assert whole.stats == {"in_msgs": 3, "in_bytes": 5 + 0 + 2}  # sid 1 twice, sid 3 once
    assert [c[1] for c in whole.calls if c[0] == "msg"] == [1, 1, 2, 3, 4, 5]


async def test_fast_parser_rejects_a_malformed_msg_like_nats_py() -> None:
    from nats.errors import ProtocolError

    for parser_cls in (Parser, FastParser):
        with pytest.raises(ProtocolError):
            await _run(parser_cls, [b"MSG a.b 1 x y z 5\r\nhello\r\n"])


@pytest.mark.skipif(NATS_SERVER is None, reason=SKIP_REASON)
async def test_direct_subscription_and_publish_nowait_over_real_nats() -> None:
    async with NatsServer.start() as srv:
        nc = FastClient()
        await nc.connect(srv.url)
        try:
            got: list[tuple[bytes, bytes, bytes, bytes | None]] = []
            done = asyncio.Event()

            def direct(subject: bytes, reply: bytes, data: bytes, h: bytes | None) -> None:
                got.append((subject, reply, data, h))
                if len(got) == 3:
                    done.set()

            via_cb: list[bytes] = []

            async def cb(msg: Any) -> None:
                via_cb.append(msg.data)

            sub = await nc.subscribe("fast.>", cb=cb)
            nc.set_direct(sub, direct)
            await nc.flush()
            assert nc.publish_nowait("fast.one", b"1")
            assert nc.publish_nowait("fast.two", b"22", reply="r.x")
            assert nc.publish_nowait("fast.three", b"333", headers=build_headers({"K": "v"}))
            await asyncio.wait_for(done.wait(), 10)
            assert got == [
                (b"fast.one", b"", b"1", None),
                (b"fast.two", b"r.x", b"22", None),
                (b"fast.three", b"", b"333", b"NATS/1.0\r\nK: v\r\n\r\n"),
            ]
            assert via_cb == []  # the direct handler replaced the callback
            await sub.unsubscribe()
            assert sub._id not in nc._direct  # dropped with its subscription
            # no responders: the server answers the request's reply subject with a 503 status
            inbox = await nc.subscribe("inbox.>", cb=cb)
            statuses: list[bytes | None] = []
            answered = asyncio.Event()

            def on_inbox(subject: bytes, reply: bytes, data: bytes, h: bytes | None) -> None:
                statuses.append(h)
                answered.set()

            nc.set_direct(inbox, on_inbox)
            await nc.flush()
            assert nc.publish_nowait("nobody.here", b"?", reply="inbox.1")
            await asyncio.wait_for(answered.wait(), 10)
            assert statuses[0] is not None and statuses[0].startswith(b"NATS/1.0 503")
        finally:
            await nc.close()
        assert not nc.publish_nowait("fast.closed", b"x")  # closed: caller uses the slow path
