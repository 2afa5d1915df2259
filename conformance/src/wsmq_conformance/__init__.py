"""Conformance suite for wsmq/1 servers: checks any server from the outside, over a WebSocket.

Entry points: the CLI (``wsmq-conformance URL`` / ``python -m wsmq_conformance``) and
:func:`run_suite` for in-process use (tests, other tools).  The suite imports only websockets,
hypothesis, jsonschema and the standard library, never ``websocketmq``: it must be able to
judge any server.  The names below load on first use, so that ``wsmq_conformance.cli`` can
name a missing dependency (the ``conformance`` extra) in one line instead of a traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

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

_HOME = {
    "REGISTRY": "model",
    "Case": "model",
    "CaseResult": "model",
    "Level": "model",
    "Verdict": "model",
    "RunConfig": "context",
    "ServerUnreachable": "probe",
    "SuiteReport": "report",
    "run_suite": "runner",
    "spawned_server": "spawn",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
