"""The ``wsmq`` command: ``wsmq serve [APP] [--demo] [--conformance] [options]``, ``wsmq
conformance URL …``, ``wsmq codegen CATALOGUE … [--check]`` and ``wsmq asyncapi CATALOGUE
[-o FILE]`` (docs/operations.md, "Configuration").

``APP`` is ``package.module:attribute``: a :class:`~websocketmq.broker.Broker`, or a function
returning one (called with the configured ``BrokerOptions`` when it takes an argument), loaded
as uvicorn loads ``module:app`` with the current directory on ``sys.path``. ``--demo`` installs
the demo, ``--conformance`` the conformance fixture; with none of them the broker is bare
(client-to-client publish/subscribe). Every ``BrokerOptions`` field is a flag and a
``WSMQ_*`` variable (:mod:`websocketmq.config`).

Readiness (design.md §8): once accepting connections, ``serve`` prints exactly one line
``wsmq: listening on ws://HOST:PORT/PATH`` to stdout, flushed; tests and other tools wait for it.
What it serves is the next log line (stderr). SIGTERM/SIGINT drain (``Broker.drain``: ``/readyz``
503, new upgrades 503, requests in flight answered up to ``--graceful-timeout``), then close
(1001, what is left fails SHUTTING_DOWN) and exit 0; a second signal skips the rest of the wait.

A mistake the operator can fix (port in use, unknown host or log level, missing ``nats-py``,
NATS unreachable or its ``max_payload`` too small, an ``APP`` that does not load,
``--conformance`` off loopback) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import importlib
import inspect
import ipaddress
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .broker import Broker, BrokerOptions
from .config import ConfigError, add_arguments, from_sources, load_object
from .logs import configure as configure_logs
from .loops import LOOPS, LoopUnavailable
from .loops import run as run_on_loop
from .server import Server, serve

__all__ = ["main", "run_serve"]

log = logging.getLogger("websocketmq")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
GRACEFUL_TIMEOUT = 20.0
"""Default ``--graceful-timeout`` (s): below the 30 s a supervisor usually waits before SIGKILL
(Kubernetes' ``terminationGracePeriodSeconds``, systemd's ``TimeoutStopSec`` is 90 s), leaving
time for the SHUTTING_DOWN answers and close frames."""


class UsageError(Exception):
    """What the operator must change; ``main`` prints it as one line and exits 2."""


def _env(name: str, default: str) -> str:
    return os.environ.get("WSMQ_" + name, default)


def _parser() -> argparse.ArgumentParser:
    version = f"%(prog)s {__version__}"
    parser = argparse.ArgumentParser(prog="wsmq", description="WebSocketMQ (wsmq/1) tools")
    parser.add_argument("--version", action="version", version=version)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser(
        "serve",
        help="run the reference broker",
        description="Run a broker: your APP, the demo, or a bare broker. Command-line flags "
        "win over WSMQ_* environment variables, which win over the defaults.",
    )
    s.add_argument("--version", action="version", version=f"wsmq {__version__}")
    s.add_argument(
        "app",
        nargs="?",
        metavar="APP",
        help="package.module:attribute, a Broker or a function returning one (called with the "
        "options when it takes an argument); the current directory is on sys.path",
    )
    s.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="interface [WSMQ_HOST]")
    s.add_argument(
        "--port",
        default=_env("PORT", "8080"),
        help="port (default 8080; 0 = a free port) [WSMQ_PORT]",
    )
    s.add_argument("--path", default=_env("PATH", "/ws"), help="WebSocket path [WSMQ_PATH]")
    s.add_argument("--demo", action="store_true", help="install the demo; its page at /")
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
        "--nats",
        action="append",
        default=None,
        metavar="URL",
        help="NATS server(s): cluster mode (repeatable) [WSMQ_NATS, comma-separated]",
    )
    s.add_argument(
        "--nats-namespace",
        default=_env("NATS_NAMESPACE", "default"),
        help="NATS subject namespace [WSMQ_NATS_NAMESPACE]",
    )
    s.add_argument(
        "--graceful-timeout",
        default=_env("GRACEFUL_TIMEOUT", str(GRACEFUL_TIMEOUT)),
        metavar="SECONDS",
        help="on SIGTERM, how long requests in flight may take to finish before they fail "
        f"SHUTTING_DOWN (default {GRACEFUL_TIMEOUT:g}) [WSMQ_GRACEFUL_TIMEOUT]",
    )
    s.add_argument(
        "--compression",
        choices=("none", "deflate"),
        default=_env("COMPRESSION", "none"),
        help="permessage-deflate with clients that offer it; costs ~40 KiB per connection and "
        "CPU per frame (default none; docs/security.md §4) [WSMQ_COMPRESSION]",
    )
    s.add_argument(
        "--log-level",
        default=_env("LOG_LEVEL", "INFO"),
        help=f"{', '.join(_LEVELS)} (default INFO) [WSMQ_LOG_LEVEL]",
    )
    s.add_argument(
        "--log-format",
        default=_env("LOG_FORMAT", "text"),
        help="text lines (default) or json, one object per event (docs/operations.md) "
        "[WSMQ_LOG_FORMAT]",
    )
    s.add_argument(
        "--loop",
        choices=LOOPS,
        default=_env("LOOP", "asyncio"),
        help="event loop: asyncio (default) or uvloop (the uvloop extra; docs/operations.md) "
        "[WSMQ_LOOP]",
    )
    add_arguments(s)
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
    if rest[:1] == ["--version"]:
        sys.stdout.write(f"wsmq {command} {__version__}\n")
        return 0
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


def _loopback(host: str) -> bool:
    """Whether ``host`` binds only this machine's loopback interface."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere


def _number(text: str, flag: str, kind: Callable[[str], Any]) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"{flag}: {text!r} is not a {kind.__name__}") from None
    if value < 0:
        raise UsageError(f"{flag}: {text!r} must not be negative")
    return value


def _nats_backend(urls: list[str], namespace: str) -> Any:
    try:
        mod = importlib.import_module("websocketmq.backends.nats")
        return mod.NatsBackend(urls, namespace=namespace)
    except ImportError:
        raise UsageError(
            "--nats needs nats-py, which is not installed: pip install 'websocketmq[nats]'"
        ) from None
    except ValueError as exc:
        raise UsageError(f"--nats: {exc}") from None


def _make_broker(app: str, options: BrokerOptions, changed: list[str]) -> Any:
    """The application's broker (or the awaitable of it, from an async factory)."""
    obj = load_object(app)
    if isinstance(obj, Broker):
        if changed:
            flags = ", ".join("--" + name.replace("_", "-") for name in changed)
            raise UsageError(
                f"{app} is a Broker built with its own options, so {flags} (from the command "
                "line or WSMQ_*) cannot apply: make it a function that takes them, "
                "def make_broker(options): return Broker(options)"
            )
        return obj
    if not callable(obj) or (isinstance(obj, type) and not issubclass(obj, Broker)):
        raise UsageError(
            f"{app} is a {type(obj).__name__}, not a Broker or a function returning one"
        )
    try:
        takes_options = bool(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        takes_options = False
    if not takes_options and changed:
        flags = ", ".join("--" + name.replace("_", "-") for name in changed)
        raise UsageError(
            f"{app}() takes no options, so {flags} cannot apply: give it a parameter "
            "(def make_broker(options): return Broker(options))"
        )
    return obj(options) if takes_options else obj()


async def _broker(args: argparse.Namespace) -> Broker:
    """Build the broker the command line asks for."""
    options, changed = from_sources(args)
    nats = args.nats or [u for u in _env("NATS", "").split(",") if u.strip()]
    if nats:
        if "backend" in changed:
            raise UsageError("--nats and --backend both choose the backend: give one")
        options.backend = _nats_backend(nats, args.nats_namespace)
        changed.append("backend")
    if args.app is None:
        return Broker(options)
    made = _make_broker(args.app, options, changed)
    if inspect.isawaitable(made):
        made = await made
    if not isinstance(made, Broker):
        raise UsageError(f"{args.app} returned a {type(made).__name__}, not a Broker")
    return made


def _describe(broker: Broker, app: str | None, args: argparse.Namespace) -> str:
    """The startup line: what this process serves."""
    parts = [app] if app is not None else []
    parts += [
        name
        for name, on in (("the demo", args.demo), ("the conformance fixture", args.conformance))
        if on
    ]
    if not parts:
        return (
            "serving a bare broker: no server handlers; clients publish and subscribe to each "
            "other's events (give APP, module:broker, to run your handlers, or --demo)"
        )
    n = broker.handler_count()
    return f"serving {' + '.join(parts)} ({n} server handler{'s' if n != 1 else ''})"


async def _start(server: Server, host: str, port: int) -> None:
    """Listen, or say in one line why not."""
    try:
        await server.start()
    except socket.gaierror as exc:
        raise UsageError(f"cannot resolve --host {host!r}: {exc.strerror}") from None
    except UnicodeError:  # the idna codec: an empty or over-long label
        raise UsageError(f"cannot resolve --host {host!r}: not a valid host name") from None
    except RuntimeError as exc:  # NATS max_payload too small (PayloadLimitError)
        raise UsageError(f"cannot start: {exc}") from None
    except OSError as exc:
        if isinstance(exc, ConnectionError) or "NATS" in str(exc):
            raise UsageError(str(exc)) from None
        code = exc.errno
        if code == errno.EADDRINUSE:
            why = "the port is in use by another process: stop it, or choose --port (0 = free)"
        elif code == errno.EADDRNOTAVAIL:
            why = "that address is not on this machine: choose --host"
        elif code == errno.EACCES:
            why = "permission denied (ports below 1024 need privileges)"
        else:
            why = exc.strerror or str(exc)
        raise UsageError(f"cannot listen on {host}:{port}: {why}") from None


async def run_serve(args: argparse.Namespace) -> int:
    """Run the broker until SIGTERM/SIGINT; returns the exit code."""
    if args.conformance and not args.conformance_any_host and not _loopback(args.host):
        raise UsageError(
            f"refusing to serve the conformance fixture on {args.host}: it is for tests "
            "only (any client could make the broker call other clients and publish without "
            "bound). Use a loopback --host such as 127.0.0.1, or add --conformance-any-host."
        )
    port = _number(str(args.port), "--port", int)
    grace = _number(str(args.graceful_timeout), "--graceful-timeout", float)
    broker = await _broker(args)
    demo_task = None
    if args.conformance:
        from .fixture import install_fixture

        install_fixture(broker)
    if args.demo:
        from .demo import install_demo

        demo_task = install_demo(broker)
    signals: asyncio.Queue[int] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, signals.put_nowait, signum)
    compression = None if args.compression == "none" else args.compression
    server = serve(broker, args.host, port, args.path, demo=args.demo, compression=compression)
    try:
        await _start(server, args.host, port)
    except BaseException:
        if demo_task is not None:
            demo_task.cancel()
        await broker.close()
        raise
    log.info("event loop: %s", type(loop).__module__)
    sys.stdout.write(f"wsmq: listening on {server.url}\n")
    sys.stdout.flush()
    log.info("%s", _describe(broker, args.app, args))
    if demo_task is not None:
        log.info("demo: open http://%s:%d/ in a browser", args.host, server.port)
    received = signal.Signals(await signals.get()).name
    log.info("%s: draining (up to %g s for requests in flight)", received, grace)
    drain = asyncio.ensure_future(broker.drain(grace))
    second = asyncio.ensure_future(signals.get())
    await asyncio.wait([drain, second], return_when=asyncio.FIRST_COMPLETED)
    second.cancel()
    if not drain.done():
        log.info("second signal: not waiting any longer")
        drain.cancel()
    elif not drain.result():
        log.info("graceful timeout: requests still in flight fail SHUTTING_DOWN")
    log.info("shutting down")
    if demo_task is not None:
        demo_task.cancel()
    await server.close()
    return 0


def _check_logging(args: argparse.Namespace) -> None:
    level = str(args.log_level).upper()
    if level not in _LEVELS:
        raise UsageError(
            f"--log-level: unknown level {args.log_level!r} (one of {', '.join(_LEVELS)})"
        )
    if args.log_format not in ("text", "json"):
        raise UsageError(f"--log-format: {args.log_format!r} is not text or json")
    args.log_level = level


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wsmq`` script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("conformance", "codegen", "asyncapi"):
        return _delegate(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    try:
        if args.command != "serve":
            return 2
        _check_logging(args)
        configure_logs(args.log_level, args.log_format, sys.stderr)
        if logging.getLogger().level > logging.DEBUG:
            logging.getLogger("websockets").setLevel(logging.WARNING)  # one line per wsmq event
        return run_on_loop(run_serve(args), args.loop)
    except (UsageError, ConfigError, LoopUnavailable) as exc:
        sys.stderr.write(f"wsmq: {exc}\n")
        return 2
