"""``python -m bench [--quick] [options]``: run, then write JSON results and the report.

Full run (``make bench``): 3 interleaved repetitions of 2 s per measurement, fan-out to 100 and
1,000 subscribers, idle memory at 1,000 and 10,000 connections; writes ``docs/benchmarks.md``,
``docs/benchmarks.png`` and ``bench/results/<time>.json``. ``--quick`` (``make bench-quick``,
and the smoke test): 1 repetition of 0.3 s, 100 subscribers, 200 idle connections; it writes
its report under ``bench/results/`` and leaves ``docs/`` alone unless ``--docs`` is given.
Exit status 1 when any measurement failed (a lost or duplicated delivery, a dead process).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from bench import report
from bench.conn import CLIENTS
from bench.harness import Config, run_all
from bench.nodeclient import NODE_MODULES
from bench.systems import PROFILE_DIR, SYSTEMS, available_systems, skip_reason

__all__ = ["main", "versions"]

ROOT = Path(__file__).resolve().parent.parent


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def versions() -> dict[str, str]:
    """Versions of everything measured (printed in the report)."""
    out = {"python": sys.version.split()[0]}
    for dist in (
        "websocketmq",
        "websockets",
        "picows",
        "python-socketio",
        "python-engineio",
        "aiohttp",
        "nats-py",
        "msgspec",
    ):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "absent"
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "python/src/websocketmq"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        out["websocketmq commit"] = head + (" + uncommitted broker edits" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        text = subprocess.run(
            ["nats-server", "--version"], capture_output=True, text=True, timeout=10
        ).stdout
        m = re.search(r"v[\d.]+", text)
        out["nats-server"] = m.group(0) if m else text.strip()
    except (OSError, subprocess.SubprocessError):
        out["nats-server"] = "absent"
    # The wsmq-tsclient row's runtime and WebSocket package (bench.nodeclient).
    try:
        out["node"] = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out["node"] = "absent"
    try:
        ws_pkg = json.loads((NODE_MODULES / "ws" / "package.json").read_text())
        out["ws (npm)"] = str(ws_pkg["version"])
    except (OSError, ValueError, KeyError):
        out["ws (npm)"] = "absent"
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    p.add_argument(
        "--systems", help=f"comma list out of {','.join(SYSTEMS)} (default: all available)"
    )
    p.add_argument("--reps", type=int)
    p.add_argument("--duration", type=float, help="seconds per measurement")
    p.add_argument("--fanout", type=_ints, help="subscriber counts, e.g. 100,1000")
    p.add_argument("--memory", type=_ints, help="idle connection counts, e.g. 1000,10000")
    p.add_argument(
        "--client",
        choices=CLIENTS,
        help="one load-generator client stack for all (default: picows; websockets for the "
        "deflate rows)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results",
        help="directory for the JSON results (and the quick report)",
    )
    p.add_argument(
        "--profile",
        type=Path,
        help="run our servers under cProfile (.prof) and the Node load generators under "
        "V8's profiler (.cpuprofile), files here",
    )
    p.add_argument("--from-json", type=Path, help="re-render the report of a saved run")
    p.add_argument("--no-rpc", action="store_true", help="skip the RPC shapes")
    p.add_argument("--rpc-shapes", help="only these RPC shapes, e.g. c2s_64,s2c_64")
    p.add_argument("--docs", action="store_true", help="write docs/ even with --quick")
    p.add_argument("--no-docs", action="store_true", help="never write docs/")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; 0 if every measurement succeeded."""
    args = parse_args(argv)
    systems = args.systems.split(",") if args.systems else available_systems()
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        print(f"unknown systems: {unknown}", file=sys.stderr)
        return 2
    if not args.from_json:
        # A row whose tools are missing here (only wsmq-tsclient: Node, esbuild) is skipped
        # with its reason, whether asked for by name or left out of the default list.
        for name in systems if args.systems else SYSTEMS:
            reason = skip_reason(name)
            if reason is not None:
                print(f"bench: {name} skipped: {reason}", flush=True)
        systems = [s for s in systems if skip_reason(s) is None]
        if not systems:
            print("bench: no system left to run", flush=True)
            return 0
    if args.quick:
        cfg = Config(
            systems,
            reps=1,
            duration=0.3,
            warmup=0.1,
            fanout=[100],
            memory=[200],
            fanout_min_msgs=20,
            idle_timeout=10.0,
            quick=True,
        )
    else:
        cfg = Config(systems)
    if args.reps is not None:
        cfg.reps = args.reps
    if args.duration is not None:
        cfg.duration = args.duration
    if args.fanout is not None:
        cfg.fanout = args.fanout
    if args.memory is not None:
        cfg.memory = args.memory
    cfg.client = args.client
    cfg.rpc = not args.no_rpc
    cfg.rpc_shapes = args.rpc_shapes.split(",") if args.rpc_shapes else None
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        PROFILE_DIR.append(str(args.profile.resolve()))
    command = "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
    if args.from_json:
        # Re-render the report of an earlier run (e.g. after editing bench/analysis.md).
        saved = json.loads(args.from_json.read_text())
        command, samples = saved["command"], saved["samples"]
        ver, machine = saved["versions"], saved["machine"]
        systems = list(dict.fromkeys(x["system"] for x in saved["samples"]))
        cfg.reps = saved["config"]["reps"]
        experiment = saved.get("experiment")
    else:
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        print(f"bench: {command.strip()} — systems {', '.join(systems)}", flush=True)
        ver = versions()  # before the run: the tree measured, not the one at the end
        samples = asyncio.run(run_all(cfg))
        machine = report.machine_info() | {"started": started}
        experiment = os.environ.get("BENCH_WSMQ_EXPERIMENT") if "wsmq-exp" in systems else None
        args.out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        (args.out / f"{stamp}.json").write_text(
            json.dumps(
                {
                    "command": command,
                    "config": cfg.__dict__,
                    "versions": ver,
                    "machine": machine,
                    "experiment": experiment,
                    "samples": samples,
                },
                indent=1,
            )
        )
    ours = {s: SYSTEMS[s].ws_peer for s in systems if SYSTEMS[s].ours}
    summary = report.summarize(samples, systems, ours)
    labels = {name: s.label for name, s in SYSTEMS.items()}
    if experiment:
        labels["wsmq-exp"] = f"WebSocketMQ + experiment {Path(experiment).stem}"
    write_docs = not args.no_docs and (args.docs or not args.quick)
    docs = ROOT / "docs"
    md_path = docs / "benchmarks.md" if write_docs else args.out / "benchmarks.md"
    png_path = md_path.with_suffix(".png")
    md_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        report.write_chart(summary, labels, png_path)
        chart: str | None = png_path.name
    except Exception as e:
        print(f"bench: chart not written: {e}", file=sys.stderr)
        chart = None
    notes_path = ROOT / "bench" / "analysis.md"
    notes = notes_path.read_text() if notes_path.exists() else ""
    md_path.write_text(
        report.render_markdown(
            summary,
            labels=labels,
            command=command.strip(),
            versions=ver,
            machine=machine,
            reps=cfg.reps,
            notes=notes,
            chart=chart,
        )
    )
    print(f"bench: wrote {md_path} and {png_path}", flush=True)
    for o, text, v, verdict, eff in summary.verdicts:
        by_cpu = "" if eff is None else f" (by CPU/op {eff:.2f})"
        print(f"bench: {o}: {text}: {v if v is None else round(v, 2)} {verdict}{by_cpu}")
    if summary.failed:
        print("bench: FAILED measurements (see above)", file=sys.stderr)
        return 1
    return 0
