"""What every example server shares: options, the readiness line, a graceful stop.

``run(name, install, pages(here), port)`` parses ``--host`` / ``--port`` (``0``: a free port),
builds a :class:`websocketmq.Broker`, lets ``install(broker)`` put the example's handlers on it,
serves the broker and the example's page (:func:`pages`: the same ``web/NAME.js`` file name that
``examples/build.py`` bundles to) on one port and prints exactly one line
``NAME: listening on http://HOST:PORT/`` once ready (the example tests wait for it). SIGTERM or
SIGINT close it gracefully. ``install`` may return a coroutine function, run as a background task
for as long as the server runs (the dashboard's metrics loop).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from websocketmq import Broker, serve

__all__ = ["Background", "pages", "run"]

Background = Callable[[], Awaitable[None]]


def pages(here: Path) -> dict[str, Path]:
    """The page of the example in ``here`` (``examples/NAME``): ``web/index.html`` at ``/`` and
    the bundle ``examples/build.py`` writes, ``web/NAME.js``, at ``/NAME.js``."""
    return {"/": here / "web" / "index.html", f"/{here.name}.js": here / "web" / f"{here.name}.js"}


async def _serve(
    name: str,
    install: Callable[[Broker], Background | None],
    pages: Mapping[str, Path],
    host: str,
    port: int,
) -> None:
    broker = Broker()
    background = install(broker)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with serve(broker, host, port, "/ws", pages=pages) as server:
        task = loop.create_task(background()) if background is not None else None
        print(f"{name}: listening on http://{host}:{server.port}/", flush=True)
        await stop.wait()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def run(
    name: str,
    install: Callable[[Broker], Background | None],
    pages: Mapping[str, Path],
    default_port: int,
) -> None:
    """``python examples/NAME/server.py [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(description=f"The {name} example's server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    args = parser.parse_args()
    asyncio.run(_serve(name, install, pages, args.host, args.port))
