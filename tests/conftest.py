"""Shared pytest configuration. Several engineers add to this file: append, keep it small.

``--soak-full``: tests/test_soak.py runs its full-size load (``make soak``) instead of the short
version that ``make test`` runs.
"""

from __future__ import annotations

import pytest

__all__: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak-full",
        action="store_true",
        default=False,
        help="run tests/test_soak.py at full size (thousands of clients, a few minutes)",
    )
