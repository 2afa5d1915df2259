"""The HTML report (``--html PATH``): one self-contained page a person can read.

Modelled on Autobahn's report: a summary table per category and per spec section with a
colour per verdict, every case in ID order, and for each failed case its message, the minimal
failing example and the frames it sent and received.  No script, no external resource: the
page renders the same from a CI artifact, a mail attachment or a file:// URL.
"""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from typing import Any

from .model import CaseResult, Verdict
from .report import SuiteReport

__all__ = ["CATEGORIES", "render_html", "write_html"]

CATEGORIES = {
    "1": "registration and resume",
    "2": "envelope",
    "3": "publish/subscribe",
    "4": "client→server RPC",
    "5": "server→client RPC",
    "6": "bad input, reserved topics, vectors",
    "7": "ordering",
    "8": "keepalive",
    "9": "limits",
}

COLOURS = {
    Verdict.OK: "#2e7d32",
    Verdict.NON_STRICT: "#f9a825",
    Verdict.FAILED: "#c62828",
    Verdict.UNIMPLEMENTED: "#757575",
    Verdict.INFORMATIONAL: "#1565c0",
}

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#eee}td.n{text-align:right}
.v{color:#fff;font-weight:bold;padding:.1em .4em;border-radius:3px;white-space:nowrap}
.fail{border-left:4px solid #c62828;padding:.2em .8em;margin:1em 0;background:#fff8f8}
pre{white-space:pre-wrap;word-break:break-all;font-size:.85em;margin:.2em 0}
.sent{color:#0d47a1}.received{color:#1b5e20}.closed{color:#6d4c41}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _badge(v: Verdict | str) -> str:
    verdict = Verdict(v)
    return f'<span class="v" style="background:{COLOURS[verdict]}">{_e(verdict)}</span>'


def _sections(r: CaseResult) -> list[str]:
    """The top-level spec sections a case cites ('§6.2 item 3; §12.2' -> ['§6', '§12'])."""
    found = sorted({m.split(".")[0] for m in re.findall(r"§(\d+(?:\.\d+)*)", r.section)}, key=int)
    return [f"§{s}" for s in found] or ["(none)"]


def _sec_key(s: str) -> int:
    return int(s[1:]) if s[1:].isdigit() else 999


def _summary_table(title: str, groups: dict[str, list[CaseResult]]) -> str:
    rows = []
    for name, results in groups.items():
        c = Counter(r.verdict for r in results)
        cells = "".join(
            f'<td class="n">{_badge(v) if c[v] else ""} {c[v] or ""}</td>' for v in Verdict
        )
        rows.append(f"<tr><td>{_e(name)}</td><td class='n'>{len(results)}</td>{cells}</tr>")
    head = "".join(f"<th>{_e(v)}</th>" for v in Verdict)
    return (
        f"<h2>{_e(title)}</h2><table><tr><th></th><th>cases</th>{head}</tr>"
        + "".join(rows)
        + "</table>"
    )


def _frames(frames: list[dict[str, Any]], total: int) -> str:
    if not frames:
        return ""
    lines = "".join(
        f'<pre class="{_e(f["dir"])}">{f["t"]:>8.3f}s {_e(f["peer"])} '
        f"{'→' if f['dir'] == 'sent' else '←' if f['dir'] == 'received' else 'x'} "
        f"{_e(f['frame'])}</pre>"
        for f in frames
    )
    note = f" (last {len(frames)} of {total})" if total > len(frames) else ""
    return f"<details open><summary>frames{note}</summary>{lines}</details>"


def render_html(report: SuiteReport) -> str:
    """The whole report as one HTML document."""
    results = report.results
    by_cat: dict[str, list[CaseResult]] = defaultdict(list)
    by_sec: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        cat = r.id.split(".")[0]
        by_cat[f"{cat} {CATEGORIES.get(cat, '')}".strip()].append(r)
        for sec in _sections(r):
            by_sec[sec].append(r)
    sec_sorted = dict(sorted(by_sec.items(), key=lambda kv: _sec_key(kv[0])))
    s = report.summary()
    caps = report.capabilities
    facts = [
        ("server", report.server),
        ("profile", f"{report.profile}, {report.examples} examples per property"),
        ("duration", f"{report.duration:.1f} s"),
        ("summary", ", ".join(f"{k} {v}" for k, v in s.items() if v) or "nothing run"),
        ("exit status", str(report.exit_code())),
    ]
    if caps is not None:
        facts.append(("registers with", caps.register_label))
        facts.append(("fixture", "present" if caps.fixture else "absent"))
        facts += [("probe", n) for n in caps.notes]
    if report.fatal:
        facts.append(("run stopped", report.fatal))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>wsmq-conformance: {_e(report.server)}</title><style>{STYLE}</style></head><body>",
        "<h1>wsmq-conformance report</h1><table>",
        "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts),
        "</table>",
    ]
    if report.fatal and report.probe_frames:
        parts.append("<h2>probe</h2>" + _frames(report.probe_frames, len(report.probe_frames)))
    parts.append(_summary_table("by category", dict(by_cat)))
    parts.append(_summary_table("by spec section", sec_sorted))
    parts.append("<h2>cases</h2><table><tr><th>case</th><th>level</th><th>verdict</th>")
    parts.append("<th>description</th><th>spec</th><th>time</th></tr>")
    for r in results:
        bad = r.verdict is Verdict.FAILED
        link = f"<a href='#case-{_e(r.id)}'>{_e(r.id)}</a>" if bad else _e(r.id)
        note = f"<br><small>{_e(r.message)}</small>" if r.message and not bad else ""
        parts.append(
            f"<tr><td>{link}</td><td>{_e(r.level)}</td><td>{_badge(r.verdict)}</td>"
            f"<td>{_e(r.description)}{note}"
            + f"</td><td>{_e(r.section)}</td><td class='n'>{r.duration:.2f}s</td></tr>"
        )
    parts.append("</table>")
    failed = [r for r in results if r.verdict is Verdict.FAILED]
    if failed:
        parts.append(f"<h2>failed cases ({len(failed)})</h2>")
    for r in failed:
        parts.append(
            f"<div class='fail' id='case-{_e(r.id)}'><h3>{_e(r.id)} [{_e(r.level)}] "
            f"{_e(r.description)}</h3><p>spec: {_e(r.section)}</p><pre>{_e(r.message)}</pre>"
        )
        if r.example:
            parts.append(f"<p>minimal failing example:</p><pre>{_e(r.example)}</pre>")
        parts.append(_frames(r.frames, r.frames_total) + "</div>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_html(report: SuiteReport, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_html(report))
