"""``wsmq-conformance``: run the suite against a server URL (or a spawned reference broker).

Exit status: 0 when no MUST case FAILED, 1 when one did, 2 for usage errors or an unreachable
server.  Example counts: profile ``core`` 25 per property, ``full`` 100, ``--thorough`` 1000;
``WSMQ_CONFORMANCE_EXAMPLES`` overrides all three.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from .context import RunConfig
from .model import REGISTRY, select_cases
from .report import SuiteReport
from .runner import ServerUnreachable, run_suite
from .spawn import REFERENCE_CMD, SpawnError, spawned_server
from .vectors import register_vector_cases

__all__ = ["PROFILE_EXAMPLES", "build_parser", "main", "run"]

PROFILE_EXAMPLES = {"core": 25, "full": 100}
THOROUGH_EXAMPLES = 1000


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wsmq-conformance",
        description="Check a wsmq/1 server from the outside, over a real WebSocket.",
    )
    p.add_argument("url", nargs="?", help="server URL, e.g. ws://127.0.0.1:8080/ws")
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
        "--vectors", metavar="DIR", help="directory with envelopes.json (default: spec/vectors)"
    )
    p.add_argument("--json", metavar="FILE", help="write the JSON report here")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    p.add_argument("--list", action="store_true", help="list the selected cases and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return p


def _globs(values: list[str]) -> list[str]:
    return [g.strip() for v in values for g in v.split(",") if g.strip()]


def _config(args: argparse.Namespace, url: str) -> RunConfig:
    profile = "full" if args.thorough else args.profile
    examples = THOROUGH_EXAMPLES if args.thorough else PROFILE_EXAMPLES[profile]
    if os.environ.get("WSMQ_CONFORMANCE_EXAMPLES"):
        examples = int(os.environ["WSMQ_CONFORMANCE_EXAMPLES"])
    if args.examples is not None:
        examples = args.examples
    return RunConfig(
        url=url,
        profile=profile,
        examples=examples,
        derandomize=not args.random,
        vectors_dir=args.vectors,
        rate=args.rate,
        burst=args.burst,
    )


async def run(args: argparse.Namespace) -> SuiteReport:
    """Run according to parsed arguments (spawning the reference broker if asked)."""

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    async def go(url: str) -> SuiteReport:
        return await run_suite(
            _config(args, url),
            include=_globs(args.cases) or None,
            exclude=_globs(args.exclude) or None,
            progress=progress,
        )

    if args.spawn_reference:
        progress(f"starting reference broker: {' '.join(REFERENCE_CMD)}")
        async with spawned_server(REFERENCE_CMD) as url:
            return await go(url)
    return await go(args.url)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        register_vector_cases(args.vectors)
        profile = "full" if args.thorough else args.profile
        for c in select_cases(
            REGISTRY.values(),
            profile=profile,
            include=_globs(args.cases) or None,
            exclude=_globs(args.exclude) or None,
        ):
            fx = "F " if c.fixture else "  "
            print(f"{c.id:<12} {c.level:<6} {fx}{c.description}  [{c.section}]")
        return 0
    if not args.url and not args.spawn_reference:
        build_parser().error("give a server URL or --spawn-reference")
    try:
        report = asyncio.run(run(args))
    except (ServerUnreachable, SpawnError, OSError) as exc:
        print(f"wsmq-conformance: {exc}", file=sys.stderr)
        return 2
    if args.json:
        report.write_json(args.json)
    if args.junit:
        report.write_junit(args.junit)
    print(report.text_summary(), flush=True)
    return report.exit_code()
