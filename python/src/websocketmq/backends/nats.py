"""Scale-out backend: several broker nodes share topics, clients and RPC through NATS (§9).

Needs ``nats-py`` (``pip install 'websocketmq[nats]'``). Every node connects once to NATS and
maps the :class:`~websocketmq.backends.base.Backend` calls onto subjects (``<ns>`` = namespace)::

    publish(topic)            → PUB  wsmq.<ns>.t.<topic>           (nodes SUB the watched patterns;
                                                                     topic syntax = subject syntax)
    request(topic)            → PUB  wsmq.<ns>.r.<topic>  reply=wsmq.<ns>.n.<node>.a.<token>
                                     nodes SUB wsmq.<ns>.r.<pattern> in ONE queue group → exactly
                                     one node gets it; nobody → NATS 503 → NoHandler at once
    request_client(id)        → PUB  wsmq.<ns>.c.<id>.req  (holder SUBs wsmq.<ns>.c.<id>.*);
                                     nobody → 503 → UnknownClient at once
    send_to_client(id)        → REQ  wsmq.<ns>.c.<id>.msg   (answer: delivered or not)
    attach_client(id)         → SUB  wsmq.<ns>.c.<id>.*, then PUB …c.<id>.evict (old holder: 4009)
    liveness / cancel         →      wsmq.<ns>.n.<node>.ping / .x

Why these choices:

* **Local first.** A node that itself watches/serves/holds the target delivers directly: lowest
  latency, and a node cut off from NATS still works as a single broker. Its own published events
  come back from NATS (echo) and are dropped by checking the sending node's ID.
* **No hung callers.** A node that takes a remote request and has not answered it within
  ``accept_delay`` (50 ms) sends ``accept <node-id>``; the caller then probes that node
  (``…n.<node>.ping``) while it waits. A dead node's subscriptions vanish from NATS, so the
  probe gets "no responders" and the caller answers ``DISCONNECTED`` within about two probe
  intervals instead of at the request's ttl (``accept_timeout``, 3 s, if the node died within
  ``accept_delay`` of receiving it). Losing our own NATS connection fails our remote requests in
  flight at once.
* **Untrusted bus.** Every frame from NATS goes through the broker's total decoder and is checked
  against its subject (type, topic) before it reaches a host; nothing is ever unpickled.
* **Guarantees** (docs/deployment.md): events are at-most-once; events of one publisher on one
  topic reach each subscriber in order while both nodes stay connected; a request is handled by
  at most one handler in the cluster and never retried.

To run a 2-node cluster for benchmarks or experiments::

    nats-server -a 127.0.0.1 -p 4222 &
    wsmq serve --port 8081 --nats nats://127.0.0.1:4222 --resume-secret s &
    wsmq serve --port 8082 --nats nats://127.0.0.1:4222 --resume-secret s &

(``tests/nats_cluster.py`` does the same from Python on free ports: ``NatsServer.start()`` and
``BrokerNode.start([url])``.) For *cross-node* benchmark rows mind local-first routing: register
the RPC handlers only on node A and connect the callers to node B, or every request is served
where it arrives and never crosses NATS; for server→client RPC issue ``request_to_client`` on
node A for clients connected to B; for fan-out publish on A to subscribers on B.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadTopic, NoHandler, TooLarge, UnknownClient, WsmqError
from ..logs import rate_limit
from ..protocol.envelope import Message, decode, encode, new_error
from ..protocol.topics import SubscriptionIndex, validate_pattern, validate_topic
from .base import Backend, BackendHost, Reply
from .nats_subjects import (
    NAME_RE,
    NODE_HEADER,
    TIMEOUT_HEADER,
    Subjects,
    build_headers,
    node_mark,
    raw_headers,
    timeout_from_headers,
    timeout_from_raw,
)

try:
    from . import nats_fast
except ImportError:  # pragma: no cover - nats-py missing: reported by NatsBackend()
    nats_fast = None  # type: ignore[assignment]

try:  # optional dependency: import errors are reported when the backend is built
    import nats
    import nats.aio.client
    import nats.errors as nats_errors
    from nats.aio.client import Client as NatsClient
    from nats.aio.msg import Msg
except ImportError:  # pragma: no cover - exercised only without the extra installed
    nats = None  # type: ignore[assignment]

__all__ = ["DEFAULT_NAMESPACE", "PAYLOAD_OVERHEAD", "NatsBackend", "PayloadLimitError"]

log = rate_limit(logging.getLogger(__name__))
"""Rate-limited (websocketmq.logs.RepeatFilter): an outage must not log a line per dropped
publish."""

DEFAULT_NAMESPACE = "default"
PAYLOAD_OVERHEAD = 1024
"""Bytes reserved in NATS ``max_payload`` on top of ``max_message_size``: what a node adds to a
client's frame when it forwards it (``source``, the node and timeout headers, ``traceparent``),
with room to spare. The start-up check (:meth:`NatsBackend._payload_problem`) uses it."""
HEADER_ALLOWANCE = 256
"""Bytes of NATS headers a node adds to one message (node ID, timeout): counted against
``max_payload`` by nats-server, not by nats-py's own check."""


class PayloadLimitError(RuntimeError):
    """The NATS server's ``max_payload`` is too small for the broker's ``max_message_size``
    (raised by ``Broker.start()``; the node does not start)."""


_ACCEPT = b"accept "
_QUEUE = "wsmq-handlers"
_NO_RESPONDERS = b"NATS/1.0 503"
_SWEEP_INTERVAL = 0.05  # s: resolution of the accept checks and deadlines of remote requests


class _Pending:
    """A request this node sent over NATS and still waits for (caller side).

    The target (a topic's handler or a client) is kept as its name: the error texts and the
    exception for "nobody serves it" are built only when one is needed, not per request."""

    __slots__ = ("cancelled", "correlation_id", "deadline", "future", "name", "node", "to_client")

    def __init__(
        self,
        future: asyncio.Future[Reply],
        correlation_id: str | None,
        to_client: bool,
        name: str,
        deadline: float,
    ) -> None:
        self.future = future
        self.correlation_id = correlation_id
        self.to_client = to_client  # a server→client request (else one for a handler)
        self.name = name  # the client ID or the topic
        self.deadline = deadline  # loop time after which the caller answers TIMEOUT
        self.node: str | None = None  # the node that accepted it, once known
        self.cancelled = False  # the caller gave up before the accept arrived

    @property
    def target(self) -> str:
        """What the request is for, in error messages."""
        return _target(self.to_client, self.name)

    def nobody(self) -> WsmqError:
        """The exception when no node serves the target: UnknownClient / NoHandler."""
        if self.to_client:
            return UnknownClient(f"no connected client {self.name!r}")
        return NoHandler(f"no handler for {self.name!r}")


def _target(to_client: bool, name: str) -> str:
    return f"client {name!r}" if to_client else f"handler for {name!r}"


class _RemoteFuture(asyncio.Future[Reply]):
    """The future of a remote request: cancelling it tells the backend at once (a done
    callback per request would cost a loop callback on every answer, cancelled or not).
    Built with the loop only (Future's own constructor); the backend sets the two fields."""

    backend: NatsBackend
    token: str

    def cancel(self, msg: Any | None = None) -> bool:
        if not super().cancel(msg):
            return False
        self.backend._cancelled(self.token)
        return True


@dataclass
class _Watch:
    sub: Any
    pattern: str


@dataclass
class _ClientHold:
    sub: Any
    count: int = 1


@dataclass
class _NodeHealth:
    misses: int = 0
    pendings: set[str] = field(default_factory=set)


class NatsBackend(Backend):
    """Route between broker nodes through NATS (see the module docstring for the mapping).

    ``servers``: one URL or several (the NATS cluster; nats-py fails over between them and
    reconnects forever). ``namespace`` separates deployments sharing one NATS cluster.
    ``probe_interval`` (s) paces the liveness checks of nodes that hold our requests; a node is
    declared gone after two consecutive "no responders" probes. A serving node accepts a request
    it has not answered after ``accept_delay`` (s); one neither answered nor accepted within
    ``accept_timeout`` (s) fails ``DISCONNECTED``. ``grace`` (s) is how much longer
    than the request's own timeout a caller waits for the remote answer. ``start_timeout`` (s)
    bounds the first connection. Other keyword arguments go to :func:`nats.connect`
    (credentials, TLS, …).
    """

    def __init__(
        self,
        servers: str | Sequence[str] = "nats://127.0.0.1:4222",
        *,
        namespace: str = DEFAULT_NAMESPACE,
        node_id: str | None = None,
        probe_interval: float = 0.5,
        reconnect_time_wait: float = 0.25,
        grace: float = 2.0,
        accept_timeout: float = 3.0,
        accept_delay: float = 0.05,
        start_timeout: float = 10.0,
        **connect_options: Any,
    ) -> None:
        if nats is None:
            raise ImportError("NatsBackend needs nats-py: pip install 'websocketmq[nats]'")
        if not NAME_RE.fullmatch(namespace):
            raise ValueError(f"namespace must match {NAME_RE.pattern}: {namespace!r}")
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        if not self.servers:
            raise ValueError("NatsBackend needs at least one NATS server URL")
        self.namespace = namespace
        self.node_id = node_id or secrets.token_hex(8)
        if not NAME_RE.fullmatch(self.node_id):
            raise ValueError(f"node_id must match {NAME_RE.pattern}: {self.node_id!r}")
        self.probe_interval = probe_interval
        self.grace = grace
        self.accept_timeout = accept_timeout
        self.accept_delay = accept_delay
        self.start_timeout = start_timeout
        self._reconnect_time_wait = reconnect_time_wait
        self._connect_options = connect_options
        self.subjects = Subjects(namespace, self.node_id)
        """The subject scheme (:mod:`.nats_subjects`)."""
        subjects = self.subjects
        self._t = subjects.events
        self._r = subjects.requests
        self._c = subjects.clients
        self._n = subjects.nodes
        self._inbox = subjects.inbox
        self._answer_prefix = subjects.answers
        self._answers_raw = subjects.answers.encode()
        self._node_block = build_headers({NODE_HEADER: self.node_id})
        """The raw header block of this node's events (``Wsmq-Node``), built once."""
        self._own_mark = node_mark(self.node_id)
        """What a raw header block of this node's own events contains (echo check)."""
        self.nc: NatsClient | None = None
        self._watches: dict[str, _Watch] = {}
        self._watch_index: SubscriptionIndex[str] = SubscriptionIndex()
        self._serves: dict[str, Any] = {}
        self._served: SubscriptionIndex[str] = SubscriptionIndex()
        self._clients: dict[str, _ClientHold] = {}
        self._pending: dict[str, _Pending] = {}
        self._serving: dict[str, asyncio.Task[None]] = {}
        self._nodes: dict[str, _NodeHealth] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tokens = itertools.count(1)
        # request timing without a timer per request: accept checks in FIFO order (they are
        # all accept_timeout after the start), tokens grouped per sweep interval; deadlines of
        # accepted or short requests in a heap; one sweep timer runs while either holds
        # something (_sweep). Only token strings are kept: nothing for the GC to traverse
        # (holding the _Pending objects here for seconds made the GC cost more than timers)
        self._accept_checks: deque[tuple[float, list[str]]] = deque()
        self._deadlines: list[tuple[float, str]] = []
        self._sweeper: asyncio.TimerHandle | None = None
        self._accept_slots: deque[tuple[float, list[str]]] = deque()  # see _run_serving
        self._accept_sweeper: asyncio.TimerHandle | None = None
        self._probe_wakeup = asyncio.Event()
        self._prober: asyncio.Task[None] | None = None
        self._closing = False
        self._fast: nats_fast.FastClient | None = None
        self.connected = asyncio.Event()
        self.publish_failures = 0
        """Events not handed to NATS (closed connection, full reconnect buffer): lost for the
        other nodes (``wsmq_backend_publish_failures_total``)."""

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, host: BackendHost) -> None:
        """Connect to NATS and subscribe this node's inbox; raises ``ConnectionError`` if no
        server answers within ``start_timeout`` (s). Afterwards nats-py reconnects forever."""
        await super().start(host)
        options: dict[str, Any] = {
            "name": f"wsmq-node-{self.node_id}",
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": self._reconnect_time_wait,
            "connect_timeout": 2,
            "ping_interval": 5,
            "max_outstanding_pings": 2,
        }
        options.update(self._connect_options)
        # nats-py retries the first connection forever too (max_reconnect_attempts=-1): bound
        # it, so that a node pointed at a wrong URL fails at start instead of hanging silently
        fast = nats_fast is not None and nats_fast.supported()
        nc = nats_fast.FastClient() if fast else nats.aio.client.Client()
        try:
            await asyncio.wait_for(
                nc.connect(
                    self.servers,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    **options,
                ),
                self.start_timeout,
            )
        except (TimeoutError, OSError, nats_errors.Error) as exc:
            with contextlib.suppress(Exception):
                await nc.close()
            raise ConnectionError(
                f"cannot connect to NATS at {', '.join(self.servers)} "
                f"within {self.start_timeout:g} s: {exc!r}"
            ) from exc
        problem = self._payload_problem(nc)
        if problem is not None:
            with contextlib.suppress(Exception):
                await nc.close()
            raise PayloadLimitError(problem)
        self.nc = nc
        if isinstance(nc, nats_fast.FastClient):
            self._fast = nc
        self.connected.set()
        inbox = await self.nc.subscribe(self._inbox + ">", cb=self._on_inbox)
        self._direct(inbox, self._inbox_direct)
        await self.nc.flush()
        self._prober = asyncio.create_task(self._probe_loop(), name="wsmq-nats-probe")

    def _payload_problem(self, nc: NatsClient) -> str | None:
        """Why this node must not run on ``nc``'s server, or None. Its ``max_payload`` must
        carry the broker's largest frame plus what the cluster adds to it (``source``, node and
        timeout headers, ``traceparent``: :data:`PAYLOAD_OVERHEAD`), or the largest events
        would be lost for every other node. NATS's default (1 MB) is too small for the
        broker's default ``max_message_size`` (1 MiB): run nats-server with
        ``max_payload: 2MB`` (docs/deployment.md)."""
        limit = int(nc.max_payload)
        frame = self.max_frame
        if frame is None or limit >= frame + PAYLOAD_OVERHEAD:
            return None
        return (
            f"NATS at {', '.join(self.servers)} has max_payload {limit} bytes, but the broker "
            f"accepts frames of up to {frame} bytes (max_message_size) and adds up to "
            f"{PAYLOAD_OVERHEAD} bytes when it forwards them: set max_payload to at least "
            f"{frame + PAYLOAD_OVERHEAD} in the nats-server configuration (e.g. "
            "'max_payload: 2MB') or lower max_message_size (docs/deployment.md)"
        )

    @property
    def max_payload(self) -> int | None:
        """The connected NATS server's ``max_payload`` (None before :meth:`start`); it may
        change when nats-py reconnects to another server."""
        nc = self.nc
        return None if nc is None else int(nc.max_payload)

    def _fits(self, frame: bytes) -> bool:
        """Whether ``frame`` plus the headers this node adds stays within ``max_payload``
        (nats-server counts headers, nats-py checks only the payload: a frame that passes
        nats-py but not the server makes the server close this node's connection)."""
        nc = self.nc
        return nc is None or len(frame) + HEADER_ALLOWANCE <= nc.max_payload

    async def close(self) -> None:
        """Fail what we wait for (SHUTTING_DOWN), stop serving, and close the NATS connection."""
        self._closing = True
        for token in list(self._pending):
            self._settle_error(token, "SHUTTING_DOWN", "broker node shutting down")
        for task in [*self._serving.values(), *self._tasks]:
            task.cancel()
        if self._prober is not None:
            self._prober.cancel()
        for timer in (self._sweeper, self._accept_sweeper):
            if timer is not None:
                timer.cancel()
        self._sweeper = self._accept_sweeper = None
        await asyncio.gather(
            *self._serving.values(),
            *self._tasks,
            *([self._prober] if self._prober else []),
            return_exceptions=True,
        )
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.flush(), 2)
            await self.nc.close()

    @property
    def ready(self) -> bool:
        """Connected to NATS (nats-py re-sends every SUB before it reports a reconnect, so
        connected means subscribed) and not closing (``GET /readyz``)."""
        nc = self.nc
        return nc is not None and not self._closing and self.connected.is_set() and nc.is_connected

    def counters(self) -> dict[str, int]:
        """nats-py's own message/byte/reconnect counters plus :attr:`publish_failures`."""
        nc = self.nc
        stats: dict[str, int] = dict(getattr(nc, "stats", None) or {}) if nc is not None else {}
        out = {k: int(stats.get(k, 0)) for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes")}
        out["reconnects"] = int(stats.get("reconnects", 0))
        out["publish_failures"] = self.publish_failures
        return out

    def serving(self) -> list[asyncio.Future[Any]]:
        """Handlers running here for other nodes' requests (``Broker.drain`` waits)."""
        return list(self._serving.values())

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS error on node %s: %r", self.node_id, exc)

    async def _on_disconnected(self) -> None:
        """Answers to our requests published while we are away are lost: fail them now."""
        self.connected.clear()
        if self._closing or self.nc is None:  # closing, or still trying the first connection
            return
        log.warning("node %s lost its NATS connection; reconnecting", self.node_id)
        for token in list(self._pending):
            self._settle_error(
                token, "DISCONNECTED", "broker node lost its connection to NATS mid-request"
            )

    async def _on_reconnected(self) -> None:
        """nats-py re-sends every SUB on reconnect; routing resumes by itself."""
        self.connected.set()
        log.warning("node %s reconnected to NATS", self.node_id)

    def _nc(self) -> NatsClient:
        if self.nc is None:
            raise RuntimeError("NatsBackend used before start()")
        return self.nc

    def _host(self) -> BackendHost:
        if self.host is None:
            raise RuntimeError("NatsBackend used before start()")
        return self.host

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- events --------------------------------------------------------------------------------

    async def publish(
        self, topic: str, frame: bytes, source: str | None, message: Message | None = None
    ) -> None:
        """Deliver locally at once, and to every other watching node through NATS.

        At-most-once: if NATS is unreachable the event still reaches local subscribers and
        nats-py buffers it for the others until it reconnects (bounded buffer, then dropped).
        """
        subject = self._t + validate_topic(topic)
        if self._watches:
            self._host().deliver_event(topic, frame, source, message)
        if not self._fits(frame):
            raise TooLarge(
                f"event of {len(frame)} bytes is too large for the NATS max_payload "
                f"({self._nc().max_payload} bytes with headers): not forwarded to other nodes"
            )
        try:
            # one HPUB appended to nats-py's buffer, with the node's header block built once
            fast = self._fast
            if fast is not None and fast.publish_nowait(subject, frame, "", self._node_block):
                return
            await self._nc().publish(subject, frame, headers={NODE_HEADER: self.node_id})
        except nats_errors.MaxPayloadError as exc:
            raise TooLarge(
                f"event of {len(frame)} bytes is too large for the NATS max_payload: "
                "not forwarded to other nodes"
            ) from exc
        except nats_errors.Error as exc:  # closed, buffer full while reconnecting…
            self.publish_failures += 1
            log.warning(
                "event on %r not sent to other nodes: %r", topic, exc, extra={"topic": topic}
            )

    async def watch(self, pattern: str) -> None:
        """Subscribe ``wsmq.<ns>.t.<pattern>`` (wildcards map 1:1 onto NATS)."""
        validate_pattern(pattern)
        if pattern in self._watches:
            return
        sub = await self._nc().subscribe(
            self._t + pattern, cb=functools.partial(self._on_event, pattern)
        )
        self._direct(sub, functools.partial(self._event_direct, pattern))
        self._watches[pattern] = _Watch(sub, pattern)
        self._watch_index.add(pattern, pattern)
        await self._flush()

    async def unwatch(self, pattern: str) -> None:
        """Unsubscribe the pattern."""
        w = self._watches.pop(pattern, None)
        if w is None:
            return
        self._watch_index.remove(pattern, pattern)
        with contextlib.suppress(nats_errors.Error):
            await w.sub.unsubscribe()
        await self._flush()

    async def _on_event(self, pattern: str, msg: Msg) -> None:
        """An event from NATS (nats-py callback path)."""
        if msg.headers and msg.headers.get(NODE_HEADER) == self.node_id:
            return  # delivered locally already
        self._event_message(pattern, msg.subject, msg.data)
        # nats-py hands a subscription's whole backlog over without yielding; let the
        # connections' writers drain their send queues, or a burst from NATS would fill them
        # and close healthy subscribers as slow consumers (4008)
        await asyncio.sleep(0)

    def _event_direct(
        self, pattern: str, subject: bytes, _reply: bytes, data: bytes, h: bytes | None
    ) -> None:
        """An event from NATS (direct path, see :mod:`.nats_fast`). No yield per event: the
        parser hands over one socket read at a time (nats-py reads at most 32 KiB), so the
        events of a burst reach the subscribers in batches of one read, written with one
        syscall per connection (server._Flusher), and the loop runs the writers in between."""
        if h is not None and self._own_mark in h:
            return  # delivered locally already
        self._event_message(pattern, subject.decode(), data)

    def _event_message(self, pattern: str, subject: str, data: bytes) -> None:
        """Validate an event from another node, drop duplicates, deliver locally."""
        topic = subject[len(self._t) :]
        try:
            validate_topic(topic)
        except WsmqError as exc:
            log.warning("dropping event from NATS on %r: %s", subject, exc)
            return
        # A node with overlapping patterns (a.> and a.b) gets one copy per subscription: only
        # the copy that came through the smallest matching pattern is delivered.
        matching = self._watch_index.match(topic)
        if not matching or pattern != min(matching):
            return
        try:
            message = decode(data)
        except WsmqError as exc:
            log.warning("dropping invalid event from NATS on %r: %s", subject, exc)
            return
        if message.header.type != "event" or message.header.topic != topic:
            log.warning("dropping non-event or mismatched frame from NATS on %r", subject)
            return
        self._host().deliver_event(topic, data, message.header.source, message)

    # -- requests to server handlers ---------------------------------------------------------

    async def serve(self, pattern: str) -> None:
        """Join the cluster-wide queue group for requests matching ``pattern``."""
        validate_pattern(pattern)
        if pattern in self._serves:
            return
        sub = self._serves[pattern] = await self._nc().subscribe(
            self._r + pattern, queue=_QUEUE, cb=self._on_request
        )
        self._direct(sub, self._request_direct)
        self._served.add(pattern, pattern)
        await self._flush()

    async def unserve(self, pattern: str) -> None:
        """Leave the queue group for ``pattern``."""
        sub = self._serves.pop(pattern, None)
        if sub is None:
            return
        self._served.remove(pattern, pattern)
        with contextlib.suppress(nats_errors.Error):
            await sub.unsubscribe()
        await self._flush()

    def request(
        self, topic: str, frame: bytes, timeout: float, message: Message | None = None
    ) -> Reply | Awaitable[Reply]:
        """Local handler if this node has one (local first), else exactly one node through the
        queue group: a future of its answer (no task per request)."""
        validate_topic(topic)
        if self._served.match(topic):
            return self._host().start_request(topic, frame, message)
        return self._start_remote(self._r + topic, frame, timeout, message, False, topic)

    async def _on_request(self, msg: Msg) -> None:
        """Serve side of a remote request (nats-py callback path)."""
        self._serve_request(msg.subject, msg.reply, msg.data)

    def _request_direct(self, subject: bytes, reply: bytes, data: bytes, _h: bytes | None) -> None:
        """Serve side of a remote request (direct path, see :mod:`.nats_fast`)."""
        self._serve_request(subject.decode(), reply.decode(), data)

    def _serve_request(self, subject: str, reply: str, data: bytes) -> None:
        """Validate, run the host, answer (accept if slow)."""
        if not reply or not reply.startswith(self._n):
            return
        topic = subject[len(self._r) :]
        try:
            validate_topic(topic)
            message = decode(data)
            if message.header.type != "request" or message.header.topic != topic:
                raise BadTopic("frame does not match its NATS subject")
        except WsmqError as exc:
            log.warning("dropping invalid request from NATS on %r: %s", subject, exc)
            return
        work = self._host().start_request(topic, data, message)
        if isinstance(work, Message | bytes):  # answered at once: no task, no accept
            self._send(reply, encode(work) if isinstance(work, Message) else work)
            return
        self._run_serving(reply, work, message.correlation_id)

    # -- client-addressed traffic --------------------------------------------------------------

    async def request_client(
        self, client_id: str, frame: bytes, timeout: float, message: Message | None = None
    ) -> Reply:
        """Ask the client wherever it is connected; UnknownClient at once if nowhere."""
        if client_id in self._clients:
            return await self._host().request_client(client_id, frame, timeout, message)
        return await self._start_remote(
            self._client_subject(client_id, "req"),
            frame,
            timeout,
            message,
            True,
            client_id,
            headers={TIMEOUT_HEADER: f"{timeout:.3f}"},
        )

    async def send_to_client(self, client_id: str, frame: bytes) -> bool:
        """Queue ``frame`` to the client on whichever node holds it (one NATS round trip)."""
        if client_id in self._clients:
            return self._host().deliver_to_client(client_id, frame)
        try:
            answer = await self._nc().request(
                self._client_subject(client_id, "msg"), frame, timeout=self.grace
            )
        except (nats_errors.NoRespondersError, nats_errors.TimeoutError):
            return False
        except nats_errors.Error as exc:
            log.warning("frame for client %r not sent: %r", client_id, exc)
            return False
        return answer.data == b"1"

    async def attach_client(self, client_id: str) -> None:
        """Take ``client_id``: subscribe for it, then tell any previous holder to let go.

        Subscribing first leaves no moment in which nobody holds the ID (a request to it would
        get UNKNOWN_CLIENT); the previous holder closes its connection (4009) when the evict
        reaches it, and our own copy of the evict is ignored.
        """
        hold = self._clients.get(client_id)
        if hold is not None:  # resumed on this very node: the broker evicts locally
            hold.count += 1
            return
        subject = self._client_subject(client_id, "evict")
        hold = self._clients[client_id] = _ClientHold(None)
        sub = await self._nc().subscribe(self._c + client_id + ".*", cb=self._on_client_msg)
        self._direct(sub, self._client_direct)
        if self._clients.get(client_id) is not hold:  # detached while we subscribed
            with contextlib.suppress(nats_errors.Error):
                await sub.unsubscribe()
            return
        hold.sub = sub
        await self._flush()
        await self._safe_publish(subject, self.node_id.encode())

    async def detach_client(self, client_id: str) -> None:
        """Release ``client_id`` when its last local connection is gone."""
        hold = self._clients.get(client_id)
        if hold is None:
            return
        hold.count -= 1
        if hold.count <= 0:
            del self._clients[client_id]
            if hold.sub is not None:
                with contextlib.suppress(nats_errors.Error):
                    await hold.sub.unsubscribe()
                await self._flush()

    def _client_subject(self, client_id: str, kind: str) -> str:
        return self.subjects.client(client_id, kind)

    async def _on_client_msg(self, msg: Msg) -> None:
        """Traffic for a client this node holds (nats-py callback path)."""
        timeout = timeout_from_headers(msg.headers)
        self._client_message(msg.subject, msg.reply, msg.data, timeout)

    def _client_direct(self, subject: bytes, reply: bytes, data: bytes, h: bytes | None) -> None:
        """Traffic for a client this node holds (direct path, see :mod:`.nats_fast`)."""
        self._client_message(subject.decode(), reply.decode(), data, timeout_from_raw(h))

    def _client_message(self, subject: str, reply: str, data: bytes, timeout: float) -> None:
        """A request, a frame, or an eviction for a client this node holds."""
        rest = subject[len(self._c) :]
        client_id, _, kind = rest.rpartition(".")
        host = self._host()
        if kind == "evict":
            if data.decode(errors="replace") == self.node_id:
                return  # our own evict, sent after we took the ID
            hold = self._clients.pop(client_id, None)
            if hold is not None:
                if hold.sub is not None:
                    self._spawn(self._unsubscribe(hold.sub))
                host.evict_client(client_id)
            if reply:
                self._send(reply, b"evicted")
            return
        if client_id not in self._clients:
            return  # evicted or detached a moment ago: the current holder answers
        try:
            message = decode(data)
        except WsmqError as exc:
            log.warning("dropping invalid frame for %r from NATS: %s", client_id, exc)
            if kind == "msg" and reply:
                self._send(reply, b"0")
            return
        if kind == "msg":
            delivered = host.deliver_to_client(client_id, data)
            if reply:
                self._send(reply, b"1" if delivered else b"0")
        elif kind == "req":
            if not reply or not reply.startswith(self._n) or message.type != "request":
                return
            # UnknownClient (the client left between SUB and delivery) is answered as an error
            work = host.request_client(client_id, data, timeout, message)
            self._run_serving(reply, work, message.correlation_id)

    async def _unsubscribe(self, sub: Any) -> None:
        with contextlib.suppress(nats_errors.Error):
            await sub.unsubscribe()

    # -- the caller side of remote requests ----------------------------------------------------

    def _start_remote(
        self,
        subject: str,
        frame: bytes,
        timeout: float,
        message: Message | None,
        to_client: bool,
        name: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> asyncio.Future[Reply]:
        """Send a request over NATS (for client ``name`` if ``to_client``, else for the
        handler of topic ``name``); the future settles with its answer, or an error reply
        when the serving node dies or the time is up, or raises UnknownClient / NoHandler
        when no node serves the target. Cancelling the future cancels the remote handler.

        The remote host enforces the request's ttl itself and answers TIMEOUT; we wait
        ``timeout + grace`` so that its answer, not ours, is what the caller normally sees.
        A future rather than a coroutine so that the broker needs no task per request.
        """
        if message is None:
            message = decode(frame)
        loop = asyncio.get_running_loop()
        if not self._nc().is_connected:  # nats-py would buffer it and we would wait in vain
            done: asyncio.Future[Reply] = loop.create_future()
            done.set_result(
                new_error(
                    message.correlation_id,
                    "DISCONNECTED",
                    "this broker node is not connected to NATS, cannot reach the "
                    + _target(to_client, name),
                )
            )
            return done
        token = f"{next(self._tokens):x}"  # unique within this node's inbox; no syscall
        reply = self._answer_prefix + token
        future = _RemoteFuture(loop=loop)
        future.backend = self
        future.token = token
        now = loop.time()
        total = timeout + self.grace
        pending = _Pending(future, message.correlation_id, to_client, name, now + total)
        fast = self._fast
        try:
            raw = None if headers is None or fast is None else raw_headers(headers)
            sent = fast is not None and fast.publish_nowait(subject, frame, reply, raw)
        except nats_errors.MaxPayloadError as exc:
            future.set_exception(TooLarge(f"request larger than the NATS max_payload: {exc}"))
            return future
        self._pending[token] = pending
        if not sent:
            self._spawn(self._publish_request(token, subject, frame, reply, headers))
        # first the accept check, then (once accepted) the deadline: see _sweep
        if total < self.accept_timeout:
            heapq.heappush(self._deadlines, (pending.deadline, token))
        else:
            due = now + self.accept_timeout
            checks = self._accept_checks
            if checks and due <= checks[-1][0]:
                checks[-1][1].append(token)
            else:
                checks.append((due + _SWEEP_INTERVAL, [token]))
        if self._sweeper is None:
            self._sweeper = loop.call_later(_SWEEP_INTERVAL, self._sweep)
        return future

    async def _publish_request(
        self, token: str, subject: str, frame: bytes, reply: str, headers: dict[str, str] | None
    ) -> None:
        """The slow path of :meth:`_start_remote`: nats-py's own (awaiting) publish."""
        try:
            await self._nc().publish(subject, frame, reply=reply, headers=headers)
        except nats_errors.MaxPayloadError as exc:
            pending = self._pending.get(token)
            if pending is not None and not pending.future.done():
                pending.future.set_exception(
                    TooLarge(f"request larger than the NATS max_payload: {exc}")
                )
                self._forget(token)
        except nats_errors.Error as exc:
            self._settle_error(token, "DISCONNECTED", f"NATS: {exc!r}")

    def _cancelled(self, token: str) -> None:
        """The caller gave up (client cancel, disconnect, broker closing): stop the handler."""
        pending = self._pending.get(token)
        if pending is None:
            return
        if pending.node is not None:
            self._send_cancel(pending.node, token)
            self._forget(token)
        else:
            # not accepted yet: keep the entry until its accept check so that a late accept
            # gets the cancel (_on_answer); the sweep forgets it then
            pending.cancelled = True

    def _sweep(self) -> None:
        """The requests' clock, every ``_SWEEP_INTERVAL`` s while any wait: at
        ``accept_timeout`` a request must have been answered or accepted (else
        :meth:`_check_accepted`); at its deadline the caller stops waiting (TIMEOUT)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        checks = self._accept_checks
        while checks and checks[0][0] <= now:
            for token in checks.popleft()[1]:
                pending = self._pending.get(token)
                if pending is None:
                    continue  # settled and forgotten
                if pending.cancelled or pending.future.done():
                    self._forget(token)
                elif pending.node is None:
                    self._check_accepted(token)
                else:
                    heapq.heappush(self._deadlines, (pending.deadline, token))
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            token = heapq.heappop(deadlines)[1]
            pending = self._pending.get(token)
            if pending is None:
                continue
            if pending.cancelled or pending.future.done():
                self._forget(token)
            else:
                self._settle_error(token, "TIMEOUT", f"no answer from the {pending.target} in time")
        if checks or deadlines:
            self._sweeper = loop.call_later(_SWEEP_INTERVAL, self._sweep)
        else:
            self._sweeper = None

    def _check_accepted(self, token: str) -> None:
        """Neither answered nor accepted by ``accept_timeout``: the node that got the request
        died before it could accept (it may have started the handler), or the handler was
        removed while the request was in flight. Either way the caller must not wait on."""
        pending = self._pending.get(token)
        if pending is None or pending.node is not None or pending.cancelled:
            return
        self._settle_error(
            token,
            "DISCONNECTED",
            f"no broker node took the request for the {pending.target} "
            f"within {self.accept_timeout:g} s (its node went away or it was removed)",
        )

    def _send_cancel(self, node: str, token: str) -> None:
        self._send(self.subjects.node(node, "x"), (self._answer_prefix + token).encode())

    async def _on_inbox(self, msg: Msg) -> None:
        """Our node's inbox (nats-py callback path)."""
        no_responders = (msg.headers or {}).get("Status") == "503"
        self._inbox_message(msg.subject, msg.reply, msg.data, no_responders)

    def _inbox_direct(self, subject: bytes, reply: bytes, data: bytes, h: bytes | None) -> None:
        """Our node's inbox (direct path, see :mod:`.nats_fast`); answers, the one message
        per remote request, go to :meth:`_on_answer` without decoding the whole subject."""
        no_responders = h is not None and h.startswith(_NO_RESPONDERS)
        answers = self._answers_raw
        if subject.startswith(answers):
            self._on_answer(subject[len(answers) :].decode(), data, no_responders)
            return
        self._inbox_message(subject.decode(), reply.decode(), data, no_responders)

    def _inbox_message(self, subject: str, reply: str, data: bytes, no_responders: bool) -> None:
        """Answers (…a.<token>), liveness probes (…ping), cancels (…x)."""
        kind = subject[len(self._inbox) :]
        if kind.startswith("a."):
            self._on_answer(kind[2:], data, no_responders)
        elif kind == "ping":
            if reply:
                self._send(reply, b"pong")
        elif kind == "x":
            task = self._serving.pop(data.decode(errors="replace"), None)
            if task is not None:
                task.cancel()

    def _on_answer(self, token: str, data: bytes, no_responders: bool) -> None:
        pending = self._pending.get(token)
        if pending is None:
            return  # late or duplicate: the caller has moved on
        if no_responders:
            if not pending.future.done():
                pending.future.set_exception(pending.nobody())  # NoHandler / UnknownClient
            self._forget(token)
            return
        if data.startswith(_ACCEPT):
            node = data[len(_ACCEPT) :].decode(errors="replace")
            if NAME_RE.fullmatch(node) and pending.node is None:
                if pending.cancelled:
                    self._send_cancel(node, token)
                    self._forget(token)
                    return
                pending.node = node
                self._nodes.setdefault(node, _NodeHealth()).pendings.add(token)
                self._probe_wakeup.set()
            return
        if pending.future.done():  # cancelled: the caller has moved on
            self._forget(token)
            return
        try:
            answer = decode(data)
        except WsmqError as exc:
            log.warning("invalid answer from NATS: %s", exc)
            self._settle_error(token, "INTERNAL", "a broker node sent an invalid answer")
            return
        if answer.type not in ("response", "error"):
            self._settle_error(token, "INTERNAL", "a broker node sent a non-answer")
            return
        # A server→client answer goes to Broker.request_to_client, which needs it decoded:
        # hand over the Message just checked (one decode per answer, not two). A handler's
        # answer stays encoded: the broker forwards it to the calling client as it is.
        pending.future.set_result(answer if pending.to_client else data)
        self._forget(token)

    def _settle_error(self, token: str, code: str, text: str) -> None:
        """Answer the caller with an error envelope of ours and forget the request."""
        pending = self._pending.get(token)
        if pending is None:
            return
        if not pending.future.done():
            pending.future.set_result(encode(new_error(pending.correlation_id, code, text)))
        self._forget(token)

    def _forget(self, token: str) -> None:
        pending = self._pending.pop(token, None)
        if pending is not None and pending.node is not None:
            health = self._nodes.get(pending.node)
            if health is not None:
                health.pendings.discard(token)
                if not health.pendings:
                    del self._nodes[pending.node]

    async def _probe_loop(self) -> None:
        """Ping every node that holds one of our requests; two misses → its requests fail."""
        while True:
            if not self._nodes:
                self._probe_wakeup.clear()
                await self._probe_wakeup.wait()
            await asyncio.sleep(self.probe_interval)
            if not self.connected.is_set():
                continue  # our side is down; _on_disconnected already failed our requests
            try:
                await self._probe_once()
            except Exception:  # never let detection die silently
                log.exception("liveness probe failed")

    async def _probe_once(self) -> None:
        """One round of pings; a node whose inbox has no subscriber any more has died."""
        nc = self._nc()
        nodes = list(self._nodes)
        results = await asyncio.gather(
            *(nc.request(self.subjects.node(n, "ping"), b"", timeout=2) for n in nodes),
            return_exceptions=True,
        )
        for node, result in zip(nodes, results, strict=True):
            health = self._nodes.get(node)
            if health is None:
                continue
            if isinstance(result, nats_errors.NoRespondersError):
                health.misses += 1
            else:
                health.misses = 0
            if health.misses >= 2:
                log.warning("broker node %s is gone; failing its requests", node)
                for token in list(health.pendings):
                    pending = self._pending.get(token)
                    self._settle_error(
                        token,
                        "DISCONNECTED",
                        "the broker node serving the "
                        f"{pending.target if pending else 'request'} went away",
                    )

    # -- serve-side helpers --------------------------------------------------------------------

    def _accept(self, reply: str) -> None:
        self._send(reply, _ACCEPT + self.node_id.encode())

    def _run_serving(self, reply: str, work: Any, correlation_id: str | None) -> None:
        """Run a host call for a remote caller; publish its answer; cancellable via …x.

        Cancelled by the caller: no answer (it gave up). Cancelled because this node is closing:
        answer SHUTTING_DOWN so that the caller does not wait for the liveness probes.
        """

        # The accept tells the caller which node to watch. Answers faster than accept_delay
        # need none: one NATS message saved per request on the hot path. No timer per request
        # either: the replies wait in FIFO slots that _accept_sweep visits (accept_delay is
        # the same for all, so the order of arrival is the order of due times).
        loop = asyncio.get_running_loop()
        due = loop.time() + self.accept_delay
        slots = self._accept_slots
        if slots and due <= slots[-1][0]:
            slots[-1][1].append(reply)
        else:
            slots.append((due + self.accept_delay / 2, [reply]))
            if self._accept_sweeper is None:
                self._accept_sweeper = loop.call_later(self.accept_delay, self._accept_sweep)

        self._serving[reply] = asyncio.create_task(self._answer_remote(reply, work, correlation_id))

    async def _answer_remote(
        self, reply: str, work: Awaitable[Reply], correlation_id: str | None
    ) -> None:
        """The task of :meth:`_run_serving`: await the host, publish the answer. It takes
        itself out of ``_serving`` when done (a cancel via …x takes it out at once, in case it
        never started); no done callback, which would cost a loop callback per request."""
        try:
            try:
                answer = await work
            except asyncio.CancelledError:
                if not self._closing:
                    return
                answer = new_error(correlation_id, "SHUTTING_DOWN", "broker node shutting down")
            except WsmqError as exc:  # UnknownClient: the client left between SUB and delivery
                answer = new_error(correlation_id, exc)
            except Exception:  # a host bug must not leave the caller hanging
                log.exception("request from NATS failed")
                answer = new_error(correlation_id, "INTERNAL", "internal error")
            data = encode(answer) if isinstance(answer, Message) else answer
            if not self._publish_nowait(reply, data):
                await self._safe_publish(reply, data)
        finally:
            if self._serving.get(reply) is asyncio.current_task():
                del self._serving[reply]

    def _accept_sweep(self) -> None:
        """Accept the requests that are still running ``accept_delay`` after they came."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        slots = self._accept_slots
        while slots and slots[0][0] <= now:
            for reply in slots.popleft()[1]:
                if reply in self._serving:
                    self._accept(reply)
        if slots:
            delay = max(slots[0][0] - now, self.accept_delay / 4)
            self._accept_sweeper = loop.call_later(delay, self._accept_sweep)
        else:
            self._accept_sweeper = None

    def _direct(self, sub: Any, fn: nats_fast.DirectHandler) -> None:
        """Have ``fn`` called from the parser loop for ``sub`` when the fast client is on."""
        if self._fast is not None:
            self._fast.set_direct(sub, fn)

    def _publish_nowait(self, subject: str, data: bytes) -> bool:
        """Queue a fire-and-forget publish without awaiting; False: use ``_safe_publish``."""
        fast = self._fast
        if fast is None:
            return False
        try:
            return fast.publish_nowait(subject, data)
        except nats_errors.Error as exc:
            self.publish_failures += 1
            log.warning("NATS publish to %r failed: %r", subject, exc)
            return True  # nothing more to do: the async path would fail the same way

    def _send(self, subject: str, data: bytes) -> None:
        """Fire-and-forget publish from synchronous code."""
        if not self._publish_nowait(subject, data):
            self._spawn(self._safe_publish(subject, data))

    async def _safe_publish(self, subject: str, data: bytes) -> None:
        try:
            await self._nc().publish(subject, data)
        except nats_errors.Error as exc:
            self.publish_failures += 1
            log.warning("NATS publish to %r failed: %r", subject, exc)

    async def _flush(self) -> None:
        """Make sure the server has our SUB/UNSUB before we go on (watch, serve, attach…).

        Not ``nc.flush()``: nats-py writes its PING straight to the socket, ahead of commands
        still buffered, so the PONG can come back before the server has seen our SUB (seen as
        flaky NO_HANDLER right after ``serve``). A request to our own inbox travels the same
        buffer as the SUB, so its answer proves the server processed everything before it.
        """
        nc = self._nc()
        if not nc.is_connected:
            return  # reconnecting: nats-py re-sends every SUB when it is back
        with contextlib.suppress(nats_errors.Error, asyncio.TimeoutError):
            await nc.request(self._inbox + "ping", b"", timeout=2)
