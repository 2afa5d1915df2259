"""``python -m bench.validation`` runs and reports every figure (the figures themselves are
benchmarks, recorded in docs/catalogue.md, never asserted here)."""

from __future__ import annotations

import math

from bench.validation import measure

__all__: list[str] = []


def test_validation_benchmark_smoke_run_reports_every_figure() -> None:
    figures = measure(quick=True)
    expected = {
        "python_load_request_ns",
        "python_load_response_ns",
        "python_dump_response_ns",
        "python_jsonschema_request_ns",
        "rpc_plain_us",
        "rpc_typed_us",
        "rpc_overhead_ratio",
    }
    assert expected <= set(figures)
    assert all(math.isfinite(v) and v > 0 for v in figures.values())
