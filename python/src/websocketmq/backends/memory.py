"""In-process backend: one node, direct calls, no copies (the default).

The fast path of the reference broker: a publish is encoded once by the broker and the same
``bytes`` object is queued to every subscriber by ``host.deliver_event``.
"""

from __future__ import annotations

from ..errors import NoHandler, UnknownClient
from ..protocol.envelope import Message
from ..protocol.topics import SubscriptionIndex
from .base import Backend, BackendHost, Reply

__all__ = ["MemoryBackend"]


class MemoryBackend(Backend):
    """Routes everything to the single host it is bound to."""

    def __init__(self) -> None:
        self._served: SubscriptionIndex[str] = SubscriptionIndex()
        self._watched: set[str] = set()
        self._clients: set[str] = set()

    def _host(self) -> BackendHost:
        if self.host is None:
            raise RuntimeError("MemoryBackend used before start()")
        return self.host

    async def publish(
        self, topic: str, frame: bytes, source: str | None, message: Message | None = None
    ) -> None:
        """Deliver locally: the host matches its own subscriptions."""
        if self._watched:
            self._host().deliver_event(topic, frame, source, message)

    async def request(
        self, topic: str, frame: bytes, timeout: float, message: Message | None = None
    ) -> Reply:
        """Run the local handler; NoHandler at once when no pattern matches."""
        if not self._served.match(topic):
            raise NoHandler(f"no handler for {topic!r}")
        return await self._host().handle_request(topic, frame, message)

    async def request_client(
        self, client_id: str, frame: bytes, timeout: float, message: Message | None = None
    ) -> Reply:
        """Ask the local client; UnknownClient if it is not attached."""
        if client_id not in self._clients:
            raise UnknownClient(f"no connected client {client_id!r}")
        return await self._host().request_client(client_id, frame, timeout, message)

    async def send_to_client(self, client_id: str, frame: bytes) -> bool:
        """Queue a frame to the local client."""
        return self._host().deliver_to_client(client_id, frame)

    async def attach_client(self, client_id: str) -> None:
        """Remember the client (one node: the broker itself evicts a superseded connection)."""
        self._clients.add(client_id)

    async def detach_client(self, client_id: str) -> None:
        """Forget the client."""
        self._clients.discard(client_id)

    async def watch(self, pattern: str) -> None:
        """Note the interest (used only to skip delivery when nobody listens at all)."""
        self._watched.add(pattern)

    async def unwatch(self, pattern: str) -> None:
        """Drop the interest."""
        self._watched.discard(pattern)

    async def serve(self, pattern: str) -> None:
        """Index the handler pattern so requests with no handler fail at once."""
        self._served.add(pattern, pattern)

    async def unserve(self, pattern: str) -> None:
        """Drop the handler pattern."""
        self._served.remove(pattern, pattern)
