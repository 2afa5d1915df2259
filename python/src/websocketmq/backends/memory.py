"""In-process backend: one node, direct calls, no copies (the default).

The fast path of the reference broker: a publish is encoded once by the broker and the same
``bytes`` object is queued to every subscriber by ``host.deliver_event``.
"""

from __future__ import annotations

from collections.abc import Awaitable

from ..errors import UnknownClient
from ..protocol.envelope import Message
from .base import Backend, BackendHost, Reply

__all__ = ["MemoryBackend"]


class MemoryBackend(Backend):
    """Routes everything to the single host it is bound to."""

    in_process = True

    def __init__(self) -> None:
        self._clients: dict[str, int] = {}
        """Client ID → attached connections (two for a moment while a resume supersedes)."""

    def _host(self) -> BackendHost:
        if self.host is None:
            raise RuntimeError("MemoryBackend used before start()")
        return self.host

    async def publish(
        self, topic: str, frame: bytes, source: str | None, message: Message | None = None
    ) -> None:
        """Deliver locally: the host matches its own subscriptions."""
        self._host().deliver_event(topic, frame, source, message)

    def request(
        self, topic: str, frame: bytes, timeout: float, message: Message | None = None
    ) -> Reply | Awaitable[Reply]:
        """Run the local handler (the host answers NO_HANDLER at once when none matches)."""
        return self._host().start_request(topic, frame, message)

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
        self._clients[client_id] = self._clients.get(client_id, 0) + 1

    async def detach_client(self, client_id: str) -> None:
        """Forget one attach of the client; it is gone when the last one is."""
        left = self._clients.get(client_id, 0) - 1
        if left > 0:
            self._clients[client_id] = left
        else:
            self._clients.pop(client_id, None)

    async def watch(self, pattern: str) -> None:
        """Nothing to do: the host matches its own subscriptions on every publish."""

    async def unwatch(self, pattern: str) -> None:
        """Nothing to do."""

    async def serve(self, pattern: str) -> None:
        """Nothing to do: the host knows its handlers (so a new handler works at once)."""

    async def unserve(self, pattern: str) -> None:
        """Nothing to do."""
