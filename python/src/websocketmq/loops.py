"""Which asyncio event loop runs the broker: the standard one, or uvloop (docs/operations.md,
"Event loop").

The loop is chosen where the program starts it, not in :func:`~websocketmq.server.serve`
(which is called from inside a running loop), so this module gives the one place that starts
one: ``wsmq serve --loop uvloop`` and, in a program of your own,
``websocketmq.loops.run(main(), loop="uvloop")``. uvloop is optional (``pip install
'websocketmq[uvloop]'``); asking for it without it installed is one clear error naming the
extra, never a silent fallback to the standard loop (a benchmark or a deployment would then
measure something other than what it asked for).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LOOPS", "LoopUnavailable", "loop_factory", "run"]

T = TypeVar("T")

LOOPS = ("asyncio", "uvloop")
"""The loop names ``--loop`` and :func:`run` accept."""


class LoopUnavailable(RuntimeError):
    """The asked-for event loop is not installed (the message names the extra to install)."""


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of loop ``name`` for :class:`asyncio.Runner` (None: the standard loop)."""
    if name == "asyncio":
        return None
    if name != "uvloop":
        raise ValueError(f"unknown event loop {name!r}: one of {', '.join(LOOPS)}")
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError as exc:
        raise LoopUnavailable(
            "--loop uvloop needs uvloop: pip install 'websocketmq[uvloop]'"
        ) from exc
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], loop: str = "asyncio") -> T:
    """``asyncio.run(main)`` on the event loop named ``loop`` (one of :data:`LOOPS`)."""
    try:
        factory = loop_factory(loop)
    except BaseException:
        main.close()  # never awaited: say so to nobody (no "coroutine was never awaited")
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
