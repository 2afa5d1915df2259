"""Prometheus metrics of one broker (docs/operations.md): ``pip install 'websocketmq[metrics]'``.

``Broker(metrics=True)`` (``wsmq serve --metrics``) gives the broker a :class:`Metrics`: a
:class:`~websocketmq.observe.Tally` as its observer, and a ``prometheus_client`` collector
registered in a registry *of its own* (never the process-wide default one: two brokers in one
process, or one per test, do not collide). The standalone server answers ``GET /metrics``
with it; :meth:`Metrics.asgi_app` mounts the same under any ASGI framework.

Why a custom collector instead of ``Counter.inc()`` per message: the broker's hot path then
bumps a plain ``dict`` entry (no lock, no label lookup), and everything that is state rather
than a count (connections, subscriptions, send queues, the backend) is read at scrape time
(:func:`~websocketmq.observe.snapshot`). No metric has a topic or client label: both are
unbounded (docs/operations.md, "Cardinality").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

try:
    from prometheus_client import CollectorRegistry, generate_latest, make_asgi_app
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeHistogramMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        Metric,
    )
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "broker metrics need prometheus-client: pip install 'websocketmq[metrics]'"
    ) from exc

from .observe import (
    CLIENT_TO_SERVER,
    DURATION_BUCKETS,
    SERVER_TO_CLIENT,
    Tally,
    snapshot,
)

__all__ = ["CONTENT_TYPE", "METRIC_NAMES", "QUEUE_BUCKETS", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text exposition format."""

METRIC_NAMES = (
    "wsmq_connections",
    "wsmq_messages_received_total",
    "wsmq_messages_sent_total",
    "wsmq_requests_total",
    "wsmq_request_duration_seconds",
    "wsmq_errors_sent_total",
    "wsmq_closes_total",
    "wsmq_send_queue_frames",
    "wsmq_send_queue_frames_max",
    "wsmq_subscriptions",
    "wsmq_backend_up",
    "wsmq_ready",
    "wsmq_backend_messages_total",
    "wsmq_backend_bytes_total",
    "wsmq_backend_reconnects_total",
    "wsmq_backend_publish_failures_total",
)
"""Every metric this module serves, as scraped (counters with ``_total``); the last four only
with a backend that counts (NATS). Each is documented in docs/operations.md."""

QUEUE_BUCKETS = (0, 1, 8, 64, 256, 512, 1024)
"""Bounds of ``wsmq_send_queue_frames`` (the default ``send_queue_size`` is 1024)."""

_MESSAGE_TYPES = ("event", "request", "response", "error")


class Metrics(Collector):
    """One broker's metrics: the tally its hooks fill, and the collector that exports it."""

    def __init__(self, broker: Any, tally: Tally | None = None) -> None:
        self.broker = broker
        self.tally = tally if tally is not None else Tally()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def render(self) -> bytes:
        """The text exposition of every metric (what ``GET /metrics`` returns)."""
        return generate_latest(self.registry)

    def asgi_app(self) -> Any:
        """An ASGI app serving :meth:`render` (mount it at ``/metrics``)."""
        return make_asgi_app(self.registry)

    def describe(self) -> Iterator[Metric]:
        return iter(())  # collected on demand only: nothing to describe up front

    def collect(self) -> Iterator[Metric]:
        tally = self.tally
        snap = snapshot(self.broker)

        conns = GaugeMetricFamily(
            "wsmq_connections", "Client connections on this node, by state.", labels=["state"]
        )
        for state, n in snap.connections.items():
            conns.add_metric([state], n)
        yield conns

        for name, text, counts in (
            ("wsmq_messages_received", "Frames received from clients, by envelope type.",
             tally.received_by_type),
            ("wsmq_messages_sent", "Frames queued to clients, by envelope type.",
             tally.sent_counts()),
        ):  # fmt: skip
            fam = CounterMetricFamily(name, text, labels=["type"])
            for kind in _MESSAGE_TYPES:
                fam.add_metric([kind], counts.get(kind, 0))
            for kind, n in sorted(counts.items()):
                if kind not in _MESSAGE_TYPES:
                    fam.add_metric([kind], n)
            yield fam

        reqs = CounterMetricFamily(
            "wsmq_requests",
            "Requests answered, by direction and outcome code (OK or the error code).",
            labels=["direction", "code"],
        )
        for direction in (CLIENT_TO_SERVER, SERVER_TO_CLIENT):
            codes = tally.calls[direction].codes
            reqs.add_metric([direction, "OK"], codes.get("OK", 0))
            for code, n in sorted(codes.items()):
                if code != "OK":
                    reqs.add_metric([direction, code], n)
        yield reqs

        hist = HistogramMetricFamily(
            "wsmq_request_duration_seconds",
            "Time from a request's arrival (or sending) to its answer, by direction.",
            labels=["direction"],
        )
        for direction in (CLIENT_TO_SERVER, SERVER_TO_CLIENT):
            calls = tally.calls[direction]
            cumulative, buckets = 0, []
            for bound, n in zip((*DURATION_BUCKETS, float("inf")), calls.slots, strict=True):
                cumulative += n
                buckets.append((_bound(bound), float(cumulative)))
            hist.add_metric([direction], buckets, calls.seconds)
        yield hist

        errors = CounterMetricFamily(
            "wsmq_errors_sent", "Error envelopes sent to clients, by code.", labels=["code"]
        )
        for code, n in sorted(tally.errors.items()):
            errors.add_metric([code], n)
        yield errors

        closes = CounterMetricFamily(
            "wsmq_closes", "Client connections ended, by WebSocket close code.", labels=["code"]
        )
        for close_code, n in sorted(tally.closes.items()):
            closes.add_metric([str(close_code)], n)
        yield closes

        queue = GaugeHistogramMetricFamily(
            "wsmq_send_queue_frames",
            "Frames waiting in each connection's send queue, now (4008 at send_queue_size).",
        )
        depth = [
            (_bound(bound), sum(1 for q in snap.queues if q <= bound))
            for bound in (*QUEUE_BUCKETS, float("inf"))
        ]
        queue.add_metric([], depth, sum(snap.queues))
        yield queue
        deepest = GaugeMetricFamily(
            "wsmq_send_queue_frames_max", "The deepest send queue of this node, now (frames)."
        )
        deepest.add_metric([], max(snap.queues, default=0))
        yield deepest

        subs = GaugeMetricFamily(
            "wsmq_subscriptions",
            "Subscriptions: client (one per pattern per connection) and handler registrations.",
            labels=["kind"],
        )
        subs.add_metric(["client"], snap.client_subscriptions)
        subs.add_metric(["handler"], snap.handler_subscriptions)
        yield subs

        up = GaugeMetricFamily(
            "wsmq_backend_up",
            "1 while the backend is connected (NATS: the connection is up), else 0.",
            labels=["backend"],
        )
        up.add_metric([snap.backend], 1 if snap.backend_up else 0)
        yield up
        ready = GaugeMetricFamily(
            "wsmq_ready", "1 while GET /readyz answers 200 (backend up, not draining)."
        )
        ready.add_metric([], 1 if snap.ready else 0)
        yield ready

        counters = snap.backend_counters
        if counters:
            for name, text, keys in (
                ("wsmq_backend_messages",
                 "Messages this node exchanged with the backend (NATS), by direction.",
                 ("in_msgs", "out_msgs")),
                ("wsmq_backend_bytes",
                 "Payload bytes this node exchanged with the backend (NATS), by direction.",
                 ("in_bytes", "out_bytes")),
            ):  # fmt: skip
                fam = CounterMetricFamily(name, text, labels=["direction"])
                fam.add_metric(["in"], counters.get(keys[0], 0))
                fam.add_metric(["out"], counters.get(keys[1], 0))
                yield fam
            for name, text, key in (
                ("wsmq_backend_reconnects", "Times the backend connection was re-established.",
                 "reconnects"),
                ("wsmq_backend_publish_failures",
                 "Publishes to the backend that failed (events lost for other nodes).",
                 "publish_failures"),
            ):  # fmt: skip
                single = CounterMetricFamily(name, text)
                single.add_metric([], counters.get(key, 0))
                yield single


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(float(value))
