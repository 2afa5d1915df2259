"""The broker's background tasks: spawned, tracked until done, drained at shutdown.

Fire-and-forget work (backend announcements, async event handlers, registration events) must
not be garbage-collected while it runs nor outlive :meth:`Broker.close`; one set holds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

__all__ = ["Background"]


class Background:
    """A set of tasks that removes each one when it ends."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    def spawn(self, work: Awaitable[Any]) -> asyncio.Future[Any]:
        """Run ``work`` in the background; returns its task (or future)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float) -> None:
        """Let the running tasks finish for up to ``timeout`` seconds, then cancel the rest."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
