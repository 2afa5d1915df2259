"""A minimal, standalone wsmq/1 server with switchable faults, for testing the conformance suite.

Why it exists: the suite must be shown to *find* bugs, so tests run it against servers that are
wrong in exactly one way and assert the failure is reported under the right case.  One small
correct-enough server with fault flags is easier to trust than many separate broken servers, and
it does not depend on the reference broker (whose bugs would otherwise blur the picture).  With
no fault it passes the whole suite, which also shows that every case can pass.

Run: ``python tests/broken_servers/wsmq_mini.py --port 0 [--fault NAME]``; it prints
``wsmq: listening on ws://127.0.0.1:PORT/ws`` when ready and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import signal
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol
from wsmq_conformance.rules import TOKEN_RE

__all__ = ["FAULTS", "MiniServer", "main"]

FAULTS = {
    "drop-correlation": "responses to requests carry no correlationID",
    "echo-to-sender": "a publish is delivered to its sender even without echo: true",
    "die-on-bad-json": "the connection is closed (1011) on a frame that is not JSON",
    "wrong-client": "a handler's answer is sent to another connected client",
    "no-no-handler": "requests without a handler are never answered (no NO_HANDLER)",
    "ignore-unsubscribe": "unsubscribe always answers true and keeps delivering",
    "gt-matches-zero": "'>' also matches zero tokens ('a.>' matches 'a')",
    "accept-any-resume": "resume accepts any token for a known client ID",
    "no-disconnect-settle": "a request pending on a client that leaves waits out its timeout",
    "negative-timestamp": "frames carry timestamp -1 (an integer: only the schema catches it)",
    # not one bug but another server's manners, which the suite must judge fairly:
    "seed-dialect": "speaks only the seed's dialect: acks only a register with a non-empty "
    "pageSessionID (no implicit registration, a seed-sized ack), answers no _client.* request "
    "(no ping, no subscribe), never says NO_HANDLER, has no conformance fixture",
    "silent": "accepts the WebSocket and never sends a frame",
    "js-numbers": "re-serializes numbers as JavaScript does (3.299974200384027e16 is written "
    "32999742003840270): the same JSON numbers, a correct server",
}


MAX_SIZE = 1024 * 1024
RATE, RATE_BURST = 200.0, 400.0  # messages per second per connection (spec §12.1)
MAX_PENDING = 256  # client→server requests in flight per connection (spec §12.1)
MAX_DEPTH = 64
BUDGETED = {"BAD_MESSAGE", "BAD_TOPIC", "TOO_LARGE", "UNKNOWN_CORRELATION"}
CONTROL_EVENTS = {"_client.register", "_client.cancel"}
CONTROL_REQUESTS = {"_client.subscribe", "_client.unsubscribe", "_client.ping"}
TOKEN = re.compile(TOKEN_RE)  # the topic token grammar, generated from the schema (spec §5.1)


def now_ms() -> int:
    return int(time.time() * 1000)


def token_ok(tok: str) -> bool:
    return TOKEN.fullmatch(tok) is not None


def topic_ok(topic: str, *, pattern: bool) -> bool:
    if len(topic.encode("utf-8", "surrogatepass")) > 255:
        return False
    toks = topic.split(".")
    if len(toks) > 32:
        return False
    for i, t in enumerate(toks):
        if pattern and t == "*":
            continue
        if pattern and t == ">" and i == len(toks) - 1:
            continue
        if not token_ok(t):
            return False
    return True


def matches(pattern: str, topic: str, gt_zero: bool = False) -> bool:
    p, t = pattern.split("."), topic.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(t) >= i if gt_zero else len(t) > i
        if i >= len(t) or (tok != "*" and tok != t[i]):
            return False
    return len(p) == len(t)


def _register_body(data: str | bytes) -> Any:
    """The body of a first frame that is a well-formed ``_client.register``, else {}."""
    try:
        obj = json.loads(data)
        h = obj["header"]
        if h["type"] == "event" and h["topic"] == "_client.register":
            return obj.get("body")
    except (ValueError, TypeError, KeyError):
        pass
    return {}


_REGISTER_LIMITS = {"pageSessionID": 256, "brokerClientID": 128, "resumeToken": 1024}
"""RegisterBody's maxLength per member (control.schema.json; this server reads no schema)."""


def _register_body_ok(body: Any) -> bool:
    return isinstance(body, dict) and all(
        isinstance(body[k], str) and len(body[k]) <= limit
        for k, limit in _REGISTER_LIMITS.items()
        if k in body
    )


def _too_deep(text: str) -> bool:
    """Nesting depth scan before decoding (spec §12.1), ignoring brackets inside strings."""
    depth, in_str, esc = 0, False, False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _js_numbers(v: Any) -> Any:
    """Integral floats as JavaScript's Number#toString writes them below 1e21 (digits, no
    exponent): 3.299974200384027e16 -> 32999742003840270, the same JSON number."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(Decimal(repr(v)))
    if isinstance(v, dict):
        return {k: _js_numbers(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_js_numbers(x) for x in v]
    return v


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _int_ok(v: Any, lo: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= 2**53 - 1


def _error_body_ok(body: Any) -> bool:
    e = body.get("error") if isinstance(body, dict) else None
    if not isinstance(e, dict) or not isinstance(e.get("message"), str):
        return False
    if "code" not in e:
        return True  # §11.1: a seed client's thrown error, read as HANDLER_ERROR
    return (
        isinstance(e.get("code"), str)
        and len(e["code"]) <= 64
        and e["code"][:1].isupper()
        and e["code"].replace("_", "").isalnum()
        and e["code"] == e["code"].upper()
    )


def _no_text(value: Any) -> bool:
    """Whether a JSON value holds a lone surrogate (§2.2 item 7) or a number beyond a double
    (§2.2 item 8): valid JSON with no wsmq meaning."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if any(0xD800 <= ord(ch) <= 0xDFFF for ch in v):
                return True
        elif isinstance(v, float):
            if v in (float("inf"), float("-inf")):
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _id_ok(v: Any) -> bool:
    return isinstance(v, str) and 1 <= len(v) <= 128 and not _no_text(v)


class Drop(Exception):
    """An invalid answer (response/error): dropped without a reply (spec §3.5 item 3)."""


class BadMessage(Exception):
    def __init__(self, code: str, corr: str, message: str) -> None:
        super().__init__(message)
        self.code, self.corr = code, corr


@dataclass(eq=False)
class Client:
    id: str
    ws: ServerConnection
    registered: bool = False
    subs: dict[str, bool] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    outgoing: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    settled: set[str] = field(default_factory=set)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    errors: list[float] = field(default_factory=list)
    closing: bool = False
    tokens: float = RATE_BURST  # §12.1 message rate: a token bucket
    refilled: float = field(default_factory=time.monotonic)

    def over_rate(self) -> bool:
        now = time.monotonic()
        self.tokens = min(RATE_BURST, self.tokens + (now - self.refilled) * RATE)
        self.refilled = now
        if self.tokens < 1:
            return True
        self.tokens -= 1
        return False


class MiniServer:
    def __init__(self, faults: set[str]) -> None:
        self.faults = faults
        self.clients: dict[str, Client] = {}
        self.conns: list[Client] = []
        self.secret = b"mini-secret"
        self.counts: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._closers: set[asyncio.Task[None]] = set()

    # -- framing ---------------------------------------------------------------------------

    def header_ts(self) -> int:
        return -1 if "negative-timestamp" in self.faults else now_ms()

    def env(self, c: Client, type_: str, topic: str, body: Any, corr: str | None = None) -> str:
        h: dict[str, Any] = {
            "messageID": f"s-{c.id}-{next(c.ids)}",
            "type": type_,
            "topic": topic,
            "timestamp": self.header_ts(),
        }
        if corr is not None:
            h["correlationID"] = corr
        return self.dumps({"header": h, "body": body})

    def dumps(self, obj: Any) -> str:
        return json.dumps(_js_numbers(obj) if "js-numbers" in self.faults else obj)

    async def send(
        self, c: Client, type_: str, topic: str, body: Any, corr: str | None = None
    ) -> None:
        with contextlib.suppress(ConnectionClosed):
            await c.ws.send(self.env(c, type_, topic, body, corr))

    async def error(self, c: Client, corr: str, code: str, message: str) -> None:
        await self.send(c, "error", corr, {"error": {"code": code, "message": message}}, corr)
        if code in BUDGETED:
            await self.count_error(c)

    async def count_error(self, c: Client) -> None:
        """Spec §12.1 protocol-error budget: RATE_LIMITED, then close 4029."""
        now = time.monotonic()
        c.errors = [t for t in c.errors if now - t < 10] + [now]
        if len(c.errors) > 20 and not c.closing:
            c.closing = True
            await self.send(
                c,
                "error",
                "_invalid",
                {"error": {"code": "RATE_LIMITED", "message": "error budget"}},
                "_invalid",
            )
            # Closing from a separate task: awaiting close() inside the handler's own receive loop
            # stalled here (websockets 17, compression off); the loop ignores frames meanwhile.
            self._closers.add(asyncio.create_task(c.ws.close(4029, "too many protocol errors")))

    async def answer(self, c: Client, corr: str, ok: bool, body: Any) -> None:
        """Send a handler's result (the place the answer-related faults live)."""
        target = c
        if "wrong-client" in self.faults:
            others = [o for o in self.conns if o is not c]
            if others:
                target = others[-1]
        if "drop-correlation" in self.faults:
            with contextlib.suppress(ConnectionClosed):
                h = {
                    "messageID": f"s-{c.id}-{next(c.ids)}",
                    "type": "response" if ok else "error",
                    "topic": corr,
                    "timestamp": self.header_ts(),
                }
                await target.ws.send(self.dumps({"header": h, "body": body}))
            return
        await self.send(target, "response" if ok else "error", corr, body, corr)

    # -- connection ------------------------------------------------------------------------

    def token(self, cid: str) -> str:
        exp = str(now_ms() + 3_600_000)
        mac = hmac.new(self.secret, f"{cid}.{exp}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{exp}.{mac}"

    def token_valid(self, cid: str, token: Any) -> bool:
        if "accept-any-resume" in self.faults:
            return True
        if not isinstance(token, str) or not token.isascii() or token.count(".") != 1:
            return False  # (compare_digest raises on non-ASCII str: found by conformance 1.2.4)
        exp, mac = token.split(".")
        want = hmac.new(self.secret, f"{cid}.{exp}".encode(), hashlib.sha256).hexdigest()[:32]
        return hmac.compare_digest(mac, want) and exp.isdigit() and int(exp) > now_ms()

    async def register(self, c: Client, body: Any, corr: str | None = None) -> None:
        body = body if isinstance(body, dict) else {}
        resumed = False
        want = body.get("brokerClientID")
        if isinstance(want, str) and want and self.token_valid(want, body.get("resumeToken")):
            old = self.clients.get(want)
            if old is not None and old is not c:
                await old.ws.close(4009, "superseded")
            self.clients.pop(c.id, None)
            c.id, resumed = want, True
        self.clients[c.id] = c
        c.registered = True
        ack: dict[str, Any] = {
            "brokerClientID": c.id,
            "status": "registered",
            "resumeToken": self.token(c.id),
            "resumed": resumed,
            "protocol": "wsmq/1",
            "pingInterval": 20000,
            "maxMessageSize": MAX_SIZE,
        }
        if isinstance(body.get("pageSessionID"), str):
            ack["pageSessionID"] = body["pageSessionID"]
        if "seed-dialect" in self.faults:
            ack = {k: ack[k] for k in ("brokerClientID", "status", "pageSessionID") if k in ack}
        await self.send(c, "event", "_internal.client.registered", ack, corr)

    async def connection(self, ws: ServerConnection) -> None:
        c = Client(id=f"c{next(self._ids)}", ws=ws)
        self.conns.append(c)
        try:
            async for data in ws:
                await self.frame(c, data)
        except ConnectionClosed:
            pass
        finally:
            self.conns.remove(c)
            if self.clients.get(c.id) is c:
                del self.clients[c.id]
            for t in c.tasks.values():
                t.cancel()
            gone = {"error": {"code": "DISCONNECTED", "message": "client went away"}}
            for fut in c.outgoing.values():  # spec §8.9: settle at once
                if not fut.done() and "no-disconnect-settle" not in self.faults:
                    fut.set_result({"type": "error", "body": gone})

    # -- inbound ---------------------------------------------------------------------------

    async def frame(self, c: Client, data: str | bytes) -> None:
        if c.closing or "silent" in self.faults:
            return
        if "seed-dialect" in self.faults:
            await self.seed_frame(c, data)
            return
        if len(data.encode() if isinstance(data, str) else data) > MAX_SIZE:  # bytes (§12.1)
            await self.error(c, "_invalid", "TOO_LARGE", "message too large")
            await c.ws.close(1009, "message too big")
            return
        if c.over_rate():
            await self.error(c, "_invalid", "RATE_LIMITED", "message rate exceeded")
            await self.count_error(c)
            return
        try:
            h, body = self.decode(data)
        except Drop:
            await self.count_error(c)
            return
        except BadMessage as exc:
            if (
                exc.corr == "_invalid"
                and isinstance(data, str)
                and "die-on-bad-json" in self.faults
            ):
                with contextlib.suppress(ValueError):
                    json.loads(data)
                    await self.error(c, exc.corr, exc.code, str(exc))
                    return
                await c.ws.close(1011, "cannot parse")
                return
            await self.error(c, exc.corr, exc.code, str(exc))
            return
        is_register = h["type"] == "event" and h["topic"] == "_client.register"
        if is_register and not c.registered:
            if body is not None and not _register_body_ok(body):
                await self.error(c, h["messageID"], "BAD_MESSAGE", "bad register body")
                return
            await self.register(c, body or {}, corr=h["messageID"])
            return
        if not c.registered:
            await self.register(c, {})  # spec §6.3: implicit, ack first
        t, topic, mid = h["type"], h["topic"], h["messageID"]
        if t == "event":
            if topic == "_client.register":
                await self.error(c, mid, "ALREADY_REGISTERED", "already registered")
                return
            if topic == "_client.cancel":
                corr = body.get("correlationID") if isinstance(body, dict) else None
                if not isinstance(corr, str) or not 1 <= len(corr) <= 128:
                    await self.error(c, mid, "BAD_MESSAGE", "CancelBody needs a correlationID")
                    return
                task = c.tasks.get(corr) if isinstance(corr, str) else None
                if task is not None:
                    c.cancelled.add(corr)
                    task.cancel()
                return
            await self.publish(topic, body, sender=c)
        elif t == "request":
            corr = h["correlationID"]
            ttl = min(h.get("ttl", 30000), 300000)
            if len(c.tasks) >= MAX_PENDING and not topic.startswith("_client."):  # §9 item 3
                await self.error(c, corr, "RATE_LIMITED", "too many requests in flight")
                return
            task = asyncio.create_task(self.request(c, topic, body, corr, ttl))
            c.tasks[corr] = task
            task.add_done_callback(lambda _t, corr=corr: c.tasks.pop(corr, None))
        else:
            corr = h["correlationID"]
            fut = c.outgoing.pop(corr, None)
            if fut is not None and not fut.done():
                fut.set_result({"type": t, "body": body})
                c.settled.add(corr)
            elif corr not in c.settled:
                await self.error(c, mid, "UNKNOWN_CORRELATION", "no such request")

    async def seed_frame(self, c: Client, data: str | bytes) -> None:
        """The seed's manners: register only with a pageSessionID, no control requests, no
        NO_HANDLER, no fixture; the rest (bad input, answers) as usual."""
        try:
            h, body = self.decode(data)
        except (Drop, BadMessage):
            return  # the seed does not report bad input
        t, topic = h["type"], h["topic"]
        if t == "event" and topic == "_client.register":
            page = body.get("pageSessionID") if isinstance(body, dict) else None
            if not c.registered and isinstance(page, str) and page:
                await self.register(c, body, corr=h["messageID"])
            return
        if t == "request" and (topic.startswith("_") or topic.startswith("conformance.")):
            return  # unanswered: the seed has neither control requests nor the fixture
        if t == "request":
            return  # and no NO_HANDLER: a request nobody serves waits out its timeout
        if t == "event" and not topic.startswith("_"):
            await self.publish(topic, body, sender=c)

    def decode(self, data: str | bytes) -> tuple[dict[str, Any], Any]:
        if isinstance(data, bytes):
            raise BadMessage("BAD_MESSAGE", "_invalid", "binary frames are not allowed")
        if _too_deep(data):
            raise BadMessage("BAD_MESSAGE", "_invalid", "nested too deep")
        try:
            obj = json.loads(data, parse_constant=_reject_constant)
        except ValueError:
            raise BadMessage("BAD_MESSAGE", "_invalid", "malformed JSON") from None
        h = obj.get("header") if isinstance(obj, dict) else None
        if not isinstance(h, dict):
            raise BadMessage("BAD_MESSAGE", "_invalid", "header missing")
        mid, t, topic, corr = (
            h.get("messageID"),
            h.get("type"),
            h.get("topic"),
            h.get("correlationID"),
        )
        corr_ok = _id_ok(corr)
        mid_ok = _id_ok(mid)
        # spec §3.5 item 2: whom an error about this message refers to
        ref = corr if t == "request" and corr_ok else mid if mid_ok else "_invalid"
        if t in ("response", "error") and not (mid_ok and corr_ok):
            raise Drop()
        if _no_text(obj):  # §2.2 items 7-8: the whole frame is refused
            if t in ("response", "error"):
                raise Drop()
            raise BadMessage("BAD_MESSAGE", ref, "a lone surrogate or an out-of-range number")
        if not mid_ok:
            raise BadMessage("BAD_MESSAGE", ref, "bad messageID")
        if t not in ("event", "request", "response", "error"):
            raise BadMessage("BAD_MESSAGE", ref, "bad type")
        if t == "request" and not corr_ok:
            raise BadMessage("BAD_MESSAGE", ref, "correlationID required")
        if t in ("response", "error"):
            if (
                not isinstance(corr, str)
                or not corr
                or len(corr) > 128
                or not isinstance(topic, str)
                or not _int_ok(h.get("timestamp"), 0)
                or (t == "error" and not _error_body_ok(obj.get("body")))
                or ("source" in h and not isinstance(h["source"], str))
            ):
                raise Drop()
            return h, obj.get("body")
        if not isinstance(topic, str) or not topic or len(topic) > 255:
            raise BadMessage("BAD_MESSAGE", ref, "bad topic")
        if not _int_ok(h.get("timestamp"), 0):
            raise BadMessage("BAD_MESSAGE", ref, "bad timestamp")
        if "source" in h and not isinstance(h["source"], str):
            raise BadMessage("BAD_MESSAGE", ref, "bad source")
        if t == "request" and "ttl" in h:
            ttl = h["ttl"]
            if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
                raise BadMessage("BAD_MESSAGE", ref, "bad ttl")
        if t in ("event", "request"):
            if not topic_ok(topic, pattern=False):
                raise BadMessage("BAD_TOPIC", ref, "bad topic")
            allowed = CONTROL_EVENTS if t == "event" else CONTROL_REQUESTS
            if topic.startswith("_") and topic not in allowed:
                raise BadMessage("FORBIDDEN", ref, "reserved topic")
        return h, obj.get("body")

    async def publish(self, topic: str, body: Any, sender: Client | None) -> None:
        if topic == "conformance.events" or topic.startswith("conformance.events."):
            self.counts[topic] += 1
        if topic.startswith("_"):
            return  # a reserved topic reaches no client (spec §5.2, §5.3)
        for o in list(self.conns):
            own = o is sender and "echo-to-sender" not in self.faults
            if own and not any(echo and matches(p, topic) for p, echo in o.subs.items()):
                continue
            gt0 = "gt-matches-zero" in self.faults
            if any(matches(p, topic, gt0) for p in o.subs):
                h: dict[str, Any] = {
                    "messageID": f"s-{o.id}-{next(o.ids)}",
                    "type": "event",
                    "topic": topic,
                    "timestamp": self.header_ts(),
                }
                if sender is not None:
                    h["source"] = sender.id
                with contextlib.suppress(ConnectionClosed):
                    await o.ws.send(self.dumps({"header": h, "body": body}))

    async def request(self, c: Client, topic: str, body: Any, corr: str, ttl: int) -> None:
        try:
            ok, result = await asyncio.wait_for(self.handle(c, topic, body), ttl / 1000)
        except TimeoutError:
            ok, result = False, {"error": {"code": "TIMEOUT", "message": "timed out"}}
        except asyncio.CancelledError:
            return
        if corr in c.cancelled:
            return
        if result is None and not ok:
            return  # no-no-handler fault: never answer
        if topic.startswith("_client."):
            await (
                self.send(c, "response", corr, result, corr)
                if ok
                else self.error(c, corr, result["error"]["code"], result["error"]["message"])
            )
        else:
            await self.answer(c, corr, ok, result)

    async def handle(self, c: Client, topic: str, body: Any) -> tuple[bool, Any]:
        b = body if isinstance(body, dict) else {}

        def err(code: str, msg: str) -> tuple[bool, Any]:
            return False, {"error": {"code": code, "message": msg}}

        if topic == "_client.ping":
            return True, {"timestamp": now_ms()}
        if topic in ("_client.subscribe", "_client.unsubscribe"):
            p = b.get("topic")
            if not isinstance(body, dict) or not isinstance(p, str):
                return err("BAD_MESSAGE", "body must be {topic: pattern}")
            if "echo" in b and not isinstance(b["echo"], bool):
                return err("BAD_MESSAGE", "echo must be a boolean")
            if not p or not topic_ok(p, pattern=True):
                return err("BAD_TOPIC", "bad pattern")
            if p.startswith("_"):
                return err("FORBIDDEN", "reserved")
            if topic == "_client.subscribe":
                c.subs[p] = b.get("echo") is True
                return True, {"topic": p, "subscribed": True}
            if "ignore-unsubscribe" in self.faults:
                return True, {"topic": p, "unsubscribed": True}
            return True, {"topic": p, "unsubscribed": c.subs.pop(p, None) is not None}
        if topic == "conformance.echo":
            return True, body
        if topic == "conformance.fail":
            return err(b.get("code") or "HANDLER_ERROR", "failed on purpose")
        if topic == "conformance.sleep":
            if isinstance(b.get("notify"), str):
                await self.publish(b["notify"], {"started": True}, sender=None)
            await asyncio.sleep(b.get("ms", 0) / 1000)
            return True, {"slept": b.get("ms", 0)}
        if topic == "conformance.publish":
            count = b.get("count", 1)
            for i in range(count):
                ev = b.get("body")
                if count > 1 and isinstance(ev, dict):
                    ev = {**ev, "seq": i}
                await self.publish(b["topic"], ev, sender=None)
            return True, {"published": count}
        if topic == "conformance.events.count":
            return True, {"count": self.counts[b.get("topic", "")]}
        if topic == "conformance.callback":
            if "clientID" in b:  # fixture extension: call another client back
                target = self.clients.get(b["clientID"])
                if target is None:
                    return err("UNKNOWN_CLIENT", "no such client")
                c = target
            corr = f"srv-{c.id}-{next(c.ids)}"
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            c.outgoing[corr] = fut
            await self.send(c, "request", b["topic"], b.get("body"), corr)
            try:
                ans = await asyncio.wait_for(fut, b.get("timeoutMs", 5000) / 1000)
            except TimeoutError:
                c.outgoing.pop(corr, None)
                c.settled.add(corr)
                await self.send(
                    c, "event", "_internal.cancel", {"correlationID": corr, "reason": "TIMEOUT"}
                )
                return err("TIMEOUT", "client did not answer")
            if ans["type"] == "response":
                return True, {"response": ans["body"]}
            e = ans["body"].get("error", {}) if isinstance(ans["body"], dict) else {}
            return err(e.get("code", "HANDLER_ERROR"), "client answered with an error")
        if "no-no-handler" in self.faults:
            return False, None
        return err("NO_HANDLER", f"no handler for {topic}")


async def amain(port: int, faults: set[str]) -> None:
    srv = MiniServer(faults)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)

    def select(_conn: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        return Subprotocol("wsmq.v1") if "wsmq.v1" in offered else None  # spec §2.1

    async with serve(
        srv.connection,
        "127.0.0.1",
        port,
        max_size=4 * MAX_SIZE,
        compression=None,
        select_subprotocol=select,
    ) as server:
        real = server.sockets[0].getsockname()[1]
        print(f"wsmq: listening on ws://127.0.0.1:{real}/ws", flush=True)
        await stop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS))
    args = ap.parse_args()
    asyncio.run(amain(args.port, set(args.fault)))


if __name__ == "__main__":
    main()
