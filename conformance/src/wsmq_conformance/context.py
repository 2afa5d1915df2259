"""What a case gets to work with: connections, the hypothesis bridge, run-wide settings.

Hypothesis drives synchronous functions, while our probes are coroutines on one event loop.
``Context.given`` runs the hypothesis engine in a worker thread and submits every example back
to the suite's loop, so connections opened before the property stay usable across examples and
hypothesis still shrinks failures.  Hypothesis replays the minimal failing example last, so the
last failure we record is the one the report shows.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, example, given, settings
from hypothesis import strategies as st

from .model import CaseFailed, Unimplemented
from .peer import FrameLog, Peer, Transcript
from .probe import Capabilities

__all__ = ["Context", "RunConfig"]

T = TypeVar("T")


@dataclass
class RunConfig:
    """Run-wide settings chosen by the CLI / API caller."""

    url: str
    profile: str = "core"
    examples: int = 25
    derandomize: bool = True
    example_timeout: float = 10.0
    vectors_dir: str | None = None
    rate: float = 150.0
    burst: int = 300
    max_time: float | None = None  # the whole run's time budget (s); None = unbounded


@dataclass
class Context:
    """Per-case helper; created fresh for each case, sharing the run's config and frame log."""

    config: RunConfig
    log: FrameLog
    caps: Capabilities = field(default_factory=Capabilities)
    peers: list[Peer] = field(default_factory=list)
    informational_message: str | None = None
    nonstrict: list[str] = field(default_factory=list)
    abort: threading.Event = field(default_factory=threading.Event)
    transcript: Transcript = field(default_factory=Transcript)
    # property cases stop drawing new examples past this monotonic instant, so that --thorough
    # ends each case inside its timeout (the examples run are reported)
    soft_deadline: float = float("inf")
    examples_run: int = 0

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def fixture(self) -> bool:
        return self.caps.fixture

    def unique(self, prefix: str = "cf") -> str:
        """A topic prefix no other case or example uses, so runs never see each other's traffic."""
        return f"{prefix}.{uuid.uuid4().hex[:12]}"

    def body_problems(self, definition: str, body: Any) -> list[str]:
        """Problems of a control body against control.schema.json (none if no schemas)."""
        return (
            [] if self.log.schema is None else list(self.log.schema.body_problems(definition, body))
        )

    def need_fixture(self) -> None:
        if not self.fixture:
            raise Unimplemented("server does not expose the conformance fixture (conformance.echo)")

    async def connect(self, name: str, *, max_size: int | None = None) -> Peer:
        """Open a connection without registering; closed automatically after the case."""
        p = await Peer.open(
            self.url,
            name=name,
            log=self.log,
            max_size=max_size,
            rate=self.config.rate,
            burst=self.config.burst,
            caps=self.caps,
            transcript=self.transcript,
        )
        self.peers.append(p)
        return p

    async def peer(self, name: str = "A", body: dict[str, Any] | None = None) -> Peer:
        """Open a connection and register it (the common case)."""
        p = await self.connect(name)
        await p.register(body)
        return p

    def informational(self, message: str) -> None:
        """Mark the case INFORMATIONAL: it reports an observation, not a requirement."""
        self.informational_message = message

    def non_strict(self, message: str) -> None:
        """Record an acceptable deviation; the case ends NON-STRICT unless it fails outright."""
        self.nonstrict.append(message)

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.peers))
        self.peers.clear()

    async def given(
        self,
        strategy: st.SearchStrategy[T],
        check: Callable[[T], Awaitable[None]],
        *,
        examples: int | None = None,
        explicit: Sequence[T] = (),
    ) -> None:
        """Run ``check`` on examples from ``strategy`` (after the ``explicit`` ones, e.g. the
        spec's own examples); on failure raise CaseFailed with the minimal example found."""
        loop = asyncio.get_running_loop()
        failures: list[tuple[T, BaseException]] = []
        n = examples if examples is not None else self.config.examples
        timeout = self.config.example_timeout

        @settings(
            max_examples=max(1, n),
            derandomize=self.config.derandomize,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            report_multiple_bugs=False,
            print_blob=False,
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        )
        @given(strategy)
        def prop(x: T) -> None:
            if self.abort.is_set():  # the case timed out: make hypothesis finish quickly
                raise CaseFailed("case aborted")
            if time.monotonic() > self.soft_deadline and not failures:
                return  # time budget spent: the remaining examples pass without a run
            self.examples_run += 1
            fut = asyncio.run_coroutine_threadsafe(_as_coro(check(x)), loop)
            try:
                fut.result(timeout)
            except concurrent.futures.TimeoutError:
                fut.cancel()
                err = CaseFailed(f"example did not finish within {timeout}s")
                failures.append((x, err))
                raise err from None
            except BaseException as exc:
                failures.append((x, exc))
                raise

        for x in reversed(explicit):
            prop = example(x)(prop)
        try:
            await asyncio.to_thread(prop)
        except BaseException as exc:
            if not failures:
                raise
            x, err = failures[-1]
            if isinstance(err, Unimplemented):
                raise err from None
            raise CaseFailed(f"{err}", example=repr(x)) from exc


async def _as_coro(aw: Awaitable[None]) -> None:
    await aw
