"""Conformance suite for wsmq/1 servers: checks any server from the outside, over a WebSocket.

Entry points: the CLI (``wsmq-conformance URL`` / ``python -m wsmq_conformance``) and
:func:`run_suite` for in-process use (tests, other tools).  The suite imports only websockets,
hypothesis and the standard library, never ``websocketmq``: it must be able to judge any server.
"""

from __future__ import annotations

from .context import RunConfig
from .model import REGISTRY, Case, CaseResult, Level, Verdict
from .report import SuiteReport
from .runner import ServerUnreachable, run_suite
from .spawn import spawned_server

__all__ = [
    "REGISTRY",
    "Case",
    "CaseResult",
    "Level",
    "RunConfig",
    "ServerUnreachable",
    "SuiteReport",
    "Verdict",
    "run_suite",
    "spawned_server",
]
