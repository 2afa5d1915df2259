"""What the broker tells an observer (docs/operations.md): a few hooks on the hot path.

The broker holds at most one :class:`Observer` (``broker.observer``, None when nothing
observes). Each hook site is ``if obs is not None: obs.hook(...)``: with observation off the
hot path pays one attribute test, with it on one method call that bumps plain integers.
Nothing here formats, locks or allocates per message: exporters (``websocketmq.metrics`` for
Prometheus, the dashboard) read the totals of a :class:`Tally` when they are asked.

Everything the broker can count by looking at its own state (connections by state,
subscriptions, send queues, the backend's connection and message counts) is *not* a hook: it
is read at scrape time (``websocketmq.metrics``), so it costs nothing per message.

Hooks:

=======================  ============================================  ===========================
hook                     called when                                   site
=======================  ============================================  ===========================
``sent(frame)``          a frame was queued to a client                ``ClientConnection.send``
``sent_known(kind, n)``  n frames the broker knows the kind of were    ``Router.deliver_event``
                         queued (a fan-out, a server→client request)   ``ClientConnection.request``
``answered(…)``          a client's request was answered: its answer   ``Router._reply`` (the one
                         queued, counted and timed in one call         client→server path, §8)
``request_done(…)``      a request was answered otherwise (s→c, or     ``Broker.request_to_client``
                         a c→s request cancelled or refused)           and ``Router._finish``
``closed(code)``         a client connection ended (its close code)    the transport
=======================  ============================================  ===========================

Received frames are not a hook: an observer whose :attr:`Observer.received_by_type` is a dict
has every connection's session count into it what the decoder found each frame to be (the
session's "Counting" rule, websocketmq.protocol.session), which is cheaper and more exact than
looking through the text again. The metrics cost of all this per request is measured by the
``wsmq-metrics`` bench row and ``python -m bench.hotpath`` (docs/benchmarks.md, "Metrics cost").
"""

from __future__ import annotations

import bisect
import re
import time
from dataclasses import dataclass, field
from typing import Any, Final

from .health import not_ready_reason

__all__ = [
    "CLIENT_TO_SERVER",
    "DURATION_BUCKETS",
    "SERVER_TO_CLIENT",
    "Calls",
    "Observer",
    "Snapshot",
    "Tally",
    "answer_code",
    "error_code",
    "frame_type",
    "snapshot",
]

CLIENT_TO_SERVER: Final = "client_to_server"
SERVER_TO_CLIENT: Final = "server_to_client"
DURATION_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
"""Upper bounds (s) of ``wsmq_request_duration_seconds``: sub-millisecond echoes on one node
to handlers near the default 30 s ttl."""

_TYPES = {"eve": "event", "req": "request", "res": "response", "err": "error"}
_TYPE_RE = re.compile(r'"type"\s*:\s*"(event|request|response|error)"')
_TYPE_RE_B = re.compile(rb'"type"\s*:\s*"(event|request|response|error)"')
_CODE_RE_B = re.compile(rb'"code"\s*:\s*"([A-Z0-9_]{1,64})"')
_COUNTED = ("event", "request", "response", "error", "other", "binary")
_BY_CHAR = {"e": "event", "r": "error", "q": "request", "s": "response"}
_BY_BYTE = {ord(k): v for k, v in _BY_CHAR.items()}
_FIRST_BOUND = DURATION_BUCKETS[0]
_SNIFF = 512
"""Characters of a frame searched for its type: the header comes first in what our encoder
and the clients write, and a frame whose type is not there is counted as ``other``."""


def frame_type(frame: str | bytes) -> str:
    """The envelope type of an encoded frame without decoding it (``other`` if not found).

    The fast path finds ``"type":"`` (no spaces: what msgspec and ``JSON.stringify`` write)
    and reads three letters; a regex covers spaced JSON. Good enough for counting; the
    session's decoder stays the authority on what a frame is (spec §3).
    """
    if isinstance(frame, bytes):
        i = frame.find(b'"type":"', 0, _SNIFF)
        if i >= 0:
            kind = _TYPES.get(frame[i + 8 : i + 11].decode("ascii", "replace"))
            if kind is not None:
                return kind
        mb = _TYPE_RE_B.search(frame, 0, _SNIFF)
        return mb.group(1).decode() if mb else "other"
    j = frame.find('"type":"', 0, _SNIFF)
    if j >= 0:
        kind = _TYPES.get(frame[j + 8 : j + 11])
        if kind is not None:
            return kind
    ms = _TYPE_RE.search(frame, 0, _SNIFF)
    return ms.group(1) if ms else "other"


def answer_code(frame: bytes) -> str:
    """``OK`` for an encoded response, the error code for an error (``requests_total``)."""
    return error_code(frame) if frame_type(frame) == "error" else "OK"


def error_code(frame: bytes) -> str:
    """The ``body.error.code`` of an encoded error envelope (spec §11), ``UNKNOWN`` if none."""
    m = _CODE_RE_B.search(frame)
    return m.group(1).decode() if m else "UNKNOWN"


class Observer:
    """The hooks, doing nothing. Subclass and override what you need; the broker calls them
    synchronously on the event loop, so they must be quick and must not raise."""

    received_by_type: dict[str, int] | None = None
    """None, or the dict every connection's session counts received frames in, by what they
    decoded as (``event``, ``request``, ``response``, ``error``, ``binary``, ``other``)."""

    def sent(self, frame: bytes) -> None:
        """A frame was queued to a client."""

    def sent_known(self, kind: str, count: int = 1) -> None:
        """``count`` frames of envelope type ``kind`` were queued (one call per fan-out: the
        same event to ``count`` subscribers; or a server→client request)."""

    def request_done(self, direction: str, started: float, code: str) -> None:
        """A request was answered: ``direction`` is :data:`CLIENT_TO_SERVER` or
        :data:`SERVER_TO_CLIENT`, ``started`` its ``time.perf_counter()`` at arrival (or at
        sending), ``code`` ``OK`` or the error code of the answer (spec §11)."""

    def answered(self, direction: str, started: float, frame: bytes) -> str:
        """A request was answered with ``frame``, just queued to the client: what :meth:`sent`,
        :meth:`answer_code` and :meth:`request_done` do for it, in one call (the broker's
        busiest observed path makes one call per request, not three). Returns the code."""
        self.sent(frame)
        code = self.answer_code(frame)
        self.request_done(direction, started, code)
        return code

    def closed(self, code: int) -> None:
        """A client connection ended with this close code (1006: lost without a close)."""

    def answer_code(self, frame: bytes) -> str:
        """``OK`` or the error code of an answer the broker just sent (an observer that
        classified it in :meth:`sent` may answer from that)."""
        return answer_code(frame)


class Calls:
    """The requests answered in one direction: how many per outcome code (``OK`` or the error
    code), and their durations as a count per bucket of :data:`DURATION_BUCKETS` (the last
    slot is +Inf) with their sum (``wsmq_requests_total``, ``wsmq_request_duration_seconds``)."""

    __slots__ = ("errors", "ok", "seconds", "slots")

    def __init__(self) -> None:
        self.ok = 0
        self.errors: dict[str, int] = {}
        """Requests answered with an error, by its code (``OK`` is :attr:`ok`)."""
        self.slots = [0] * (len(DURATION_BUCKETS) + 1)
        self.seconds = 0.0

    def add(self, elapsed: float, code: str) -> None:
        """One more request, answered with ``code`` after ``elapsed`` seconds."""
        if code == "OK":
            self.ok += 1
        else:
            errors = self.errors
            errors[code] = errors.get(code, 0) + 1
        # most answers on one node take under the first bound: skip the search for them
        self.slots[
            0 if elapsed <= _FIRST_BOUND else bisect.bisect_left(DURATION_BUCKETS, elapsed)
        ] += 1
        self.seconds += elapsed

    @property
    def codes(self) -> dict[str, int]:
        """Requests answered so far by outcome code, ``OK`` first (``wsmq_requests_total``)."""
        return {"OK": self.ok, **self.errors}

    @property
    def count(self) -> int:
        """Requests answered so far (any outcome)."""
        return self.ok + sum(self.errors.values())


class Tally(Observer):
    """An observer keeping totals in plain integers (what exporters read).

    ``received_by_type``/``sent_by_type``: frames by envelope type (read ``sent_by_type``
    through :meth:`sent_counts`: the responses :meth:`answered` sent are counted apart, as
    one integer); ``errors``: error envelopes sent, by code; ``calls``: direction →
    :class:`Calls`; ``closes``: by close code. Single-threaded by design: the broker's event
    loop is the only writer.
    """

    __slots__ = (
        "_last_frame",
        "_last_type",
        "_responses",
        "calls",
        "closes",
        "errors",
        "received_by_type",
        "sent_by_type",
        "started_at",
    )

    def __init__(self) -> None:
        self.received_by_type: dict[str, int] = dict.fromkeys(_COUNTED, 0)
        self.sent_by_type: dict[str, int] = dict.fromkeys(_COUNTED, 0)
        self.errors: dict[str, int] = {}
        self.calls = {CLIENT_TO_SERVER: Calls(), SERVER_TO_CLIENT: Calls()}
        self._responses = 0
        self.closes: dict[int, int] = {}
        self.started_at = time.time()
        # An event fanned out to N subscribers is one bytes object sent N times, and an answer
        # is classified by sent() and then answer_code(): classify each frame once.
        self._last_frame: bytes | None = None
        self._last_type = ""

    # The hot methods inline frame_type's fast path: the letter after '"type":"e' / '"r…' at
    # offset 10 tells the four types apart (evEnt, errOr → 'e'/'r'; reqUest/resPonse → 'q'/'s').

    def sent(self, frame: bytes) -> None:
        kind: str | None
        if frame is self._last_frame:
            kind = self._last_type
        else:
            i = frame.find(b'"type":"', 0, _SNIFF)
            kind = _BY_BYTE.get(frame[i + 10]) if 0 <= i < len(frame) - 10 else None
            if kind is None:
                kind = frame_type(frame)
            self._last_frame = frame
            self._last_type = kind
        self.sent_by_type[kind] += 1
        if kind == "error":
            code = error_code(frame)
            self.errors[code] = self.errors.get(code, 0) + 1

    def sent_known(self, kind: str, count: int = 1) -> None:
        counts = self.sent_by_type
        counts[kind] = counts.get(kind, 0) + count

    def answer_code(self, frame: bytes) -> str:
        if frame is self._last_frame:  # just sent: classified already
            return error_code(frame) if self._last_type == "error" else "OK"
        return answer_code(frame)

    def request_done(self, direction: str, started: float, code: str) -> None:
        self.calls[direction].add(time.perf_counter() - started, code)

    def answered(self, direction: str, started: float, frame: bytes) -> str:
        elapsed = time.perf_counter() - started
        i = frame.find(b'"type":"', 0, _SNIFF)
        if i >= 0 and frame[i + 10 : i + 11] == b"s":  # "response": the common case, code OK
            self._responses += 1
            code = "OK"
        else:
            self.sent(frame)
            code = self.answer_code(frame)
        self.calls[direction].add(elapsed, code)
        return code

    def closed(self, code: int) -> None:
        self.closes[code] = self.closes.get(code, 0) + 1

    def sent_counts(self) -> dict[str, int]:
        """Frames queued to clients so far, by envelope type (``wsmq_messages_sent_total``)."""
        counts = dict(self.sent_by_type)
        counts["response"] = counts.get("response", 0) + self._responses
        return counts

    def request_count(self, direction: str) -> int:
        """Requests answered in ``direction`` so far (any outcome)."""
        return self.calls[direction].count


@dataclass(slots=True)
class Snapshot:
    """What the broker's own state says right now (read at scrape time, not counted).

    ``connections``: by state (``authenticating``, ``open``, ``registered``, ``closing``);
    ``subscriptions``: client subscriptions (one per pattern per connection) and handler
    registrations; ``queues``: frames waiting in each connection's send queue; ``backend``:
    its class name, whether it is connected (``backend_up``), its message counters.
    """

    connections: dict[str, int] = field(default_factory=dict)
    client_subscriptions: int = 0
    handler_subscriptions: int = 0
    queues: list[int] = field(default_factory=list)
    backend: str = ""
    backend_up: bool = False
    backend_counters: dict[str, int] = field(default_factory=dict)
    ready: bool = False
    draining: bool = False


def snapshot(broker: Any) -> Snapshot:
    """Read a :class:`Snapshot` off ``broker`` (O(connections): scrape-time only)."""
    snap = Snapshot()
    states = snap.connections
    for state in ("authenticating", "open", "registered", "closing"):
        states[state] = 0
    subs = 0
    queues = snap.queues
    for conn in broker.registry.connections():
        state = "authenticating" if conn.auth_pending else conn.session.state.value
        states[state] = states.get(state, 0) + 1
        subs += len(conn.subscriptions)
        queues.append(getattr(conn.transport, "queued", 0))
    snap.client_subscriptions = subs
    snap.handler_subscriptions = broker.handler_count()
    backend = broker.backend
    snap.backend = type(backend).__name__
    snap.backend_up = bool(backend.ready)
    snap.backend_counters = backend.counters()
    snap.draining = bool(getattr(broker, "draining", False))
    snap.ready = not_ready_reason(broker) is None
    return snap
