"""The conformance suite against the reference broker, and its CLI and report formats.

The reference broker is spawned exactly as ``make conformance`` does
(``python -m websocketmq serve --port 0 --conformance``, readiness line on stdout) and driven
over real sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from wsmq_conformance import RunConfig, Verdict, run_suite, spawned_server
from wsmq_conformance.spawn import REFERENCE_CMD, SpawnError, spawned_process

__all__: list[str] = []

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parent.parent
MINI = Path(__file__).parent / "broken_servers" / "wsmq_mini.py"


async def test_reference_broker_passes_everything(tmp_path: Path) -> None:
    """Every case of the full profile, SHOULD and MAY included: no FAILED, no NON-STRICT."""
    async with spawned_server(REFERENCE_CMD, ready_timeout=30) as url:
        report = await run_suite(RunConfig(url=url, profile="full", examples=25))
    assert report.fixture is True
    bad = [r for r in report.results if r.verdict not in (Verdict.OK, Verdict.INFORMATIONAL)]
    assert not bad, report.text_summary()
    assert report.exit_code() == 0
    # the reports round-trip
    report.write_json(str(tmp_path / "r.json"))
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["summary"]["OK"] == sum(1 for r in report.results if r.verdict is Verdict.OK)
    assert {c["id"] for c in data["cases"]} == {r.id for r in report.results}
    report.write_junit(str(tmp_path / "r.xml"))
    suite = ET.parse(tmp_path / "r.xml").getroot()
    assert suite.tag == "testsuite"
    assert len(suite.findall("testcase")) == len(report.results)
    assert not suite.findall("testcase/failure")


def run_cli(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsmq_conformance", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_cli_spawn_reference_writes_reports(tmp_path: Path) -> None:
    out_json, out_xml = tmp_path / "out.json", tmp_path / "out.xml"
    res = run_cli(
        "--spawn-reference",
        "--cases",
        "8.*,4.1.1",
        "--json",
        str(out_json),
        "--junit",
        str(out_xml),
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "[1/" in res.stdout  # progress lines
    data = json.loads(out_json.read_text())
    ids = [c["id"] for c in data["cases"]]
    assert "4.1.1" in ids and all(i == "4.1.1" or i.startswith("8.") for i in ids)
    assert all(c["section"].startswith("§") for c in data["cases"])
    assert ET.parse(out_xml).getroot().get("tests") == str(len(ids))


async def _cli_against_mini(fault: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(MINI), "--port", "0", "--fault", fault]
    async with spawned_server(cmd, ready_timeout=20) as url:
        return await asyncio.to_thread(run_cli, url, *args)


async def test_cli_exit_code_is_one_on_a_must_failure() -> None:
    res = await _cli_against_mini("echo-to-sender", "--cases", "3.1.3", "-q")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "MUST failures: 3.1.3" in res.stdout


async def test_cli_exclude_glob_skips_the_failing_case() -> None:
    # the echo fault breaks 3.1.3 (no echo by default), 3.1.7 and 3.1.8 (echo only where asked)
    res = await _cli_against_mini(
        "echo-to-sender", "--cases", "3.1.*", "--exclude", "3.1.3,3.1.7,3.1.8", "-q"
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3.1.3" not in res.stdout


def test_cli_unreachable_server_exits_two() -> None:
    with socket.socket() as s:  # a bound, non-listening port: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        res = run_cli(f"ws://127.0.0.1:{port}/ws", "-q", timeout=60)
    assert res.returncode == 2
    assert "cannot connect" in res.stderr


def test_cli_list_shows_unique_ids_with_sections() -> None:
    res = run_cli("--list", "--profile", "full")
    assert res.returncode == 0
    ids = [line.split()[0] for line in res.stdout.splitlines() if line.strip()]
    assert len(ids) == len(set(ids)) > 100
    assert all("[§" in line for line in res.stdout.splitlines() if line.strip())


async def test_spawned_process_reports_a_server_that_exits_before_ready() -> None:
    cmd = [sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"]
    with pytest.raises(SpawnError, match=r"exited \(3\) before ready:\nboom"):
        async with spawned_process(cmd, ready_timeout=20):
            pass


async def test_a_timeout_inside_the_block_is_not_blamed_on_the_server() -> None:
    """A TimeoutError raised by the code under the ``async with`` (a test's own deadline) stays a
    TimeoutError: it once turned into 'printed no readiness line'. The server is still stopped."""
    cmd = [sys.executable, str(MINI), "--port", "0"]
    with pytest.raises(TimeoutError, match="the test's own deadline"):
        async with spawned_process(cmd, ready_timeout=20) as spawned:
            proc = spawned.process
            raise TimeoutError("the test's own deadline")
    assert proc.returncode is not None


async def test_cli_writes_every_report_against_a_server_that_answers_nothing(
    tmp_path: Path,
) -> None:
    """A server that never sends a frame: exit 2 after the probe, and the JSON, JUnit and HTML
    reports still say why, with the frames the probe sent."""
    cmd = [sys.executable, str(MINI), "--port", "0", "--fault", "silent"]
    out = {k: tmp_path / f"r.{k}" for k in ("json", "xml", "html")}
    async with spawned_server(cmd, ready_timeout=20) as url:
        res = await asyncio.to_thread(
            run_cli,
            url,
            "-q",
            "--json",
            str(out["json"]),
            "--junit",
            str(out["xml"]),
            "--html",
            str(out["html"]),
            timeout=60,
        )
    assert res.returncode == 2, res.stdout + res.stderr
    data = json.loads(out["json"].read_text())
    assert "does not acknowledge registration" in data["fatal"] and data["exitCode"] == 2
    sent = [f["frame"] for f in data["probeFrames"] if f["dir"] == "sent"]
    assert any('"pageSessionID"' in f for f in sent) and any('"body": {}' in f for f in sent)
    suite = ET.parse(out["xml"]).getroot()
    assert suite.get("errors") == "1" and suite.find("testcase/error") is not None
    assert "does not acknowledge registration" in out["html"].read_text()
