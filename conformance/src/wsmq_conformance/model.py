"""Cases, levels, verdicts and the registry: the vocabulary of the suite.

Modelled on autobahn-testsuite: every case has a stable dotted ID ("4.1.2"), a one-line
description, the spec section it checks, a requirement level and, after a run, a graded
verdict.  Stable IDs matter because CI configurations, bug reports and ``--cases`` globs refer
to them; never renumber a case, retire it and add a new ID instead.

A case body is an ``async def`` taking a :class:`~wsmq_conformance.context.Context`.  It
signals its outcome by raising (never by returning a flag), so a forgotten check cannot turn
into a silent pass:

- return normally -> ``OK`` (or the verdict set with ``ctx.informational``);
- :class:`CaseFailed` (or ``AssertionError``, a timeout, an unexpected close) -> ``FAILED``;
- :class:`NonStrict` -> ``NON-STRICT``: the behaviour is acceptable but not what the spec prefers;
- :class:`Unimplemented` -> ``UNIMPLEMENTED``: the server lacks an optional feature the case
  needs (for example the conformance fixture).
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import Context

__all__ = [
    "REGISTRY",
    "Case",
    "CaseFailed",
    "CaseResult",
    "Level",
    "NonStrict",
    "Unimplemented",
    "Verdict",
    "add_case",
    "case",
    "select_cases",
]


class Level(enum.StrEnum):
    """RFC 2119 requirement level of the rule a case checks."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"


class Verdict(enum.StrEnum):
    """Graded outcome of one case (autobahn's vocabulary)."""

    OK = "OK"
    NON_STRICT = "NON-STRICT"
    FAILED = "FAILED"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    INFORMATIONAL = "INFORMATIONAL"


class CaseFailed(AssertionError):
    """The server violated the rule under test.

    ``example`` carries the minimal failing input hypothesis found (its ``repr``), when the
    case is property-based, so the report can show it.
    """

    def __init__(self, message: str, *, example: str | None = None) -> None:
        super().__init__(message)
        self.example = example


class NonStrict(Exception):
    """Acceptable but not the preferred behaviour (e.g. the right error, a different close code)."""


class Unimplemented(Exception):
    """The server does not offer what this case needs (e.g. the conformance fixture)."""


CaseFn = Callable[["Context"], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    """One registered conformance case."""

    id: str
    description: str
    section: str
    level: Level
    fn: CaseFn
    fixture: bool = False
    profiles: frozenset[str] = frozenset({"core", "full"})
    timeout: float = 30.0
    final: bool = False

    @property
    def sort_key(self) -> tuple[tuple[int, str], ...]:
        """Numeric-aware ordering so that 2.10 sorts after 2.9."""
        return tuple((int(p), "") if p.isdigit() else (1 << 30, p) for p in self.id.split("."))


@dataclass
class CaseResult:
    """The outcome of running one case against one server."""

    id: str
    description: str
    section: str
    level: Level
    verdict: Verdict
    message: str = ""
    example: str | None = None
    duration: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    frames: list[dict[str, Any]] = field(default_factory=list)  # kept for FAILED cases
    frames_total: int = 0

    def as_json(self) -> dict[str, Any]:
        """Plain-JSON form used by the report files (``frames``: what a failed case sent and
        received, the last ones when there were more than ``framesTotal`` shows)."""
        extra: dict[str, Any] = {}
        if "examples" in self.details:
            extra["examplesRun"] = self.details["examples"]
        if self.frames:
            extra["frames"] = self.frames
            extra["framesTotal"] = self.frames_total
        return extra | {
            "id": self.id,
            "description": self.description,
            "section": self.section,
            "level": str(self.level),
            "verdict": str(self.verdict),
            "message": self.message,
            "example": self.example,
            "duration": round(self.duration, 4),
        }


REGISTRY: dict[str, Case] = {}


def case(
    case_id: str,
    description: str,
    *,
    section: str,
    level: Level = Level.MUST,
    fixture: bool = False,
    profiles: Iterable[str] | None = None,
    timeout: float = 30.0,
    final: bool = False,
) -> Callable[[CaseFn], CaseFn]:
    """Register a case under a stable ID; refuses duplicates so IDs stay unique.

    By default MUST cases run in both profiles and SHOULD/MAY cases only in ``full``.
    """
    if profiles is None:
        profiles = ("core", "full") if level is Level.MUST else ("full",)

    def register(fn: CaseFn) -> CaseFn:
        add_case(
            Case(
                id=case_id,
                description=description,
                section=section,
                level=level,
                fn=fn,
                fixture=fixture,
                profiles=frozenset(profiles),
                timeout=timeout,
                final=final,
            )
        )
        return fn

    return register


def add_case(c: Case) -> None:
    """Register an already-built case (used for cases generated from vector files)."""
    if c.id in REGISTRY:
        raise ValueError(f"duplicate conformance case id {c.id}")
    REGISTRY[c.id] = c


def select_cases(
    cases: Iterable[Case],
    *,
    profile: str,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
) -> list[Case]:
    """Filter by profile and by ``fnmatch`` globs over case IDs, in numeric ID order.

    An explicit ``include`` overrides the profile, so ``--cases 9.*`` runs the limit cases even
    when the profile would skip some of them.
    """
    chosen = []
    for c in cases:
        if include:
            if not any(fnmatch.fnmatchcase(c.id, g) for g in include):
                continue
        elif profile not in c.profiles:
            continue
        if exclude and any(fnmatch.fnmatchcase(c.id, g) for g in exclude):
            continue
        chosen.append(c)
    return sorted(chosen, key=lambda c: (c.final, c.sort_key))
