"""Contract tests of an application server against its catalogue (spec/catalogue.md §9):
``wsmq-conformance --catalogue CAT URL`` passes the shop example's real server and reports each
deliberately broken variant (tests/broken_servers/shop_faults.py) FAILED under the case of the
rule it breaks, with hypothesis's minimal example; a bad catalogue is a one-line exit 2.

Every server is a real subprocess on 127.0.0.1 port 0, driven by the real CLI over WebSockets;
each process is bounded in time and stopped by the test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

__all__: list[str] = []

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "examples" / "shop" / "shop.wsmq.yaml"
SHOP = ROOT / "examples" / "shop" / "server.py"
FAULTY = Path(__file__).parent / "broken_servers" / "shop_faults.py"
READY = re.compile(r"^shop: listening on http://([\d.]+):(\d+)/")

pytestmark = pytest.mark.timeout(120)


@contextmanager
def shop(*args: str) -> Iterator[str]:
    """Start a shop server (``args``: the script and its options); yields its WebSocket URL."""
    proc = subprocess.Popen(
        [sys.executable, *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if m := READY.match(line):
                url = f"ws://{m.group(1)}:{m.group(2)}/ws"
        assert url is not None, "the shop server printed no readiness line"
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def contract(url: str, tmp: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    """Run the CLI's contract mode; returns (exit status, JSON report, stdout)."""
    report = tmp / "contract.json"
    done = subprocess.run(
        [sys.executable, "-m", "wsmq_conformance", "--catalogue", str(CATALOGUE), url,
         "--json", str(report), "--examples", "25", *extra],
        capture_output=True, text=True, timeout=100, cwd=ROOT,
    )  # fmt: skip
    return done.returncode, json.loads(report.read_text()), done.stdout


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["verdict"] for r in report["cases"]}


def test_the_shop_server_keeps_its_catalogue(tmp_path: Path) -> None:
    with shop(str(SHOP)) as url:
        code, report, out = contract(url, tmp_path)
    assert code == 0, out
    # every topic of the catalogue, each direction: 1 request, 2 server event, 3 server
    # request, 4 client event; the observed ones really were observed (OK, not UNIMPLEMENTED)
    assert verdicts(report) == {
        "C.1.1": "OK", "C.1.2": "OK", "C.2.3": "OK", "C.3.3": "OK",
        "C.4.1": "OK", "C.4.2": "OK", "C.9999.1": "OK",
    }, out  # fmt: skip
    by_id = {r["id"]: r for r in report["cases"]}
    assert by_id["C.1.1"]["examplesRun"] >= 25
    assert by_id["C.1.2"]["examplesRun"] >= 25


# fault -> (the one case that must FAIL, text its message must contain, text in the example)
FAULTS = {
    "wrong-shape": ("C.1.1", "breaks the response schema: /qty: '51' is not of type", "51"),
    "undeclared-error": ("C.1.1", "undeclared error code 'SOLD_OUT'", "'qty': 51"),
    "no-validation": ("C.1.2", "expected INVALID_BODY", None),
    "bad-event": ("C.2.3", "'shipped' is not one of", None),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_broken_shop_is_reported_failed_with_the_minimal_example(
    fault: str, tmp_path: Path
) -> None:
    case, message, example = FAULTS[fault]
    with shop(str(FAULTY), "--fault", fault) as url:
        code, report, out = contract(url, tmp_path)
    assert code == 1, out
    failed = {k for k, v in verdicts(report).items() if v == "FAILED"}
    assert failed == {case}, out
    (r,) = [r for r in report["cases"] if r["id"] == case]
    assert message in r["message"], r
    assert r["level"] == "MUST" and r["frames"], r  # the failed case's frames are in the report
    if example is not None:  # shrunk to the boundary: qty 51 is the smallest qty > 50
        assert r["example"] is not None and example in r["example"], r["example"]
    assert report["mustFailures"] == [case]


def test_a_bad_catalogue_is_refused_with_file_and_pointer(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wsmq.yaml"
    bad.write_text(
        'wsmq: "1"\nname: shop\nversion: "1"\n'
        "topics:\n  a.b:\n    event: {from: nobody, body: {type: object}}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "wsmq_conformance", "--catalogue", str(bad), "ws://127.0.0.1:9/ws"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    assert str(bad) in done.stderr and "/topics/a.b/event/from" in done.stderr, done.stderr


def test_near_misses_break_the_schema_and_change_one_thing() -> None:
    """The near-miss strategy: every body it draws is invalid under jsonschema, and the change
    it names is the only one (all other members as in some valid body)."""
    from hypothesis import given, settings
    from wsmq_conformance.catalogue import load_catalogue
    from wsmq_conformance.contract import near_misses

    cat = load_catalogue(CATALOGUE)
    op = next(op for op in cat if op.topic == "orders.create")
    whats: set[str] = set()

    @settings(max_examples=80, database=None, deadline=None)
    @given(near_misses(cat, op.body))
    def check(x: tuple[str, Any]) -> None:
        what, body = x
        whats.add(what)
        assert cat.problems(op.body, body), (what, body)

    check()
    assert any(w.startswith("without ") for w in whats), whats  # required dropped
    assert any(" as " in w for w in whats), whats  # retyped
    assert any("breaking" in w for w in whats), whats  # out of range
