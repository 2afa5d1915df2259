"""The outcome of one run: per-case results, a summary, JSON and JUnit XML renderings.

Exit status policy lives here too (:meth:`SuiteReport.exit_code`): non-zero iff a MUST case
FAILED.  SHOULD/MAY failures are reported (and appear in JUnit as skipped with the reason) but
do not fail CI, since a server may legitimately choose not to implement them.
"""

from __future__ import annotations

import json
import platform
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .model import CaseResult, Level, Verdict

__all__ = ["SuiteReport"]


@dataclass
class SuiteReport:
    """Everything a run produced."""

    server: str
    profile: str
    examples: int
    fixture: bool | None
    started: float
    duration: float = 0.0
    results: list[CaseResult] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        c = Counter(str(r.verdict) for r in self.results)
        return {str(v): c.get(str(v), 0) for v in Verdict}

    def must_failures(self) -> list[CaseResult]:
        return [r for r in self.results if r.verdict is Verdict.FAILED and r.level is Level.MUST]

    def exit_code(self) -> int:
        return 1 if self.must_failures() else 0

    def by_id(self) -> dict[str, CaseResult]:
        return {r.id: r for r in self.results}

    def as_json(self) -> dict[str, Any]:
        return {
            "suite": "wsmq-conformance",
            "protocol": "wsmq/1",
            "server": self.server,
            "profile": self.profile,
            "examples": self.examples,
            "fixture": self.fixture,
            "started": self.started,
            "duration": round(self.duration, 3),
            "python": platform.python_version(),
            "summary": self.summary(),
            "mustFailures": [r.id for r in self.must_failures()],
            "cases": [r.as_json() for r in self.results],
        }

    def write_json(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.as_json(), f, indent=2, ensure_ascii=False)
            f.write("\n")

    def junit(self) -> ET.Element:
        """JUnit XML: one testcase per case, classname = category, name = ID + description."""
        s = self.summary()
        suite = ET.Element(
            "testsuite",
            name="wsmq-conformance",
            tests=str(len(self.results)),
            failures=str(len(self.must_failures())),
            errors="0",
            skipped=str(
                len(self.results) - s["OK"] - s["INFORMATIONAL"] - len(self.must_failures())
            ),
            time=f"{self.duration:.3f}",
        )
        props = ET.SubElement(suite, "properties")
        for k, v in (("server", self.server), ("profile", self.profile)):
            ET.SubElement(props, "property", name=k, value=v)
        for r in self.results:
            tc = ET.SubElement(
                suite,
                "testcase",
                classname=f"wsmq.{r.id.split('.')[0]}",
                name=f"{r.id} {r.description}",
                time=f"{r.duration:.3f}",
            )
            text = f"[{r.level}] {r.section}\n{r.message}"
            if r.example:
                text += f"\nminimal failing example: {r.example}"
            if r.verdict is Verdict.FAILED and r.level is Level.MUST:
                ET.SubElement(tc, "failure", message=r.message[:500], type="MUST").text = text
            elif r.verdict is Verdict.FAILED:
                ET.SubElement(tc, "skipped", message=f"{r.level} not met: {r.message[:400]}")
            elif r.verdict in (Verdict.UNIMPLEMENTED, Verdict.NON_STRICT):
                ET.SubElement(tc, "skipped", message=f"{r.verdict}: {r.message[:400]}")
            if r.verdict is not Verdict.FAILED or r.level is not Level.MUST:
                ET.SubElement(tc, "system-out").text = text
        return suite

    def write_junit(self, path: str) -> None:
        tree = ET.ElementTree(self.junit())
        ET.indent(tree)
        tree.write(path, encoding="utf-8", xml_declaration=True)

    def text_summary(self) -> str:
        """Human summary printed at the end of a CLI run."""
        lines = []
        for r in self.results:
            if r.verdict in (Verdict.FAILED, Verdict.NON_STRICT):
                lines.append(f"{r.verdict:<13} {r.id:<10} [{r.level}] {r.description}")
                lines.append(f"    spec: {r.section}")
                lines.append(f"    {r.message}")
                if r.example:
                    lines.append(f"    minimal failing example: {r.example}")
        s = self.summary()
        counts = ", ".join(f"{k} {v}" for k, v in s.items() if v)
        lines.append(
            f"wsmq-conformance: {len(self.results)} cases in {self.duration:.1f}s against "
            f"{self.server} (profile {self.profile}): {counts}"
        )
        if self.must_failures():
            ids = " ".join(r.id for r in self.must_failures())
            lines.append(f"MUST failures: {ids}")
        return "\n".join(lines)
