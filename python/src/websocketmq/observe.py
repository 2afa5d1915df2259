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
``received(frame)``      a frame arrived on a client connection        ``ClientConnection.receive``
``sent(frame)``          a frame was queued to a client                ``ClientConnection.send``
``sent_many(frame, n)``  an event was fanned out to n subscribers      ``Router.deliver_event``
``request_done(…)``      a request was answered (either direction)     the one request path per
                                                                       direction (spec §8)
``closed(code)``         a client connection ended (its close code)    the transport
=======================  ============================================  ===========================
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

    def received(self, frame: str | bytes) -> None:
        """A frame arrived from a client (before any check: invalid ones count too)."""

    def sent(self, frame: bytes) -> None:
        """A frame was queued to a client."""

    def sent_many(self, frame: bytes, count: int) -> None:
        """An event was queued to ``count`` subscribers (one call per fan-out)."""

    def request_done(self, direction: str, started: float, code: str) -> None:
        """A request was answered: ``direction`` is :data:`CLIENT_TO_SERVER` or
        :data:`SERVER_TO_CLIENT`, ``started`` its ``time.perf_counter()`` at arrival (or at
        sending), ``code`` ``OK`` or the error code of the answer (spec §11)."""

    def closed(self, code: int) -> None:
        """A client connection ended with this close code (1006: lost without a close)."""

    def answer_code(self, frame: bytes) -> str:
        """``OK`` or the error code of an answer the broker just sent (an observer that
        classified it in :meth:`sent` may answer from that)."""
        return answer_code(frame)


class Tally(Observer):
    """An observer keeping totals in plain integers (what exporters read).

    ``received``/``sent``: frames by envelope type; ``errors``: error envelopes sent, by code;
    ``requests``: direction → code → count; ``durations``: per direction, a count per
    bucket of :data:`DURATION_BUCKETS` (the last slot is +Inf) and their sum; ``closes``: by
    close code. Single-threaded by design: the broker's event loop is the only writer.
    """

    __slots__ = (
        "_last_frame",
        "_last_type",
        "closes",
        "duration_sums",
        "durations",
        "errors",
        "received_by_type",
        "requests",
        "sent_by_type",
        "started_at",
    )

    def __init__(self) -> None:
        self.received_by_type: dict[str, int] = dict.fromkeys(_COUNTED, 0)
        self.sent_by_type: dict[str, int] = dict.fromkeys(_COUNTED, 0)
        self.errors: dict[str, int] = {}
        self.requests: dict[str, dict[str, int]] = {CLIENT_TO_SERVER: {}, SERVER_TO_CLIENT: {}}
        self.durations: dict[str, list[int]] = {
            d: [0] * (len(DURATION_BUCKETS) + 1) for d in (CLIENT_TO_SERVER, SERVER_TO_CLIENT)
        }
        self.duration_sums: dict[str, float] = {CLIENT_TO_SERVER: 0.0, SERVER_TO_CLIENT: 0.0}
        self.closes: dict[int, int] = {}
        self.started_at = time.time()
        # An event fanned out to N subscribers is one bytes object sent N times, and an answer
        # is classified by sent() and then answer_code(): classify each frame once.
        self._last_frame: bytes | None = None
        self._last_type = ""

    # The hot methods inline frame_type's fast path: the letter after '"type":"e' / '"r…' at
    # offset 10 tells the four types apart (evEnt, errOr → 'e'/'r'; reqUest/resPonse → 'q'/'s').

    def received(self, frame: str | bytes) -> None:
        kind: str | None
        if type(frame) is str:
            i = frame.find('"type":"', 0, _SNIFF)
            kind = _BY_CHAR.get(frame[i + 10 : i + 11]) if i >= 0 else None
            if kind is None:
                kind = frame_type(frame)
        else:
            kind = "binary"
        self.received_by_type[kind] += 1

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

    def sent_many(self, frame: bytes, count: int) -> None:
        kind = frame_type(frame)
        self.sent_by_type[kind] += count

    def answer_code(self, frame: bytes) -> str:
        if frame is self._last_frame:  # just sent: classified already
            return error_code(frame) if self._last_type == "error" else "OK"
        return answer_code(frame)

    def request_done(self, direction: str, started: float, code: str) -> None:
        elapsed = time.perf_counter() - started
        codes = self.requests[direction]
        codes[code] = codes.get(code, 0) + 1
        self.durations[direction][bisect.bisect_left(DURATION_BUCKETS, elapsed)] += 1
        self.duration_sums[direction] += elapsed

    def closed(self, code: int) -> None:
        self.closes[code] = self.closes.get(code, 0) + 1

    def request_count(self, direction: str) -> int:
        """Requests answered in ``direction`` so far (any outcome)."""
        return sum(self.requests[direction].values())


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
