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


# --- live broker fixtures (broker/server/client tests) -------------------------------------

from collections.abc import AsyncIterator  # noqa: E402

from websocketmq.testing import RunningBroker, run_broker  # noqa: E402


@pytest.fixture
async def live() -> AsyncIterator[RunningBroker]:
    """An in-process broker on a free 127.0.0.1 port, closed after the test."""
    async with run_broker(port=0) as running:
        yield running
