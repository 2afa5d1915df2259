"""``wsmq-conformance``: run the suite against a server URL (or a spawned reference broker).

Exit status: 0 when no MUST case FAILED, 1 when one did, 2 for usage errors, an unreachable
server, a missing dependency or an interrupted run.  The reports asked for (``--json``,
``--junit``, ``--html``) are written on every exit but a usage error, with whatever the run
holds (for exit 2: the reason and the probe's frames).  Example counts: profile ``core`` 25 per
property, ``full`` 100, ``--thorough`` 1000 (each property case stops drawing examples at 60 %
of its timeout); ``WSMQ_CONFORMANCE_EXAMPLES`` overrides all three.

This module imports only the standard library at import time, so that a missing optional
dependency is reported in one line instead of a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import RunConfig
    from .contract import ContractState
    from .report import SuiteReport

__all__ = ["MAX_TIME", "PROFILE_EXAMPLES", "build_parser", "main", "missing_dependency", "run"]

PROFILE_EXAMPLES = {"core": 25, "full": 100}
THOROUGH_EXAMPLES = 1000
# Default time budget of a whole run (s): a case that starts late gets what is left, at least
# 2 s, so the worst case is about MAX_TIME + 2 s x cases (README: "Time bounds").
MAX_TIME = {"core": 600.0, "full": 900.0, "thorough": 1200.0}
EXTRA_HINT = "pip install 'websocketmq[conformance]'"


def missing_dependency(catalogue: bool = False) -> str | None:
    """A one-line explanation when a dependency of the suite is missing, else None
    (``catalogue``: also what the contract tests need)."""
    needed = [
        ("websockets", "websockets"),
        ("hypothesis", "hypothesis"),
        ("jsonschema", "jsonschema"),
    ]
    if catalogue:
        needed.append(("hypothesis_jsonschema", "hypothesis-jsonschema"))
    for module, dist in needed:
        try:
            __import__(module)
        except ModuleNotFoundError:
            return (
                f"wsmq-conformance needs the package {dist!r}, which is not installed: {EXTRA_HINT}"
            )
    return None


def _version() -> str:
    """The version of the ``websocketmq`` distribution that ships this suite (one place:
    pyproject.toml)."""
    from importlib import metadata

    try:
        return metadata.version("websocketmq")
    except metadata.PackageNotFoundError:  # pragma: no cover - a bare source tree
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wsmq-conformance",
        description="Check a wsmq/1 server from the outside, over a real WebSocket.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    p.add_argument("url", nargs="?", help="server URL, e.g. ws://127.0.0.1:8080/ws")
    p.add_argument(
        "--catalogue",
        metavar="CAT",
        help="contract-test the application server at URL against its catalogue "
        "(spec/catalogue.md §9; cases C.*) instead of running the protocol suite",
    )
    p.add_argument(
        "--spawn-reference",
        action="store_true",
        help="start `python -m websocketmq serve --port 0 --conformance`, test it, stop it",
    )
    p.add_argument(
        "--profile",
        choices=sorted(PROFILE_EXAMPLES),
        default="core",
        help="core: every MUST, fast (default); full: also SHOULD/MAY and slower cases",
    )
    p.add_argument(
        "--thorough",
        action="store_true",
        help=f"{THOROUGH_EXAMPLES} examples per property (implies --profile full)",
    )
    p.add_argument("--examples", type=int, default=None, help="examples per property (overrides)")
    p.add_argument("--random", action="store_true", help="do not derandomize hypothesis")
    p.add_argument(
        "--cases",
        action="append",
        default=[],
        metavar="GLOB",
        help="only case IDs matching GLOB (repeatable, comma-separated), e.g. '4.*'",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip case IDs matching GLOB (repeatable, comma-separated)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=150.0,
        help="max messages/s per connection, bursts of --burst (default 150; 0 = unpaced); "
        "keeps the suite under a server's message-rate limit",
    )
    p.add_argument("--burst", type=int, default=300, help="token-bucket depth for --rate")
    p.add_argument(
        "--max-time",
        type=float,
        default=None,
        metavar="S",
        help="time budget of the whole run in seconds (default: core 600, full 900, "
        "thorough 1200); cases starting late get what is left, at least 2 s each",
    )
    p.add_argument(
        "--vectors", metavar="DIR", help="directory with envelopes.json (default: spec/vectors)"
    )
    p.add_argument("--json", metavar="FILE", help="write the JSON report here")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    p.add_argument("--html", metavar="FILE", help="write an HTML report here")
    p.add_argument("--list", action="store_true", help="list the selected cases and exit")
    p.add_argument("--fail-fast", action="store_true", help="stop after the first FAILED MUST case")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return p


def _globs(values: list[str]) -> list[str]:
    return [g.strip() for v in values for g in v.split(",") if g.strip()]


def _config(args: argparse.Namespace, url: str) -> RunConfig:
    from .context import RunConfig

    profile = "full" if args.thorough else args.profile
    examples = THOROUGH_EXAMPLES if args.thorough else PROFILE_EXAMPLES[profile]
    if os.environ.get("WSMQ_CONFORMANCE_EXAMPLES"):
        examples = int(os.environ["WSMQ_CONFORMANCE_EXAMPLES"])
    if args.examples is not None:
        examples = args.examples
    budget = args.max_time
    if budget is None:
        budget = MAX_TIME["thorough" if args.thorough else profile]
    return RunConfig(
        url=url,
        profile=profile,
        examples=examples,
        derandomize=not args.random,
        vectors_dir=args.vectors,
        rate=args.rate,
        burst=args.burst,
        max_time=budget if budget > 0 else None,
    )


def _include(args: argparse.Namespace) -> list[str] | None:
    """The case globs: the user's, else only the contract cases when a catalogue is given."""
    return _globs(args.cases) or (["C.*"] if args.catalogue else None)


async def run(
    args: argparse.Namespace,
    report: SuiteReport | None = None,
    contract: ContractState | None = None,
) -> SuiteReport:
    """Run according to parsed arguments (spawning the reference broker if asked); fills
    ``report`` in place when given. With ``--catalogue`` the contract cases must have been
    registered (:func:`main` does it)."""
    from .runner import new_report, run_suite
    from .spawn import REFERENCE_CMD, spawned_server

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    async def go(url: str) -> SuiteReport:
        config = _config(args, url)
        target = report if report is not None else new_report(config)
        target.server = url
        try:
            return await run_suite(
                config,
                include=_include(args),
                exclude=_globs(args.exclude) or None,
                progress=progress,
                report=target,
                fail_fast=args.fail_fast,
            )
        finally:
            if contract is not None:
                await contract.stop()

    if args.spawn_reference:
        progress(f"starting reference broker: {' '.join(REFERENCE_CMD)}")
        async with spawned_server(REFERENCE_CMD) as url:
            return await go(url)
    return await go(args.url)


def _write(report: SuiteReport, args: argparse.Namespace) -> None:
    if args.json:
        report.write_json(args.json)
    if args.junit:
        report.write_junit(args.junit)
    if args.html:
        from .htmlreport import write_html

        write_html(report, args.html)


def _interrupt(_sig: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = missing_dependency(catalogue=bool(args.catalogue))
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    from .model import REGISTRY, select_cases
    from .runner import ServerUnreachable, new_report
    from .spawn import SpawnError
    from .vectors import register_vector_cases

    contract = None
    if args.catalogue:
        from .catalogue import CatalogueError, load_catalogue
        from .contract import register_contract_cases

        try:
            contract = register_contract_cases(load_catalogue(args.catalogue))
        except CatalogueError as exc:
            print(f"wsmq-conformance: {exc}", file=sys.stderr)
            return 2
    if args.list:
        register_vector_cases(args.vectors)
        profile = "full" if args.thorough else args.profile
        for c in select_cases(
            REGISTRY.values(),
            profile=profile,
            include=_include(args),
            exclude=_globs(args.exclude) or None,
        ):
            fx = "F " if c.fixture else "  "
            print(f"{c.id:<12} {c.level:<6} {fx}{c.description}  [{c.section}]")
        return 0
    if not args.url and not args.spawn_reference:
        build_parser().error("give a server URL or --spawn-reference")
    report = new_report(_config(args, args.url or "(reference broker, not started)"))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        asyncio.run(run(args, report, contract))
    except (ServerUnreachable, SpawnError, OSError) as exc:
        report.fatal = report.fatal or f"{type(exc).__name__}: {exc}"
        print(f"wsmq-conformance: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        report.fatal = f"interrupted after {len(report.results)} of {report.selected} cases"
        print(f"wsmq-conformance: {report.fatal}", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
    _write(report, args)
    print(report.text_summary(), flush=True)
    return report.exit_code()
