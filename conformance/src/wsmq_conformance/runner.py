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
from .model import (
    REGISTRY,
    CaseFailed,
    CaseResult,
    Level,
    NonStrict,
    Unimplemented,
    Verdict,
    select_cases,
)
from .peer import FrameLog, Transcript
from .probe import ServerUnreachable, probe_server
from .report import SuiteReport
from .schemas import load_schemas
from .vectors import register_vector_cases

__all__ = ["ServerUnreachable", "new_report", "run_suite"]

Progress = Callable[[str], None]

FRAMES_ON_FAILURE = True  # failed cases carry their transcript in the report


def new_report(config: RunConfig) -> SuiteReport:
    """An empty report for ``config``; :func:`run_suite` fills it in place, so a caller that
    is interrupted (exit 2, Ctrl-C) can still write what it holds."""
    return SuiteReport(
        server=config.url,
        profile=config.profile,
        examples=config.examples,
        fixture=None,
        started=time.time(),
    )


async def run_suite(
    config: RunConfig,
    *,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    progress: Progress | None = None,
    report: SuiteReport | None = None,
    fail_fast: bool = False,
) -> SuiteReport:
    """Run the suite; never raises for server misbehaviour (that is what verdicts are for).
    ``fail_fast``: stop after the first FAILED MUST case (the mutation harness only needs to
    know whether one fails; the report then holds the cases run so far).

    Raises ServerUnreachable when the probe cannot connect or register (``report``, when
    given, then holds the probe's frames and the reason)."""
    register_vector_cases(config.vectors_dir)
    selected = select_cases(
        REGISTRY.values(), profile=config.profile, include=include, exclude=exclude
    )
    schemas = load_schemas(config.vectors_dir)
    log = FrameLog(schema=schemas)
    if report is None:
        report = new_report(config)
    report.selected = len(selected)
    t0 = time.monotonic()
    probe_frames = Transcript()
    try:
        caps = await probe_server(config.url, log, transcript=probe_frames)
    except ServerUnreachable as exc:
        report.fatal = str(exc)
        report.probe_frames = list(probe_frames)
        report.duration = time.monotonic() - t0
        raise
    report.fixture = caps.fixture
    report.capabilities = caps
    if progress:
        progress(
            f"wsmq-conformance: {len(selected)} cases, profile {config.profile}, "
            f"{config.examples} examples per property, registers with {caps.register_label}, "
            f"fixture {'present' if caps.fixture else 'ABSENT (fixture cases UNIMPLEMENTED)'}, "
            f"schemas {'loaded' if schemas else 'not found (hand-written envelope checks only)'}"
        )
        for note in caps.notes:
            progress(f"  probe: {note}")
    width = len(str(len(selected)))
    for i, c in enumerate(selected, 1):
        ctx = Context(config=config, log=log, caps=caps)
        start = time.monotonic()
        limit = c.timeout
        if config.max_time is not None:  # the run's budget: late cases get what is left (>= 2 s)
            limit = min(limit, max(2.0, config.max_time - (start - t0)))
        ctx.soft_deadline = start + 0.6 * limit
        result = CaseResult(c.id, c.description, c.section, c.level, Verdict.OK)
        try:
            if c.fixture:
                ctx.need_fixture()
            await asyncio.wait_for(c.fn(ctx), limit)
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
            result.message = f"case did not finish within {limit:g}s"
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
        if ctx.examples_run:
            result.details["examples"] = ctx.examples_run
        if result.verdict is Verdict.FAILED and FRAMES_ON_FAILURE:
            result.frames = list(ctx.transcript)
            result.frames_total = ctx.transcript.total
        report.results.append(result)
        if progress:
            line = f"[{i:>{width}}/{len(selected)}] {c.id:<12} {result.verdict:<13} {c.description}"
            if result.verdict is Verdict.FAILED:
                line += f"\n      -> {result.message}"
                if result.example:
                    line += f"\n      -> minimal failing example: {result.example}"
            progress(line)
        if fail_fast and result.verdict is Verdict.FAILED and result.level is Level.MUST:
            break
    report.duration = time.monotonic() - t0
    return report
