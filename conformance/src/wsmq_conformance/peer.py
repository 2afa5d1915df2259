"""A deliberately dumb wsmq/1 client used to probe a server from the outside.

It is not the project's client library (the suite must not import ``websocketmq``): it sends
exactly the frames a case builds, including broken ones, and keeps every frame it receives so a
case can assert on what arrived, what did not, and in which order.  It never answers anything by
itself; server→client requests land in the inbox for the case to handle.

Every frame received is also checked against the envelope rules (spec: wire format); violations
are collected on the shared :class:`FrameLog` and reported by case 2.9.1 at the end of the run,
so a malformed server frame is blamed once, under the right requirement, instead of making
unrelated cases fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .model import CaseFailed, Unimplemented

if TYPE_CHECKING:
    from .probe import Capabilities

__all__ = [
    "CODE_RE",
    "TRANSCRIPT_FRAMES",
    "TYPES",
    "FrameLog",
    "Msg",
    "Peer",
    "Transcript",
    "envelope_problems",
]

TRANSCRIPT_FRAMES = 200  # the last frames of a case kept for its report (hypothesis replays
# the minimal failing example last, so the tail is the part that explains a failure)
TRANSCRIPT_CHARS = 600


class Transcript(deque[dict[str, Any]]):
    """The frames one case sent and received, in order (as Autobahn's per-case report shows):
    ``{"t": seconds since the case started, "peer", "dir": sent|received|closed, "frame"}``."""

    def __init__(self) -> None:
        super().__init__(maxlen=TRANSCRIPT_FRAMES)
        self.t0 = time.monotonic()
        self.total = 0

    def record(self, peer: str, direction: str, frame: str | bytes) -> None:
        self.total += 1
        text = frame if isinstance(frame, str) else f"<binary {len(frame)} bytes> {frame[:80]!r}"
        if len(text) > TRANSCRIPT_CHARS:
            text = f"{text[:TRANSCRIPT_CHARS]}… ({len(text)} characters)"
        t = round(time.monotonic() - self.t0, 4)
        self.append({"t": t, "peer": peer, "dir": direction, "frame": text})


TYPES = ("event", "request", "response", "error")
CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
MISSING: Any = object()
_counter = itertools.count(1)


@dataclass
class FrameLog:
    """Shared across all peers of one run: counts frames and remembers invalid ones.

    ``schema`` (when the spec's schemas were found) validates the first ``schema_cap`` frames
    against envelope.schema.json too; the hand-written checks run on every frame.
    """

    frames: int = 0
    violations: list[str] = field(default_factory=list)
    schema: Any = None
    schema_cap: int = 3000
    schema_checked: int = 0

    def schema_problems(self, obj: Any) -> list[str]:
        if self.schema is None or self.schema_checked >= self.schema_cap:
            return []
        self.schema_checked += 1
        return [f"schema: {p}" for p in self.schema.envelope_problems(obj)]

    def add(self, problem: str) -> None:
        if len(self.violations) < 50:
            self.violations.append(problem)


@dataclass
class Msg:
    """One decoded envelope received from the server."""

    raw: str
    header: dict[str, Any]
    body: Any
    received: float

    @property
    def type(self) -> Any:
        return self.header.get("type")

    @property
    def topic(self) -> Any:
        return self.header.get("topic")

    @property
    def corr(self) -> Any:
        return self.header.get("correlationID")

    @property
    def msg_id(self) -> Any:
        return self.header.get("messageID")

    @property
    def error_code(self) -> Any:
        """The wire error code of an ``error`` envelope, or None."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None

    def short(self) -> str:
        text = self.raw
        return text if len(text) <= 300 else text[:300] + "…"


def envelope_problems(obj: Any) -> list[str]:
    """What is wrong with an envelope a *server* sent (empty list = valid). Spec: wire format."""
    if not isinstance(obj, dict):
        return ["frame is not a JSON object"]
    h = obj.get("header")
    if not isinstance(h, dict):
        return ["header missing or not an object"]
    out = []
    mid = h.get("messageID")
    if not isinstance(mid, str) or not mid or len(mid) > 128:
        out.append(f"bad messageID {mid!r}")
    t = h.get("type")
    if t not in TYPES:
        out.append(f"bad type {t!r}")
    topic = h.get("topic")
    if not isinstance(topic, str) or not topic:
        out.append(f"bad topic {topic!r}")
    if "timestamp" in h and (
        not isinstance(h["timestamp"], int) or isinstance(h["timestamp"], bool)
    ):
        out.append(f"timestamp not an integer: {h['timestamp']!r}")
    if t in ("request", "response", "error"):
        corr = h.get("correlationID")
        if not isinstance(corr, str) or not corr:
            out.append(f"{t} without a correlationID")
        elif t != "request" and topic != corr:
            out.append(f"{t} topic {topic!r} != correlationID {corr!r}")
    if t == "error":
        err = obj.get("body", {}).get("error") if isinstance(obj.get("body"), dict) else None
        if not isinstance(err, dict):
            out.append("error body lacks an 'error' object")
        else:
            code = err.get("code")
            if not isinstance(code, str) or not CODE_RE.match(code):
                out.append(f"bad error code {code!r}")
            if not isinstance(err.get("message"), str):
                out.append("error without a string message")
    return out


def new_id(prefix: str = "m") -> str:
    """Unique IDs, readable in reports (``m-17-3fa2``)."""
    return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


class Peer:
    """One WebSocket connection to the server under test."""

    def __init__(
        self,
        ws: ClientConnection,
        name: str,
        log: FrameLog,
        rate: float = 0,
        burst: int = 300,
        *,
        caps: Capabilities | None = None,
        transcript: Transcript | None = None,
    ) -> None:
        self.ws = ws
        self.caps = caps
        self.transcript = transcript
        self.answer_timeout = caps.answer_timeout if caps is not None else 5.0
        self.rate, self.burst = rate, burst
        self._tokens, self._last = float(burst), time.monotonic()
        self.name = name
        self.log = log
        self.inbox: list[Msg] = []
        self.client_id: str | None = None
        self.ack: dict[str, Any] | None = None
        self._waiters: dict[str, asyncio.Future[Msg]] = {}
        self.on_message: Callable[[Peer, Msg], bool] | None = None
        """Sees every request and event first; returning True consumes it (not in the inbox):
        the contract tests answer server→client requests with it."""
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name=f"wsmq-peer-{name}")

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        name: str,
        log: FrameLog,
        max_size: int | None = None,
        rate: float = 0,
        burst: int = 300,
        caps: Capabilities | None = None,
        transcript: Transcript | None = None,
    ) -> Peer:
        """Connect (no registration: cases decide what to send first).

        ``rate`` > 0 paces this connection's sends (token bucket, ``burst`` deep) so that the
        suite stays under a server's per-connection message-rate limit (spec §12.1) instead of
        tripping RATE_LIMITED in cases that test something else."""
        ws = await asyncio.wait_for(
            connect(url, max_size=max_size, open_timeout=10, ping_interval=None, compression=None),
            10,
        )
        return cls(ws, name, log, rate, burst, caps=caps, transcript=transcript)

    # -- receiving -------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                self.log.frames += 1
                if self.transcript is not None:
                    self.transcript.record(self.name, "received", data)
                if isinstance(data, bytes):
                    self.log.add(f"{self.name}: server sent a binary frame")
                    continue
                try:
                    obj = json.loads(data)
                except ValueError:
                    self.log.add(f"{self.name}: server sent invalid JSON: {data[:200]!r}")
                    continue
                problems = envelope_problems(obj) or self.log.schema_problems(obj)
                if problems:
                    self.log.add(f"{self.name}: {'; '.join(problems)} in {data[:200]}")
                    if not isinstance(obj, dict) or not isinstance(obj.get("header"), dict):
                        continue
                msg = Msg(data, obj["header"], obj.get("body"), time.monotonic())
                fut = self._waiters.get(msg.corr) if msg.type in ("response", "error") else None
                if fut is not None and not fut.done():
                    del self._waiters[msg.corr]
                    fut.set_result(msg)
                elif self.on_message is not None and self.on_message(self, msg):
                    pass
                else:
                    self.inbox.append(msg)
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            if self.transcript is not None:
                self.transcript.record(self.name, "closed", self.close_desc())
            for fut in self._waiters.values():
                if not fut.done():
                    fut.set_exception(
                        CaseFailed(f"{self.name}: connection closed ({self.close_desc()})")
                    )
                    fut.exception()  # retrieved: nobody may be waiting any more
            self._changed.set()

    @property
    def is_closed(self) -> bool:
        return self._reader.done()

    def close_desc(self) -> str:
        return f"code {self.ws.close_code}, reason {self.ws.close_reason!r}"

    async def wait_closed(self, timeout: float) -> int | None:
        """Wait for the server to close; returns the close code it sent (None = no close frame)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        if not self._reader.done():
            raise CaseFailed(f"{self.name}: server did not close the connection within {timeout}s")
        rcvd = self.ws.protocol.close_rcvd
        return rcvd.code if rcvd is not None else None

    async def expect(
        self, pred: Callable[[Msg], bool], what: str, timeout: float | None = None
    ) -> Msg:
        """Remove and return the first inbox message matching ``pred``; wait up to ``timeout``
        (default: the run's answer timeout)."""
        timeout = self.answer_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.inbox):
                if pred(m):
                    return self.inbox.pop(i)
            if self.is_closed:
                raise CaseFailed(
                    f"{self.name}: connection closed ({self.close_desc()}) while waiting for {what}"
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise CaseFailed(f"{self.name}: timed out after {timeout}s waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    def take(self, pred: Callable[[Msg], bool]) -> list[Msg]:
        """Remove and return every inbox message matching ``pred`` (no waiting)."""
        hit = [m for m in self.inbox if pred(m)]
        self.inbox = [m for m in self.inbox if not pred(m)]
        return hit

    # -- sending ---------------------------------------------------------------------------

    @staticmethod
    def envelope(
        type_: str,
        topic: str,
        body: Any = MISSING,
        *,
        corr: str | None = None,
        ttl: int | None = None,
        msg_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        header: dict[str, Any] = {
            "messageID": msg_id or new_id(),
            "type": type_,
            "topic": topic,
            "timestamp": int(time.time() * 1000),
        }
        if corr is not None:
            header["correlationID"] = corr
        if ttl is not None:
            header["ttl"] = ttl
        header.update(extra)
        env: dict[str, Any] = {"header": header}
        if body is not MISSING:
            env["body"] = body
        return env

    async def _pace(self) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate) - 1
        self._last = now
        if self._tokens < 0:  # reserve the token now, wait for it (FIFO among concurrent senders)
            await asyncio.sleep(-self._tokens / self.rate)

    async def send_raw(self, data: str | bytes) -> None:
        await self._pace()
        if self.transcript is not None:
            self.transcript.record(self.name, "sent", data)
        try:
            await self.ws.send(data)
        except ConnectionClosed as exc:
            raise CaseFailed(f"{self.name}: connection closed ({self.close_desc()})") from exc

    async def send(self, env: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(env, ensure_ascii=False))

    def waiter(self, corr: str) -> asyncio.Future[Msg]:
        """A future settled by the first response/error carrying ``corr``; create before sending."""
        fut: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
        self._waiters[corr] = fut
        return fut

    async def wait(self, fut: asyncio.Future[Msg], what: str, timeout: float | None = None) -> Msg:
        timeout = self.answer_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            raise CaseFailed(f"{self.name}: no answer within {timeout}s to {what}") from None

    async def request(
        self,
        topic: str,
        body: Any = MISSING,
        *,
        ttl: int | None = None,
        corr: str | None = None,
        timeout: float | None = None,
        **extra: Any,
    ) -> Msg:
        """Send a request and return its response or error envelope."""
        corr = corr or new_id("c")
        env = self.envelope("request", topic, body, corr=corr, ttl=ttl, **extra)
        fut = self.waiter(corr)
        await self.send(env)
        return await self.wait(fut, f"request {topic!r} ({corr})", timeout)

    async def call(self, topic: str, body: Any = MISSING, **kw: Any) -> Any:
        """Request that must succeed: returns the response body or fails the case."""
        m = await self.request(topic, body, **kw)
        if m.type != "response":
            raise CaseFailed(f"{self.name}: request {topic!r} answered with {m.short()}")
        return m.body

    async def publish(self, topic: str, body: Any = MISSING, **extra: Any) -> str:
        env = self.envelope("event", topic, body, **extra)
        await self.send(env)
        return str(env["header"]["messageID"])

    async def register(self, body: Any = None, timeout: float | None = None) -> dict[str, Any]:
        """Send ``_client.register`` and wait for the acknowledgement event.  The body the
        probe found acknowledged (``{}``, or one with a pageSessionID) is the default, and its
        members are added to an object ``body`` that lacks them."""
        base = dict(self.caps.register_body) if self.caps is not None else {}
        if body is None:
            body = base
        elif isinstance(body, dict):
            body = base | body
        await self.send(self.envelope("event", "_client.register", body))
        return await self.wait_ack(timeout)

    def ack_field(self, name: str) -> Any:
        """A member of this peer's registration ack that a case uses as a tool (a resume
        token, the size limit): UNIMPLEMENTED when missing, since case 1.1.1 judges the ack."""
        v = (self.ack or {}).get(name)
        if v is None:
            raise Unimplemented(f"the registration ack has no {name} (case 1.1.1 judges the ack)")
        return v

    def barrier_request(self) -> tuple[str, Any]:
        """A request the server answers, for cases that need a round trip of any kind:
        ``_client.ping``, else ``conformance.echo``, else one nobody serves (NO_HANDLER)."""
        caps = self.caps
        if caps is None or caps.ping:
            return "_client.ping", {}
        if caps.fixture:
            return "conformance.echo", {"barrier": True}
        if caps.no_handler:
            return f"cfbarrier.{uuid.uuid4().hex[:12]}.nobody", {}
        self.need("ping")
        raise AssertionError("unreachable")

    async def wait_ack(self, timeout: float | None = None) -> dict[str, Any]:
        m = await self.expect(
            lambda m: m.type == "event" and m.topic == "_internal.client.registered",
            "the registration ack (_internal.client.registered)",
            timeout,
        )
        if not isinstance(m.body, dict):
            raise CaseFailed(f"{self.name}: registration ack body is not an object: {m.short()}")
        self.ack = m.body
        cid = m.body.get("brokerClientID")
        self.client_id = cid if isinstance(cid, str) else None
        return m.body

    def need(self, tool: str) -> None:
        """Raise Unimplemented when the probe found the server lacks ``tool`` (a case must not
        FAIL for a tool it uses rather than the rule it tests)."""
        if self.caps is not None and not getattr(self.caps, tool):
            raise Unimplemented(
                {
                    "subscribe": "the server does not answer _client.subscribe (case 3.1.1 "
                    "judges that); this case needs it as a tool",
                    "ping": "the server answers no round trip (_client.ping, conformance.echo "
                    "or a request nobody serves), so nothing proves an absence",
                }.get(tool, f"the server lacks {tool}")
            )

    async def subscribe(self, pattern: str, *, echo: bool | None = None) -> None:
        self.need("subscribe")
        body: dict[str, Any] = {"topic": pattern}
        if echo is not None:
            body["echo"] = echo
        res = await self.call("_client.subscribe", body)
        if not (isinstance(res, dict) and res.get("subscribed") is True):
            raise CaseFailed(f"{self.name}: subscribe {pattern!r} answered {res!r}")

    async def unsubscribe(self, pattern: str) -> Any:
        return await self.call("_client.unsubscribe", {"topic": pattern})

    async def ping(self, timeout: float | None = None) -> None:
        """Round trip through the server: proves the connection is alive and everything the
        server sent before the answer has been read (per-connection ordering).

        ``_client.ping`` when the server answers it; otherwise another request the probe saw
        answered (``conformance.echo``, else one nobody serves, which a server answers with
        NO_HANDLER); otherwise the case is UNIMPLEMENTED.  Cases that test ``_client.ping``
        itself send it with :meth:`call`."""
        topic, body = self.barrier_request()
        if topic.startswith("cfbarrier."):
            await self.request(topic, body, timeout=timeout)  # any answer will do
        else:
            await self.call(topic, body, timeout=timeout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2)
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader
