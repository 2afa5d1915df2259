"""Smoke test of the benchmark harness: ``python -m bench --quick`` runs end to end.

Benchmarks are not tests: nothing here looks at a speed. What is asserted is that the harness
starts every kind of server (raw peer, socket.io, NATS and ours when the broker is there),
drives every shape, exits 0 and accounts for every fan-out delivery exactly once — the
property that makes its numbers worth anything.
"""

from __future__ import annotations

import json
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
