"""Smoke test of the benchmark harness: ``python -m bench --quick`` runs end to end.

Benchmarks are not tests: nothing here looks at a speed. What is asserted is that the harness
starts every kind of server (raw peer, socket.io, NATS and ours when the broker is there),
drives every shape, exits 0 and accounts for every fan-out delivery exactly once — the
property that makes its numbers worth anything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent


def _systems() -> list[str]:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.systems import available_systems
    finally:
        sys.path.remove(str(ROOT))
    avail = available_systems()
    # One system per client dialect keeps the run short: raw peer, socket.io, NATS, ours.
    wanted = ["wsmq", "ws", "socketio", "nats"]
    return [s for s in wanted if s in avail]


@pytest.mark.timeout(240)
def test_quick_bench_runs_and_counts_every_delivery(tmp_path: Path) -> None:
    systems = _systems()
    assert "ws" in systems and "socketio" in systems
    if shutil.which("nats-server") is None:
        assert "nats" not in systems
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--no-docs",
            "--systems",
            ",".join(systems),
            "--duration",
            "0.2",
            "--fanout",
            "12",
            "--memory",
            "16",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    (result_file,) = tmp_path.glob("*.json")
    samples = json.loads(result_file.read_text())["samples"]
    assert all(s["error"] is None for s in samples), samples
    for name in systems:
        mine = {s["shape"]: s for s in samples if s["system"] == name}
        assert set(mine) == {"c2s_seq", "c2s_64", "s2c_seq", "s2c_64", "fanout_12", "idle_16"}
        fan = mine["fanout_12"]["detail"]
        assert fan["subs"] == 12
        assert fan["received"] == fan["expected"] == 12 * fan["msgs"]
        assert fan["missing"] == 0 and fan["dups"] == 0
        assert mine["idle_16"]["detail"]["conns"] == 16
        for shape in ("c2s_seq", "c2s_64", "s2c_seq", "s2c_64"):
            assert mine[shape]["detail"]["count"] > 0
    report = (tmp_path / "benchmarks.md").read_text()
    assert "Results (medians)" in report
    assert (tmp_path / "benchmarks.png").stat().st_size > 0


def _bench(
    args: list[str], out: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", "--no-docs", "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
        env=env,
    )


def _node_missing() -> str | None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.nodeclient import missing
    finally:
        sys.path.remove(str(ROOT))
    return missing()


@pytest.mark.timeout(240)
def test_client_rows_report_client_cpu_per_call(tmp_path: Path) -> None:
    """Issue 18's client rows: the broker driven by our Python client, by a raw websockets
    client and by our TypeScript client under Node (built at run time by bench.nodeclient),
    each reporting round trips, latency and its own CPU per call; the report shows them side
    by side. The TypeScript row is skipped, saying why, only where Node or esbuild is missing."""
    reason = _node_missing()
    proc = _bench(
        [
            "--quick",
            "--systems",
            "wsmq-pyclient,wsmq-wsclient,wsmq-tsclient",
            "--duration",
            "0.2",
            "--rpc-shapes",
            "c2s_64,s2c_64",
            "--fanout",
            "12",
            "--memory",
            "",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    (result_file,) = tmp_path.glob("*.json")
    samples = json.loads(result_file.read_text())["samples"]
    assert all(s["error"] is None for s in samples), samples
    systems = ["wsmq-pyclient", "wsmq-wsclient"]
    if reason is None:
        systems.append("wsmq-tsclient")
    else:
        assert f"bench: wsmq-tsclient skipped: {reason}" in proc.stdout
    assert {s["system"] for s in samples} == set(systems)
    for name in systems:
        mine = {s["shape"]: s for s in samples if s["system"] == name}
        assert set(mine) == {"c2s_64", "s2c_64", "fanout_12"}, (name, set(mine))
        for shape in ("c2s_64", "s2c_64"):
            d = mine[shape]["detail"]
            assert d["count"] > 0 and d["errors"] == 0, (name, shape, d)
            assert d["p50_ms"] > 0 and d["p99_ms"] >= d["p50_ms"], (name, shape, d)
            assert d["client_ops"] > 0 and d["client_cpu_us_per_op"] > 0, (name, shape, d)
        fan = mine["fanout_12"]["detail"]
        assert fan["received"] == fan["expected"] == 12 * fan["msgs"], (name, fan)
        assert fan["missing"] == 0 and fan["dups"] == 0 and fan["foreign"] == 0, (name, fan)
    report = (tmp_path / "benchmarks.md").read_text()
    section = report.split("### Client CPU per operation", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| WebSocketMQ")]
    assert len(rows) == len(systems), section
    if reason is None:
        assert "driven by our TypeScript client under Node" in rows[-1]


@pytest.mark.timeout(120)
def test_typescript_row_is_skipped_with_its_reason_without_node(tmp_path: Path) -> None:
    """Without Node on PATH the TypeScript client row is skipped with a message naming what is
    missing, not failed, and nothing is measured."""
    env = {k: v for k, v in os.environ.items() if k != "PATH"} | {"PATH": str(tmp_path / "none")}
    proc = _bench(["--quick", "--systems", "wsmq-tsclient"], tmp_path, env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "bench: wsmq-tsclient skipped: node is not on PATH" in proc.stdout
    assert "bench: no system left to run" in proc.stdout
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.timeout(120)
def test_hotpath_measures_both_shapes_with_metrics_off_and_on() -> None:
    """``python -m bench.hotpath`` (docs/benchmarks.md, "Metrics cost") drives both brokers
    through both request shapes; its figures are CPU times, so only their sanity is checked."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.hotpath", "--requests", "640", "--reps", "2", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=True,
    )
    result = json.loads(out.stdout)
    # the metrics-on broker counted every request of both shapes (640 per repetition)
    assert result["counted"] == {"c2s": 1280, "s2c": 1280}
    for shape in ("c2s", "s2c"):
        r = result[shape]
        assert r["off_us"] > 0 and r["on_us"] > 0
        assert r["ratio"] == pytest.approx(r["off_us"] / r["on_us"], rel=0.01)
