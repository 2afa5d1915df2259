"""The plain HTTP answers every transport serves beside the socket, as data (no I/O here).

``/healthz`` and ``/readyz`` (docs/operations.md, "Health"), ``/metrics`` when the broker has
metrics on (docs/operations.md, "Metrics"), and the browser client ``/websocketmq.js`` built
by ``make bundle``. The standalone server (``server.py``) and the adapters (``asgi.py``,
``aiohttp.py``) write a :class:`Page` in their own framework's way, so the three cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from .health import not_ready_reason

if TYPE_CHECKING:
    from .broker import Broker

__all__ = ["CLIENT_BUNDLE", "PROBES", "Page", "client_bundle", "probe", "static_file"]

TEXT = "text/plain; charset=utf-8"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Prometheus text exposition (websocketmq.metrics.CONTENT_TYPE, without importing it)."""
CLIENT_BUNDLE = "/websocketmq.js"
PROBES = ("/healthz", "/readyz", "/metrics")


@dataclass(frozen=True, slots=True)
class Page:
    """One HTTP answer: status, reason phrase, body and its Content-Type."""

    status: int
    reason: str
    body: bytes
    content_type: str


def static_file(name: str) -> bytes | None:
    """A file the package ships in ``websocketmq/static/`` (None when it is not built)."""
    try:
        return (resources.files("websocketmq") / "static" / name).read_bytes()
    except (FileNotFoundError, OSError):
        return None


def client_bundle() -> Page | None:
    """``/websocketmq.js``, the browser client (None when the package ships none)."""
    body = static_file("websocketmq.js")
    if body is None:
        return None
    return Page(200, "OK", body, "text/javascript; charset=utf-8")


def probe(broker: Broker, path: str) -> Page | None:
    """The answer to ``/healthz``, ``/readyz`` or ``/metrics``; None for any other path (and
    for ``/metrics`` when the broker counts nothing)."""
    if path == "/healthz":
        return Page(200, "OK", b"ok\n", TEXT)
    if path == "/readyz":
        why = not_ready_reason(broker)
        if why is None:
            return Page(200, "OK", b"ready\n", TEXT)
        return Page(503, "Service Unavailable", why.encode() + b"\n", TEXT)
    if path == "/metrics" and broker.metrics is not None:
        return Page(200, "OK", broker.metrics.render(), METRICS_TYPE)
    return None
