"""Liveness and readiness of a broker node (docs/operations.md, "Health").

``GET /healthz`` answers 200 while the process serves HTTP at all (liveness: restart it when
this fails). ``GET /readyz`` answers 200 only while the node can do its job (readiness: send it
traffic): started, not closing or draining, and its backend ready (with NATS: connected, so its
subscriptions are in place). Otherwise 503 with the reason, e.g. ``backend down``: a load
balancer then stops sending new clients to a node whose cross-node traffic is being dropped.
"""

from __future__ import annotations

from typing import Any

__all__ = ["not_ready_reason"]


def not_ready_reason(broker: Any) -> str | None:
    """None when ``broker`` is ready for traffic, else why not (the ``/readyz`` 503 text)."""
    if broker.closing:
        return "shutting down"
    if getattr(broker, "draining", False):
        return "draining"
    backend = broker.backend
    if backend.host is None:
        return "not started"
    if not backend.ready:
        return "backend down"
    return None
