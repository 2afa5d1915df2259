"""Prometheus metrics (websocketmq.metrics, docs/operations.md "Metrics") scraped over real
HTTP from a real broker while real clients use it: counters must rise by exactly what the
clients did, and the documented names (and the Grafana dashboard's) must be what is served."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from httpget import http_get
from prometheus_client.parser import text_string_to_metric_families
from websocketmq import Message, WsmqError, connect
from websocketmq.testing import run_broker

__all__: list[str] = []

REPO = Path(__file__).resolve().parent.parent
N = 25


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics, parsed: (sample name, sorted labels) → value."""
    status, headers, body = await http_get(port, "/metrics")
    assert status.split()[1] == "200"
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m: dict, name: str, **labels: str) -> float:
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_counters_rise_by_exactly_n_echo_requests() -> None:
    async with run_broker(metrics=True) as live:

        @live.broker.subscribe("example.echo")
        def echo(msg: Message, _src: str | None) -> object:
            return msg.body

        async with await connect(live.url) as client:
            before = await scrape(live.port)
            for i in range(N):
                assert await client.request("example.echo", {"i": i}) == {"i": i}
            after = await scrape(live.port)
            c2s = {"direction": "client_to_server"}
            ok = value(after, "wsmq_requests_total", code="OK", **c2s) - value(
                before, "wsmq_requests_total", code="OK", **c2s
            )
            assert ok == N
            for name, labels in (
                ("wsmq_messages_received_total", {"type": "request"}),
                ("wsmq_messages_sent_total", {"type": "response"}),
                ("wsmq_request_duration_seconds_count", c2s),
            ):
                assert value(after, name, **labels) - value(before, name, **labels) == N, name
            assert value(after, "wsmq_connections", state="registered") == 1
            assert value(after, "wsmq_backend_up", backend="MemoryBackend") == 1
            assert value(after, "wsmq_ready") == 1


async def test_errors_server_to_client_requests_closes_and_subscriptions() -> None:
    async with run_broker(metrics=True) as live:
        broker = live.broker
        async with await connect(live.url) as client:
            await client.subscribe("jobs.>", lambda msg: {"done": msg.body})
            with pytest.raises(WsmqError):
                await client.request("nobody.home", None)
            for i in range(3):
                assert await broker.request_to_client(client.client_id, "jobs.run", i) == {
                    "done": i
                }
            with pytest.raises(WsmqError):
                await broker.request_to_client(client.client_id, "other.topic", None)
            m = await scrape(live.port)
            s2c = {"direction": "server_to_client"}
            assert value(m, "wsmq_requests_total", code="OK", **s2c) == 3
            assert value(m, "wsmq_requests_total", code="NO_HANDLER", **s2c) == 1
            assert (
                value(m, "wsmq_requests_total", code="NO_HANDLER", direction="client_to_server")
                == 1
            )
            assert value(m, "wsmq_errors_sent_total", code="NO_HANDLER") == 1
            assert value(m, "wsmq_subscriptions", kind="client") == 1
            assert value(m, "wsmq_request_duration_seconds_count", **s2c) == 4
        for _ in range(100):  # the close is counted when the server side has seen it
            m = await scrape(live.port)
            if value(m, "wsmq_closes_total", code="1000") == 1:
                break
            await asyncio.sleep(0.02)
        assert value(m, "wsmq_closes_total", code="1000") == 1
        assert value(m, "wsmq_connections", state="registered") == 0


async def test_two_brokers_in_one_process_do_not_share_metrics() -> None:
    async with run_broker(metrics=True) as a, run_broker(metrics=True) as b:
        async with await connect(a.url):
            ma, mb = await scrape(a.port), await scrape(b.port)
        assert value(ma, "wsmq_connections", state="registered") == 1
        assert value(mb, "wsmq_connections", state="registered") == 0


async def test_metrics_off_means_404_and_no_observer() -> None:
    async with run_broker() as live:
        status, _, _ = await http_get(live.port, "/metrics")
        assert status.split()[1] == "404"
        assert live.broker.observer is None


async def test_asgi_app_serves_the_same_registry() -> None:
    async with run_broker(metrics=True) as live:
        assert live.broker.metrics is not None
        app = live.broker.metrics.asgi_app()
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []}
        await app(scope, receive, send)
        assert sent[0]["status"] == 200
        assert b"wsmq_connections" in b"".join(m.get("body", b"") for m in sent)


def test_every_served_metric_is_documented_and_the_grafana_dashboard_uses_only_them() -> None:
    from websocketmq.metrics import METRIC_NAMES

    doc = (REPO / "docs" / "operations.md").read_text()
    for name in METRIC_NAMES:
        assert f"`{name}`" in doc, f"{name} is not documented in docs/operations.md"
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"\bwsmq_[a-z_]+", target["expr"]))
    base = {re.sub(r"_(bucket|count|sum)$", "", u) for u in used}
    served = set(METRIC_NAMES)
    assert base <= served, base - served
    assert len(base) >= 10


async def test_a_fanned_out_event_counts_once_per_subscriber() -> None:
    async with run_broker(metrics=True) as live:
        clients = [await connect(live.url) for _ in range(3)]
        try:
            got: list[Message] = []
            for c in clients:
                await c.subscribe("fan.x", got.append)
            before = await scrape(live.port)
            for i in range(4):
                await live.broker.publish("fan.x", i)
            while len(got) < 12:
                await clients[0].ping()
            after = await scrape(live.port)
            sent = value(after, "wsmq_messages_sent_total", type="event") - value(
                before, "wsmq_messages_sent_total", type="event"
            )
            assert sent == 12  # 4 events x 3 subscribers
        finally:
            for c in clients:
                await c.close()
