"""Run selected cases against one server, one case at a time, and grade them.

Cases run sequentially: concurrency is something particular cases test on purpose, and a
sequential run keeps each verdict attributable to the case that produced it.  Every case gets a
fresh :class:`Context` and all its connections are closed afterwards, so one case's leftovers
(subscriptions, pending requests) cannot leak into the next.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed

from . import cases as _cases  # noqa: F401 - importing registers the cases
from .context import Context, RunConfig
from .model import REGISTRY, CaseFailed, CaseResult, NonStrict, Unimplemented, Verdict, select_cases
from .peer import FrameLog, Peer
from .report import SuiteReport
from .schemas import load_schemas
from .vectors import register_vector_cases

__all__ = ["ServerUnreachable", "probe_fixture", "run_suite"]

Progress = Callable[[str], None]


class ServerUnreachable(Exception):
    """The server under test could not be reached or does not speak wsmq/1 at all."""


async def probe_fixture(config: RunConfig, log: FrameLog) -> bool:
    """Does the server expose the conformance fixture?  NO_HANDLER on conformance.echo = no."""
    try:
        p = await Peer.open(config.url, name="probe", log=log)
    except Exception as exc:
        raise ServerUnreachable(f"cannot connect to {config.url}: {exc!r}") from exc
    try:
        try:
            await p.register({})
        except CaseFailed as exc:
            raise ServerUnreachable(
                f"{config.url} does not acknowledge registration: {exc}"
            ) from exc
        try:
            m = await p.request("conformance.echo", {"probe": True})
        except CaseFailed:
            return True  # something answers, but wrongly: let the cases judge it
        return not (m.type == "error" and m.error_code == "NO_HANDLER")
    finally:
        await p.close()


async def run_suite(
    config: RunConfig,
    *,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    progress: Progress | None = None,
) -> SuiteReport:
    """Run the suite; never raises for server misbehaviour (that is what verdicts are for)."""
    register_vector_cases(config.vectors_dir)
    selected = select_cases(
        REGISTRY.values(), profile=config.profile, include=include, exclude=exclude
    )
    schemas = load_schemas(config.vectors_dir)
    log = FrameLog(schema=schemas)
    report = SuiteReport(
        server=config.url,
        profile=config.profile,
        examples=config.examples,
        fixture=None,
        started=time.time(),
    )
    t0 = time.monotonic()
    report.fixture = await probe_fixture(config, log)
    if progress:
        progress(
            f"wsmq-conformance: {len(selected)} cases, profile {config.profile}, "
            f"{config.examples} examples per property, fixture "
            f"{'present' if report.fixture else 'ABSENT (fixture cases UNIMPLEMENTED)'}, "
            f"schemas {'loaded' if schemas else 'not found (hand-written envelope checks only)'}"
        )
    width = len(str(len(selected)))
    for i, c in enumerate(selected, 1):
        ctx = Context(config=config, log=log, fixture=report.fixture)
        start = time.monotonic()
        result = CaseResult(c.id, c.description, c.section, c.level, Verdict.OK)
        try:
            if c.fixture:
                ctx.need_fixture()
            await asyncio.wait_for(c.fn(ctx), c.timeout)
            if ctx.nonstrict:
                result.verdict, result.message = Verdict.NON_STRICT, "; ".join(ctx.nonstrict)
            elif ctx.informational_message is not None:
                result.verdict = Verdict.INFORMATIONAL
                result.message = ctx.informational_message
        except CaseFailed as exc:
            result.verdict, result.message, result.example = Verdict.FAILED, str(exc), exc.example
        except AssertionError as exc:
            result.verdict, result.message = Verdict.FAILED, str(exc) or "assertion failed"
        except NonStrict as exc:
            result.verdict, result.message = Verdict.NON_STRICT, str(exc)
        except Unimplemented as exc:
            result.verdict, result.message = Verdict.UNIMPLEMENTED, str(exc)
        except TimeoutError:
            result.verdict = Verdict.FAILED
            result.message = f"case did not finish within {c.timeout}s"
        except ConnectionClosed as exc:
            result.verdict, result.message = (
                Verdict.FAILED,
                f"connection closed unexpectedly: {exc}",
            )
        except (OSError, Exception) as exc:
            result.verdict = Verdict.FAILED
            result.message = f"{type(exc).__name__}: {exc}"
            result.details["traceback"] = traceback.format_exc(limit=5)
        finally:
            ctx.abort.set()
            await ctx.close()
        result.duration = time.monotonic() - start
        report.results.append(result)
        if progress:
            line = f"[{i:>{width}}/{len(selected)}] {c.id:<12} {result.verdict:<13} {c.description}"
            if result.verdict is Verdict.FAILED:
                line += f"\n      -> {result.message}"
                if result.example:
                    line += f"\n      -> minimal failing example: {result.example}"
            progress(line)
    report.duration = time.monotonic() - t0
    return report
