"""Interest counting: which event patterns this node wants from its backend (design.md §9).

Client subscriptions and server handlers both make a node want events on a pattern; the
backend is told once on the first interest (``Backend.watch``) and once when the last goes
(``Backend.unwatch``). An in-process backend matches on every publish and is never told.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from ..backends.base import Backend
from .background import Background

__all__ = ["Interest"]


class Interest:
    """Reference counts of the event patterns this node watches."""

    def __init__(self, backend: Backend, background: Background) -> None:
        self._backend = backend
        self._background = background
        self._counts: dict[str, int] = {}
        self._ready: dict[str, asyncio.Future[Any]] = {}
        self._tell = False
        """Whether the backend is started and wants to be told (not in-process)."""

    def start(self) -> None:
        """The backend is started: tell it from now on (:meth:`patterns` are for catching up)."""
        self._tell = not self._backend.in_process

    @property
    def patterns(self) -> Iterable[str]:
        """Every pattern with interest."""
        return self._counts.keys()

    def watch(self, pattern: str) -> asyncio.Future[Any] | None:
        """Count interest; returns the backend task making it effective while it runs (a
        subscription is acknowledged only after it: with NATS the SUB must reach the server
        before the client is told it is subscribed, or a publish from another node races it)."""
        count = self._counts.get(pattern, 0)
        self._counts[pattern] = count + 1
        if count == 0 and self._tell:
            task = self._background.spawn(self._backend.watch(pattern))
            self._ready[pattern] = task
            task.add_done_callback(lambda _t: self._ready.pop(pattern, None))
            return task
        return self._ready.get(pattern)

    def unwatch(self, pattern: str) -> None:
        """Drop one interest; the last one tells the backend."""
        count = self._counts.get(pattern, 0) - 1
        if count > 0:
            self._counts[pattern] = count
            return
        self._counts.pop(pattern, None)
        if self._tell:
            self._background.spawn(self._backend.unwatch(pattern))
