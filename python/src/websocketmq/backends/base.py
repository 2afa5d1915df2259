"""The Backend seam: the broker never routes between its own sessions directly (design.md §9).

A broker *node* owns local things (client connections and server handlers) and hands everything
that crosses them to a :class:`Backend` as **encoded frames** (``bytes``: one wsmq/1 envelope).
The backend finds who is interested, possibly on another node, and calls that node back through
the :class:`BackendHost` interface, which the broker implements. So a backend implements routing
only: no protocol rules, no timeouts of its own beyond the ``timeout`` it is given, no auth.

Call flow (``B`` = broker node = host, ``K`` = backend)::

    client publish / broker.publish   B → K.publish(topic, frame, source)
                                      K → host.deliver_event(topic, frame, source)  on every node
                                          that watches a pattern matching topic (once per node)
    client request / broker.request   B → K.request(topic, frame, timeout) -> Reply | Awaitable
                                      K → host.start_request(topic, frame) -> Reply | Awaitable
                                          on ONE node that serves a pattern matching topic
                                          (this node's own handlers included); none → NoHandler
    broker.request_to_client(id, …)   B → K.request_client(id, frame, timeout) -> Reply
                                      K → host.request_client(id, frame, timeout) on the node
                                          holding id; nobody → UnknownClient
    frame for one client (cancel…)    B → K.send_to_client(id, frame)
                                      K → host.deliver_to_client(id, frame)
    client registered / resumed       B → K.attach_client(id); a node that held id before
                                          gets host.evict_client(id) (close 4009)
    client gone                       B → K.detach_client(id)
    interest in events                B → K.watch(pattern) / K.unwatch(pattern)
                                          (the broker reference-counts: called once per pattern
                                          on first interest and once when the last goes)
    handler for requests              B → K.serve(pattern) / K.unserve(pattern) (same counting)

A :data:`Reply` is the answer to a request: an error or response envelope, either encoded
(``bytes``, what remote backends get off the wire) or as a decoded ``Message`` (what in-process
calls produce; saves an encode+decode). Hosts and callers accept both. An error *reply* is not an
exception: ``NoHandler``/``UnknownClient`` are raised only when nobody could be asked at all.

Optional ``message`` arguments carry the decoded form of ``frame`` when the caller has it;
in-process backends pass it through to the host to spare a decode, remote ones ignore it.
A backend whose class attribute ``in_process`` is True declares that it only ever hands frames to
the local host; the broker then skips encoding where it can and passes ``frame=b""`` together
with ``message`` (never both missing). Remote backends leave it False and always get real frames.

One path per request (docs/design.md §9): every client→server request, from a client of this
node or from server code, goes through :meth:`Backend.request`, whatever the backend; the broker
has no branch per backend. ``request`` and ``start_request`` return the reply itself when it is
known at once (a sync handler, NO_HANDLER: no task, no future) or an awaitable of it (a
coroutine, or a future so that a remote request needs no task); the broker tracks that
awaitable as the request in flight, and cancelling it cancels the handler wherever it runs.

Change log (announce changes to this contract here):
- v1 (initial): as above, with ``async def request`` and ``BackendHost.handle_request``.
- v1.1: optional fast paths ``Backend.request_nowait`` and ``BackendHost.start_request``.
- v2: one path: ``Backend.request`` returns ``Reply | Awaitable[Reply]`` (a v1 ``async def
  request`` still fits: a coroutine is an awaitable); ``BackendHost.start_request`` is the one
  host method for requests (``handle_request`` and ``request_nowait`` are gone).
- v2.1: ``Backend.ready`` and ``Backend.counters()`` (docs/operations.md): whether the node can
  route right now (``GET /readyz``, ``wsmq_backend_up``) and message counters for metrics;
  defaults: ready once started, no counters.
- v2.2: ``Backend.serving()`` (``Broker.drain``, docs/operations.md): the work this node does
  for requests from other nodes, which a drain waits for; default: none (in-process).
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable
from typing import Any, Protocol

from ..protocol.envelope import Message

__all__ = ["Backend", "BackendHost", "Reply"]

Reply = Message | bytes
"""A response or error envelope, decoded or encoded."""


class BackendHost(Protocol):
    """What a broker node offers its backend: local delivery. Implemented by ``Broker``.

    Every method is safe to call from the event loop the broker runs on; none blocks on I/O.
    """

    def deliver_event(
        self, topic: str, frame: bytes, source: str | None, message: Message | None = None
    ) -> None:
        """Deliver an event to local subscribed clients (not ``source`` unless it asked for
        echo) and to local event handlers whose pattern matches ``topic``."""

    def start_request(
        self, topic: str, frame: bytes, message: Message | None = None
    ) -> Reply | Awaitable[Reply]:
        """Run the first local handler matching ``topic``: its response or error when known at
        once, else an awaitable of it (cancel it to stop the handler).

        Never raises for handler failures (they become error replies); enforces the request's
        ttl (TIMEOUT reply). Returns a NO_HANDLER error if no local handler matches after all.
        """

    async def request_client(
        self, client_id: str, frame: bytes, timeout: float, message: Message | None = None
    ) -> Reply:
        """Send a request to the local client ``client_id`` and wait up to ``timeout`` s.

        Raises ``UnknownClient`` if no local connection holds it; returns error replies for
        TIMEOUT/DISCONNECTED.
        """

    def deliver_to_client(self, client_id: str, frame: bytes) -> bool:
        """Queue ``frame`` to the local client; False if it is not connected here."""

    def evict_client(self, client_id: str) -> None:
        """The identity was resumed on another node: close the local connection with 4009."""


class Backend(abc.ABC):
    """Routing between broker nodes. Subclass it to add a transport (see module docstring)."""

    host: BackendHost | None = None
    in_process: bool = False
    max_frame: int | None = None
    """Set by ``Broker.start()`` before :meth:`start`: the largest client frame the broker
    accepts (``max_message_size``). A backend whose transport has a size limit of its own
    refuses to start when that limit cannot carry such a frame plus its overhead, instead of
    losing the largest messages later (issue 15, defect 6; NATS: ``max_payload``)."""

    async def start(self, host: BackendHost) -> None:
        """Bind to the broker node; called once by ``Broker.start()`` before any other call."""
        self.host = host

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; called once by ``Broker.close()``. No calls follow."""

    @property
    def ready(self) -> bool:
        """Whether routing works right now (connected, subscriptions in place): what
        ``GET /readyz`` reports. In-process backends are ready once started."""
        return self.host is not None

    def counters(self) -> dict[str, int]:
        """Monotonic counters of the backend's own traffic for metrics (``in_msgs``,
        ``out_msgs``, ``in_bytes``, ``out_bytes``, ``reconnects``, ``publish_failures``);
        empty when there is nothing to count (in-process)."""
        return {}

    def serving(self) -> list[asyncio.Future[Any]]:
        """The work this node runs for requests that came from other nodes (``Broker.drain``
        waits for it); none in-process, where every request is a local client's."""
        return []

    @abc.abstractmethod
    async def publish(
        self, topic: str, frame: bytes, source: str | None, message: Message | None = None
    ) -> None:
        """Deliver the event ``frame`` on ``topic`` to every watching node (fire-and-forget)."""

    @abc.abstractmethod
    def request(
        self, topic: str, frame: bytes, timeout: float, message: Message | None = None
    ) -> Reply | Awaitable[Reply]:
        """Have exactly one serving node handle the request: the reply, or an awaitable of it
        (cancel it to give up). ``NoHandler`` (raised, or the awaitable's exception) if none."""

    @abc.abstractmethod
    async def request_client(
        self, client_id: str, frame: bytes, timeout: float, message: Message | None = None
    ) -> Reply:
        """Send a request to the node holding ``client_id``; raise ``UnknownClient`` if none."""

    @abc.abstractmethod
    async def send_to_client(self, client_id: str, frame: bytes) -> bool:
        """Send a frame to the client wherever it is connected; False if nobody holds it."""

    @abc.abstractmethod
    async def attach_client(self, client_id: str) -> None:
        """This node now holds ``client_id``; evict it from any other node."""

    @abc.abstractmethod
    async def detach_client(self, client_id: str) -> None:
        """This node no longer holds ``client_id``."""

    @abc.abstractmethod
    async def watch(self, pattern: str) -> None:
        """This node wants events matching ``pattern``."""

    @abc.abstractmethod
    async def unwatch(self, pattern: str) -> None:
        """This node no longer wants events matching ``pattern``."""

    @abc.abstractmethod
    async def serve(self, pattern: str) -> None:
        """This node handles requests matching ``pattern``."""

    @abc.abstractmethod
    async def unserve(self, pattern: str) -> None:
        """This node no longer handles requests matching ``pattern``."""
