"""The pending-request table: correlation ID → waiter, settled exactly once.

A waiter is whatever the I/O layer uses (an asyncio future in the broker and the client); this
module never touches it. Settled correlations are remembered in a bounded FIFO so that a late or
duplicate answer is recognised and dropped silently (design.md §2), while an answer to a
correlation that was never pending is reported as unknown (``UNKNOWN_CORRELATION``). The memory
tells an answer to a request the requester gave up on (:attr:`Lookup.LATE`, an honest race with
a timeout or a cancel) from a second answer to one already answered (:attr:`Lookup.DUPLICATE`,
which no correct peer sends), because the broker charges only the second to the error budget
(spec §8.7, §12.1).
"""

from __future__ import annotations

from collections import OrderedDict
from enum import Enum
from typing import Generic, TypeVar

__all__ = ["Lookup", "PendingTable"]

W = TypeVar("W")


class Lookup(Enum):
    """Outcome of :meth:`PendingTable.settle` for an answer that found no waiter."""

    LATE = "late"  # given up before (timeout, cancel, disconnect): drop silently
    DUPLICATE = "duplicate"  # answered before: drop silently, a fault of the sender
    UNKNOWN = "unknown"  # never pending: UNKNOWN_CORRELATION


class PendingTable(Generic[W]):
    """Correlation ID → waiter with a bounded memory of recently settled IDs."""

    def __init__(self, remember: int = 1024) -> None:
        self._pending: dict[str, W] = {}
        self._settled: OrderedDict[str, bool] = OrderedDict()
        """Recently settled correlation → whether it was answered (else given up)."""
        self._remember = remember

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, correlation_id: object) -> bool:
        return correlation_id in self._pending

    def correlations(self) -> list[str]:
        """The pending correlation IDs (a copy: safe to settle while iterating)."""
        return list(self._pending)

    def add(self, correlation_id: str, waiter: W) -> None:
        """Register a waiter; the correlation must not be pending already."""
        if correlation_id in self._pending:
            raise ValueError(f"correlation {correlation_id!r} already pending")
        self._pending[correlation_id] = waiter

    def settle(self, correlation_id: str) -> W | Lookup:
        """Remove and return the waiter, or say why there is none."""
        waiter = self._pending.pop(correlation_id, None)
        if waiter is not None:
            self._forget_later(correlation_id, answered=True)
            return waiter
        answered = self._settled.get(correlation_id)
        if answered is None:
            return Lookup.UNKNOWN
        if answered:
            return Lookup.DUPLICATE
        return Lookup.LATE

    def discard(self, correlation_id: str) -> W | None:
        """Drop a waiter without an answer (timeout, cancel); later answers count as late."""
        waiter = self._pending.pop(correlation_id, None)
        if waiter is not None:
            self._forget_later(correlation_id)
        return waiter

    def drain(self) -> list[W]:
        """Remove and return every pending waiter (connection closed)."""
        waiters = list(self._pending.values())
        for corr in self._pending:
            self._forget_later(corr)
        self._pending.clear()
        return waiters

    def _forget_later(self, correlation_id: str, *, answered: bool = False) -> None:
        self._settled[correlation_id] = answered
        if len(self._settled) > self._remember:
            self._settled.popitem(last=False)
