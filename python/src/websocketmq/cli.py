"""The ``wsmq`` command: ``wsmq serve [--host --port --path --demo --conformance --nats URL …]``,
``wsmq conformance URL …``, ``wsmq codegen CATALOGUE … [--check]`` and
``wsmq asyncapi CATALOGUE [-o FILE]``.

Readiness (design.md §8): once accepting connections, ``serve`` prints exactly one line
``wsmq: listening on ws://HOST:PORT/PATH`` to stdout, flushed; tests and other tools wait for it.
SIGTERM/SIGINT close gracefully (1001, pending requests fail SHUTTING_DOWN) and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .broker import Broker, BrokerOptions
from .logs import configure as configure_logs
from .server import serve

__all__ = ["main", "run_serve"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsmq", description="WebSocketMQ (wsmq/1) tools")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the reference broker")
    s.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = free port)")
    s.add_argument("--path", default="/ws", help="WebSocket path (default /ws)")
    s.add_argument("--demo", action="store_true", help="install the seed demo handlers")
    s.add_argument(
        "--conformance",
        action="store_true",
        help="install the conformance fixture handlers. FOR TESTS ONLY: they let any client "
        "make the broker call any other client and publish without bound, so this is refused "
        "on a non-loopback --host unless --conformance-any-host is given",
    )
    s.add_argument(
        "--conformance-any-host",
        action="store_true",
        help="allow --conformance on a non-loopback --host (tests on an isolated network only)",
    )
    s.add_argument(
        "--nats", action="append", default=[], metavar="URL", help="NATS server(s): cluster mode"
    )
    s.add_argument("--nats-namespace", default="default", help="NATS subject namespace")
    s.add_argument(
        "--resume-secret",
        default=os.environ.get("WSMQ_RESUME_SECRET"),
        metavar="SECRET",
        help="HMAC key of resume tokens; give every cluster node the same one so clients can "
        "resume on any node (default: env WSMQ_RESUME_SECRET, else random per process)",
    )
    s.add_argument(
        "--allowed-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="allow browser pages from this origin (repeatable; 'none' = clients that send no "
        "Origin, '*' = any). Default: same-origin only, and clients without Origin "
        "(docs/security.md §3)",
    )
    s.add_argument(
        "--max-connections-per-ip",
        type=int,
        default=None,
        metavar="N",
        help="concurrent connections per remote address, 0 = off (default 256)",
    )
    s.add_argument(
        "--max-pending-handshakes",
        type=int,
        default=None,
        metavar="N",
        help="accepted sockets whose upgrade request has not arrived, server-wide; one more "
        "drops the oldest, 0 = off (default 512; keep it under ulimit -n)",
    )
    s.add_argument(
        "--message-rate",
        type=float,
        default=None,
        metavar="PER_S",
        help="messages per second per connection, 0 = off (default 200, bursts of 400)",
    )
    s.add_argument(
        "--compression",
        choices=("none", "deflate"),
        default="none",
        help="permessage-deflate with clients that offer it; costs ~40 KiB per connection and "
        "CPU per frame (default none; docs/security.md §4)",
    )
    s.add_argument(
        "--metrics",
        action="store_true",
        help="Prometheus metrics at GET /metrics (needs websocketmq[metrics]; docs/operations.md)",
    )
    s.add_argument(
        "--dashboard",
        action="store_true",
        help="the live dashboard at GET /dashboard, behind the authentication hook",
    )
    s.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING… (default INFO)")
    s.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text lines (default) or JSON lines, one object per event (docs/operations.md)",
    )
    for name, help_text in (
        ("conformance", "run the wsmq/1 conformance suite (same as wsmq-conformance)"),
        ("codegen", "typed SDKs from a catalogue: wsmq codegen CATALOGUE --python DIR …"),
        ("asyncapi", "a catalogue as an AsyncAPI 3.0 document: wsmq asyncapi CATALOGUE [-o FILE]"),
    ):
        sub.add_parser(name, help=help_text, add_help=False)  # argv handed on as is (main)
    return parser


def _delegate(command: str, rest: list[str]) -> int:
    """Hand ``wsmq conformance|codegen|asyncapi …`` to the tool that owns it: one CLI."""
    if command == "conformance":
        conformance = importlib.import_module("wsmq_conformance.cli")
        return int(conformance.main(rest))
    try:
        module = "generate" if command == "codegen" else "catalogue.asyncapi"
        return int(_codegen_module(module).main(rest))
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "codegen":
            sys.stderr.write(f"wsmq {command}: this install has no code generator\n")
        else:
            sys.stderr.write(
                f"wsmq {command}: needs the codegen extra: pip install 'websocketmq[codegen]' "
                f"(No module named {exc.name!r})\n"
            )
        return 2


_CHECKOUT = Path(__file__).resolve().parents[3]
"""The root of a source checkout when this file is ``python/src/websocketmq/cli.py``."""


def _codegen_module(module: str) -> Any:
    """The code generator: the wheel's copy (``websocketmq/codegen``, force-included from the
    checkout's ``codegen/``), else the one at the root of the source checkout this package was
    installed from (an editable install), whatever the current directory.

    A ``ModuleNotFoundError`` for one of its own dependencies (jinja2, yaml, jsonschema) is
    raised to the caller, which names the extra that brings them.
    """
    try:
        return importlib.import_module(f"websocketmq.codegen.{module}")
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("websocketmq.codegen"):
            raise
    if (_CHECKOUT / "codegen" / "generate.py").is_file() and str(_CHECKOUT) not in sys.path:
        sys.path.insert(0, str(_CHECKOUT))
    return importlib.import_module(f"codegen.{module}")


def _nats_backend(urls: list[str], namespace: str) -> Any:
    try:
        mod = importlib.import_module("websocketmq.backends.nats")
    except ImportError as exc:
        raise SystemExit(
            f"wsmq: --nats needs websocketmq.backends.nats and nats-py: {exc}"
        ) from exc
    return mod.NatsBackend(urls, namespace=namespace)


def _loopback(host: str) -> bool:
    """Whether ``host`` binds only this machine's loopback interface."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere


async def run_serve(args: argparse.Namespace) -> int:
    """Run the broker until SIGTERM/SIGINT; returns the exit code."""
    if args.conformance and not args.conformance_any_host and not _loopback(args.host):
        sys.stderr.write(
            f"wsmq: refusing to serve the conformance fixture on {args.host}: it is for tests "
            "only (any client could make the broker call other clients and publish without "
            "bound). Use a loopback --host such as 127.0.0.1, or add --conformance-any-host.\n"
        )
        return 2
    options = BrokerOptions.default()
    if args.resume_secret:
        options.resume_secret = args.resume_secret.encode()
    if args.nats:
        options.backend = _nats_backend(args.nats, args.nats_namespace)
    if args.allowed_origin is not None:
        options.allowed_origins = [None if o.lower() == "none" else o for o in args.allowed_origin]
    if args.max_connections_per_ip is not None:
        options.max_connections_per_ip = args.max_connections_per_ip
    if args.max_pending_handshakes is not None:
        options.max_pending_handshakes = args.max_pending_handshakes
    if args.message_rate is not None:
        options.message_rate = args.message_rate
    options.metrics = args.metrics
    options.dashboard = args.dashboard
    broker = Broker(options)
    demo_task = None
    if args.conformance:
        from .fixture import install_fixture

        install_fixture(broker)
    if args.demo or not args.conformance:
        from .demo import install_demo

        demo_task = install_demo(broker)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    compression = None if args.compression == "none" else args.compression
    server = serve(broker, args.host, args.port, args.path, compression=compression)
    try:
        await server.start()
    except (ConnectionError, RuntimeError) as exc:
        if not args.nats:
            raise
        # NATS unreachable, or its max_payload too small (PayloadLimitError): say so plainly
        sys.stderr.write(f"wsmq: cannot start: {exc}\n")
        with contextlib.suppress(Exception):
            await server.close()
        return 1
    sys.stdout.write(f"wsmq: listening on {server.url}\n")
    sys.stdout.flush()
    if demo_task is not None:
        logging.getLogger("websocketmq.demo").info(
            "demo: open http://%s:%d/ in a browser, or connect a client to %s",
            args.host,
            server.port,
            server.url,
        )
    await stop.wait()
    logging.getLogger("websocketmq").info("shutting down")
    if demo_task is not None:
        demo_task.cancel()
    await server.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wsmq`` script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("conformance", "codegen", "asyncapi"):
        return _delegate(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    configure_logs(args.log_level, args.log_format, sys.stderr)
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("websockets").setLevel(logging.WARNING)  # one line per wsmq event
    if args.command == "serve":
        return asyncio.run(run_serve(args))
    return 2
