"""``make mutation``: how strong is the conformance suite? Run it against mutants of the broker.

For each mutant of ``mutants.py`` (one rule of spec/protocol.md broken, or a control that
changes nothing observable): copy ``python/src/websocketmq`` to a temporary directory, apply the
mutant's (file, search, replacement), start that copy as a subprocess broker
(``python -m websocketmq serve --port 0 --conformance`` with the copy first on ``PYTHONPATH``),
run ``wsmq-conformance`` against it (core profile, 10 examples per property, bounded time) and
stop it. A mutant is *caught* when the suite exits 1 (a MUST case FAILED); a control must exit
0 (anything else is a false alarm). One mutant runs at a time by default (``--jobs``), under
the suite's ``--fail-fast``, ``--max-time`` and a per-mutant wall-clock limit, because the
machine is shared; each result is appended to ``mutation-runs/records.jsonl`` as it comes, and
``--resume`` skips the mutants already there (an interrupted run goes on where it stopped).

The report (``test-artifacts/mutation.json`` and ``.md``): score = caught / scored mutants
(out-of-reach ones are listed with their reason, not scored), each survivor with its spec
section, the cases that caught each mutant, and false alarms among the controls.

Usage: ``python conformance/mutation/run.py [--only ID,…] [--jobs N] [--resume [--report-only]]
[--out DIR]``
(``make mutation``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutants import MUTANTS, Mutant

__all__ = ["main", "run_mutant"]

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "python" / "src" / "websocketmq"
SUITE_ARGS = ["--profile", "core", "--examples", "10", "--max-time", "150", "--fail-fast", "-q"]
SUITE_TIMEOUT = 200.0  # per mutant: the suite's own --max-time plus its 2 s-per-case tail


def apply(m: Mutant, dest: Path) -> None:
    """Copy the broker package into ``dest`` and apply ``m``; each search must match once."""
    pkg = dest / "websocketmq"
    shutil.copytree(SRC, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for file, search, replace in ((m.file, m.search, m.replace), *m.also):
        target = pkg / file
        text = target.read_text(encoding="utf-8")
        n = text.count(search)
        if n != 1:
            raise ValueError(f"{m.id}: search text found {n} times in {file} (re-target it)")
        target.write_text(text.replace(search, replace), encoding="utf-8")


async def _ready(proc: asyncio.subprocess.Process, timeout: float) -> str | None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), deadline - time.monotonic())
        except TimeoutError:
            return None
        if not line:
            return None
        text = line.decode(errors="replace").strip()
        if text.startswith("wsmq: listening on "):
            return text.split()[-1]
    return None


async def run_mutant(m: Mutant, out: Path) -> dict[str, Any]:
    """Run the suite against one mutant; returns its result record."""
    t0 = time.monotonic()
    record: dict[str, Any] = asdict(m) | {"outcome": "", "failed": [], "exit": None}
    with tempfile.TemporaryDirectory(prefix=f"wsmq-{m.id}-") as tmp:
        try:
            apply(m, Path(tmp))
        except ValueError as exc:
            record.update(outcome="stale", note=str(exc))
            return record
        env = dict(os.environ, PYTHONPATH=tmp, PYTHONDONTWRITEBYTECODE="1")
        broker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "websocketmq", "serve", "--port", "0", "--conformance",
            env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = await _ready(broker, 30)
            if url is None:
                record.update(outcome="crashed", note="broker printed no readiness line")
                return record
            drain = asyncio.create_task(_discard(broker.stdout))
            report = out / f"{m.id}.json"
            suite = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "wsmq_conformance", url, *SUITE_ARGS, "--json", str(report),
                cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                code = await asyncio.wait_for(suite.wait(), SUITE_TIMEOUT)
            except TimeoutError:
                suite.kill()
                code = await suite.wait()
                record["note"] = f"suite killed after {SUITE_TIMEOUT:g} s"
            drain.cancel()
            record["exit"] = code
            if report.is_file():
                data = json.loads(report.read_text())
                record["failed"] = data.get("mustFailures", [])
                record["duration"] = data.get("duration")
            if code == 1:
                record["outcome"] = "caught"
            elif code == 0:
                record["outcome"] = "survived"
            else:
                record["outcome"] = "error"
        finally:
            if broker.returncode is None:
                broker.terminate()
                try:
                    await asyncio.wait_for(broker.wait(), 5)
                except TimeoutError:
                    broker.kill()
                    await broker.wait()
    record["seconds"] = round(time.monotonic() - t0, 1)
    return record


async def _discard(stream: asyncio.StreamReader | None) -> None:
    while stream is not None and await stream.read(65536):
        pass


def summarize(records: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    mutants = [r for r in records if not r["control"]]
    scored = [r for r in mutants if r["reach"] is None and r["outcome"] != "stale"]
    caught = [r for r in scored if r["outcome"] in ("caught", "crashed")]
    survivors = [r for r in scored if r["outcome"] not in ("caught", "crashed")]
    controls = [r for r in records if r["control"]]
    alarms = [r for r in controls if r["outcome"] != "survived"]
    return {
        "mutants": len(mutants),
        "scored": len(scored),
        "caught": len(caught),
        "score": round(100 * len(caught) / len(scored), 1) if scored else 0.0,
        "survivors": [{k: r[k] for k in ("id", "section", "what", "outcome")} for r in survivors],
        "outOfReach": [
            {k: r[k] for k in ("id", "section", "what", "reach")} for r in mutants if r["reach"]
        ],
        "stale": [r["id"] for r in mutants if r["outcome"] == "stale"],
        "controls": len(controls),
        "falseAlarms": [{k: r[k] for k in ("id", "what", "outcome", "failed")} for r in alarms],
        "seconds": round(seconds, 1),
        "results": records,
    }


def markdown(s: dict[str, Any]) -> str:
    lines = [
        "# Mutation testing of the conformance suite",
        "",
        f"Score: **{s['score']}%** ({s['caught']} of {s['scored']} scored mutants caught; "
        f"{s['mutants']} mutants, {len(s['outOfReach'])} out of reach); controls: {s['controls']}, "
        f"false alarms: {len(s['falseAlarms'])}; {s['seconds']:.0f} s.",
        "",
        "| mutant | section | change | outcome | caught by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in s["results"]:
        by = " ".join(r["failed"][:4]) + (" …" if len(r["failed"]) > 4 else "")
        kind = "control" if r["control"] else r["outcome"]
        if r["control"]:
            kind = "control OK" if r["outcome"] == "survived" else f"FALSE ALARM ({r['outcome']})"
        lines.append(f"| {r['id']} | {r['section']} | {r['what']} | {kind} | {by} |")
    if s["survivors"]:
        lines += ["", "Survivors:", ""]
        lines += [f"- {r['id']} ({r['section']}): {r['what']}" for r in s["survivors"]]
    if s["outOfReach"]:
        lines += ["", "Out of reach by design:", ""]
        lines += [
            f"- {r['id']} ({r['section']}): {r['what']}: {r['reach']}" for r in s["outOfReach"]
        ]
    return "\n".join(lines) + "\n"


async def amain(args: argparse.Namespace) -> int:
    chosen = MUTANTS
    if args.only:
        wanted = {x.strip() for x in args.only.split(",")}
        chosen = [m for m in MUTANTS if m.id in wanted]
    out = Path(args.out)
    runs = out / "mutation-runs"
    runs.mkdir(parents=True, exist_ok=True)
    journal = runs / "records.jsonl"
    kept: dict[str, dict[str, Any]] = {}
    if args.resume and journal.is_file():
        for line in journal.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            kept[r["id"]] = r
    elif journal.exists():
        journal.unlink()
    known = {m.id: m for m in MUTANTS}
    kept = {  # a result stays valid while the mutant's edit is the same; its notes may change
        k: v | {f: getattr(known[k], f) for f in ("what", "section", "reach", "control")}
        for k, v in kept.items()
        if k in known and v["search"] == known[k].search
    }
    if args.report_only:
        chosen = [m for m in chosen if m.id in kept]
    gate = asyncio.Semaphore(args.jobs)
    t0 = time.monotonic()
    done = 0

    async def one(m: Mutant) -> dict[str, Any]:
        nonlocal done
        if m.id in kept:
            r = kept[m.id]
        else:
            async with gate:
                r = await run_mutant(m, runs)
            with journal.open("a", encoding="utf-8") as f:
                f.write(json.dumps(r) + "\n")
        done += 1
        print(f"[{done}/{len(chosen)}] {m.id:<22} {r['outcome']:<9} {r.get('seconds', 0):>6}s "
              f"{' '.join(r['failed'][:5])}", flush=True)  # fmt: skip
        return r

    records = await asyncio.gather(*(one(m) for m in chosen))
    s = summarize(list(records), time.monotonic() - t0)
    (out / "mutation.json").write_text(json.dumps(s, indent=2) + "\n", encoding="utf-8")
    (out / "mutation.md").write_text(markdown(s), encoding="utf-8")
    print(markdown(s).split("\n| mutant")[0])
    for r in s["survivors"]:
        print(f"SURVIVED {r['id']} ({r['section']}): {r['what']}")
    for r in s["falseAlarms"]:
        print(f"FALSE ALARM {r['id']}: {r['what']} ({r['outcome']}: {r['failed']})")
    return 0 if not s["falseAlarms"] and not s["stale"] else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="comma-separated mutant IDs")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--resume", action="store_true", help="keep the results in records.jsonl")
    p.add_argument(
        "--report-only", action="store_true", help="with --resume: only rebuild the report"
    )
    p.add_argument("--out", default=str(ROOT / "test-artifacts"))
    return asyncio.run(amain(p.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
