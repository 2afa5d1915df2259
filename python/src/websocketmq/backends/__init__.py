"""Routing backends: how a broker node reaches handlers and clients (design.md §9).

``MemoryBackend`` (default) routes inside one process; ``websocketmq.backends.nats`` (optional,
needs ``nats-py``) spreads one logical broker over several nodes.
"""

from .base import Backend, BackendHost, Reply
from .memory import MemoryBackend

__all__ = ["Backend", "BackendHost", "MemoryBackend", "Reply"]
