"""The conformance suite finds real bugs: each deliberately broken server is reported FAILED
under the case that names the rule it breaks, and the same server without the fault passes.

The servers are tests/broken_servers/wsmq_mini.py with one ``--fault`` each, run as real
subprocesses on 127.0.0.1 port 0 and driven over real WebSockets.  Each test runs only the
cases around its fault (``include`` globs), so the file stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from wsmq_conformance import RunConfig, SuiteReport, Verdict, run_suite, spawned_server

__all__: list[str] = []

MINI = Path(__file__).parent / "broken_servers" / "wsmq_mini.py"

pytestmark = pytest.mark.timeout(120)


async def run_against(
    faults: list[str], include: list[str] | None, *, profile: str = "core", examples: int = 10
) -> SuiteReport:
    cmd = [sys.executable, str(MINI), "--port", "0"]
    for f in faults:
        cmd += ["--fault", f]
    async with spawned_server(cmd, ready_timeout=20) as url:
        config = RunConfig(url=url, profile=profile, examples=examples)
        return await run_suite(config, include=include)


def failed(report: SuiteReport) -> set[str]:
    return {r.id for r in report.results if r.verdict is Verdict.FAILED}


# fault -> (cases to run, cases that must be FAILED)
BROKEN = {
    "drop-correlation": (["2.1.1", "4.1.1", "2.9.1"], {"2.1.1", "4.1.1", "2.9.1"}),
    "echo-to-sender": (["3.1.*"], {"3.1.3"}),
    "die-on-bad-json": (["6.1.*", "6.2.1"], {"6.1.1", "6.2.1"}),
    "wrong-client": (["4.1.7", "4.2.1"], {"4.1.7", "4.2.1"}),
    "no-no-handler": (["4.1.2", "6.5.1"], {"4.1.2", "6.5.1"}),
    "ignore-unsubscribe": (["3.1.5", "3.1.6"], {"3.1.5", "3.1.6"}),
    "gt-matches-zero": (["3.2.1"], {"3.2.1"}),
    "accept-any-resume": (["1.2.*"], {"1.2.3", "1.2.4", "1.2.5"}),
    "no-disconnect-settle": (["5.4.*"], {"5.4.3"}),
    "negative-timestamp": (["8.1.1", "2.9.1"], {"2.9.1"}),
}


@pytest.mark.parametrize("fault", sorted(BROKEN))
async def test_broken_server_is_reported_under_the_right_case(fault: str) -> None:
    include, expected = BROKEN[fault]
    report = await run_against([fault], include)
    assert failed(report) == expected, report.text_summary()
    assert report.exit_code() == 1
    for r in report.results:
        if r.id in expected:
            assert r.level == "MUST" and r.section.startswith("§"), r
            assert r.message


async def test_minimal_failing_example_is_reported() -> None:
    """Hypothesis shrinks a wildcard bug to a tiny pattern/topic pair and the report shows it."""
    report = await run_against(["gt-matches-zero"], ["3.2.1"], examples=25)
    (r,) = report.results
    assert r.verdict is Verdict.FAILED
    assert r.example is not None and "'>'" in r.example, r.example
    # the shrunk example is a pattern ending in '>' and a topic with no token left for it
    assert "1 deliveries, want 0" in r.message, r.message


async def test_bad_json_example_names_the_bad_frame() -> None:
    report = await run_against(["die-on-bad-json"], ["6.2.1"], examples=25)
    (r,) = report.results
    assert r.verdict is Verdict.FAILED
    assert r.example is not None and "not-json" in r.example, r.example


async def test_correct_mini_server_passes_every_case() -> None:
    """Every case can pass: the fault-free mini server gets no FAILED and no NON-STRICT."""
    report = await run_against([], None, profile="full", examples=10)
    bad = [r for r in report.results if r.verdict in (Verdict.FAILED, Verdict.NON_STRICT)]
    assert not bad, report.text_summary()
    assert report.fixture is True
    assert len(report.results) > 100  # built-in cases plus the vector cases


async def test_interleaving_model_catches_a_sticky_subscription() -> None:
    """3.6.1 (random subscribe/unsubscribe/publish sequences against a model) finds the
    ignored-unsubscribe bug without being pointed at it, and shrinks to a short sequence."""
    report = await run_against(["ignore-unsubscribe"], ["3.6.1"], examples=25)
    (r,) = report.results
    assert r.verdict is Verdict.FAILED, r
    assert r.example is not None and "'unsub'" in r.example, r.example
