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
from typing import TYPE_CHECKING, Any

from .model import CaseResult, Level, Verdict

if TYPE_CHECKING:
    from .probe import Capabilities

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
    selected: int = 0  # cases chosen to run (more than ``results`` when the run was cut short)
    fatal: str | None = None  # why the run stopped before or between cases (exit status 2)
    probe_frames: list[dict[str, Any]] = field(default_factory=list)
    capabilities: Capabilities | None = None

    def summary(self) -> dict[str, int]:
        c = Counter(str(r.verdict) for r in self.results)
        return {str(v): c.get(str(v), 0) for v in Verdict}

    def must_failures(self) -> list[CaseResult]:
        return [r for r in self.results if r.verdict is Verdict.FAILED and r.level is Level.MUST]

    def exit_code(self) -> int:
        if self.fatal is not None:
            return 2
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
            "selected": self.selected,
            "fatal": self.fatal,
            "probe": self.capabilities.as_json() if self.capabilities is not None else None,
            "probeFrames": self.probe_frames,
            "summary": self.summary(),
            "mustFailures": [r.id for r in self.must_failures()],
            "exitCode": self.exit_code(),
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
            tests=str(len(self.results) + (self.fatal is not None)),
            failures=str(len(self.must_failures())),
            errors="1" if self.fatal is not None else "0",
            skipped=str(
                len(self.results) - s["OK"] - s["INFORMATIONAL"] - len(self.must_failures())
            ),
            time=f"{self.duration:.3f}",
        )
        props = ET.SubElement(suite, "properties")
        for k, v in (("server", self.server), ("profile", self.profile)):
            ET.SubElement(props, "property", name=k, value=v)
        if self.capabilities is not None:
            reg = self.capabilities.register_label
            ET.SubElement(props, "property", name="registers-with", value=reg)
        if self.fatal is not None:
            tc = ET.SubElement(suite, "testcase", classname="wsmq.run", name="probe the server")
            err = ET.SubElement(tc, "error", message=self.fatal[:500], type="unreachable")
            err.text = "\n".join(
                f"{f['t']:>8.3f} {f['peer']} {f['dir']}: {f['frame']}" for f in self.probe_frames
            )
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
            if r.frames:
                text += "\nframes:\n" + "\n".join(
                    f"{f['t']:>8.3f} {f['peer']} {f['dir']}: {f['frame']}" for f in r.frames
                )
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
        if self.fatal is not None:
            lines.append(f"wsmq-conformance: run stopped: {self.fatal}")
        s = self.summary()
        counts = ", ".join(f"{k} {v}" for k, v in s.items() if v)
        lines.append(
            f"wsmq-conformance: {len(self.results)} cases in {self.duration:.1f}s against "
            f"{self.server} (profile {self.profile}): {counts or 'nothing run'}"
        )
        if self.capabilities is not None and self.capabilities.register_body:
            lines.append("registered with a pageSessionID ({} was not acknowledged)")
        if self.must_failures():
            ids = " ".join(r.id for r in self.must_failures())
            lines.append(f"MUST failures: {ids}")
        return "\n".join(lines)
