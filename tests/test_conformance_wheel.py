"""The conformance suite is complete when installed from the wheel, not only in a checkout.

Builds the project's wheel, installs it into a fresh venv outside the checkout and runs
``wsmq-conformance --spawn-reference`` there from an empty directory: the spec's schemas and
vectors must come from inside the package (every vector case runs, the case count equals the
checkout's), and without the ``conformance`` extra the command must name it in one line. pip
uses its ordinary index and cache (PyPI is the only network the project uses).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(600)


def sh(*cmd: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def checkout_case_count(profile: str) -> int:
    res = sh(sys.executable, "-m", "wsmq_conformance", "--list", "--profile", profile, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    return len([line for line in res.stdout.splitlines() if line.strip()])


def test_wheel_installed_suite_runs_every_case(tmp_path: Path) -> None:
    dist, empty = tmp_path / "dist", tmp_path / "empty"
    empty.mkdir()
    res = sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    (wheel,) = dist.glob("websocketmq-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py, tool = env_dir / "bin" / "python", env_dir / "bin" / "wsmq-conformance"

    # without the extra: one line naming it, not a traceback
    res = sh(py, "-m", "pip", "install", "-q", wheel, cwd=empty)
    assert res.returncode == 0, res.stdout + res.stderr
    res = sh(tool, "--spawn-reference", cwd=empty, timeout=60)
    assert res.returncode == 2
    assert "websocketmq[conformance]" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr

    res = sh(py, "-m", "pip", "install", "-q", f"{wheel}[conformance]", cwd=empty)
    assert res.returncode == 0, res.stdout + res.stderr
    res = sh(
        py, "-c", "import wsmq_conformance.vectors as v; print(v.find_vectors_dir())", cwd=empty
    )
    assert str(env_dir) in res.stdout, res.stdout + res.stderr  # the copy inside the package
    res = sh(tool, "--spawn-reference", "-q", "--json", "r.json", cwd=empty, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads((empty / "r.json").read_text())
    assert len(report["cases"]) == checkout_case_count("core") > 200
    assert report["summary"]["FAILED"] == 0 and report["summary"]["UNIMPLEMENTED"] == 0
    assert any(c["id"].startswith("6.3.env-valid-") for c in report["cases"])
    assert report["probe"]["fixture"] is True
