"""Trace propagation (spec §3.2 ``traceparent``, websocketmq.tracing): one trace spans a Python
client's request → the broker → its handler → a server→client request → the client's handler,
recorded by the OpenTelemetry SDK's in-memory exporter; and the same across two broker nodes
joined by a real ``nats-server``."""

from __future__ import annotations

from typing import Any

import pytest
from nats_cluster import NATS_SERVER, SKIP_REASON, NatsServer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from websocketmq import Broker, Message, connect
from websocketmq.protocol.envelope import decode
from websocketmq.testing import run_broker

__all__: list[str] = []


def _provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _install(broker: Broker, tracer: Any) -> None:
    """order.place asks the calling client to confirm (a server→client request)."""

    @broker.subscribe("order.place")
    async def place(msg: Message, client_id: str | None) -> Any:
        with tracer.start_as_current_span("handler work"):
            assert client_id is not None
            return await broker.request_to_client(client_id, "confirm.ask", msg.body)


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {s.name: s for s in spans}


async def _call(url: str, tracer: Any) -> int:
    """The client side: a root span around the request; the client's handler for the
    server→client request makes a span of its own. Returns the root's trace ID."""
    async with await connect(url) as client:

        def confirm(msg: Message) -> Any:
            with tracer.start_as_current_span("client confirms"):
                return {"confirmed": msg.body}

        await client.subscribe("confirm.ask", confirm)
        with tracer.start_as_current_span("client op") as root:
            assert await client.request("order.place", {"n": 1}) == {"confirmed": {"n": 1}}
        return int(root.get_span_context().trace_id)


def _assert_chain(spans: dict[str, ReadableSpan], trace_id: int, first_hop: str) -> None:
    assert {s.context.trace_id for s in spans.values()} == {trace_id}, "one trace for all"

    def parent(name: str) -> str:
        return parent_name(spans, name)

    assert parent("client confirms") == "request_to_client confirm.ask"
    assert parent("request_to_client confirm.ask") == "handler work"
    assert spans["request_to_client confirm.ask"].kind is SpanKind.CLIENT
    assert parent(first_hop) == "client op"
    assert spans["request order.place"].kind is SpanKind.SERVER
    assert spans["request order.place"].attributes["messaging.destination.name"] == "order.place"


async def test_one_trace_spans_client_broker_handler_and_server_to_client_request() -> None:
    provider, exporter = _provider()
    tracer = provider.get_tracer("test")
    async with run_broker(tracing=provider) as live:
        _install(live.broker, tracer)
        trace_id = await _call(live.url, tracer)
    spans = _by_name(exporter.get_finished_spans())
    assert parent_name(spans, "handler work") == "request order.place"
    _assert_chain(spans, trace_id, "request order.place")


def parent_name(spans: dict[str, ReadableSpan], name: str) -> str:
    ctx = spans[name].parent
    assert ctx is not None
    return next(n for n, s in spans.items() if s.context.span_id == ctx.span_id)


async def test_publish_span_and_forwarded_traceparent() -> None:
    provider, exporter = _provider()
    tracer = provider.get_tracer("test")
    got: list[Message] = []
    async with (
        run_broker(tracing=provider) as live,
        await connect(live.url) as sub,
        await connect(live.url) as pub,
    ):
        await sub.subscribe("news.x", got.append)
        with tracer.start_as_current_span("publisher") as root:
            await pub.publish("news.x", 1)
        while not got:
            await sub.ping()
    spans = _by_name(exporter.get_finished_spans())
    span = spans["publish news.x"]
    assert span.kind is SpanKind.PRODUCER
    assert span.context.trace_id == root.get_span_context().trace_id
    # the subscriber received the broker's span as the event's traceparent
    assert (
        got[0].header.traceparent
        == f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-01"
    )


def test_an_invalid_traceparent_is_ignored_not_rejected() -> None:
    for bad in (42, "nope", "00-" + "0" * 32 + "-" + "1" * 16 + "-01x", None):
        frame = (
            '{"header":{"messageID":"m","type":"event","topic":"a.b","timestamp":1,'
            f'"traceparent":{__import__("json").dumps(bad)}}}}}'
        )
        assert decode(frame).header.traceparent is None
    good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    frame = (
        '{"header":{"messageID":"m","type":"request","topic":"a.b","timestamp":1,'
        f'"correlationID":"c","traceparent":"{good}"}}}}'
    )
    assert decode(frame).header.traceparent == good


@pytest.mark.nats
@pytest.mark.skipif(NATS_SERVER is None, reason=SKIP_REASON)
@pytest.mark.timeout(60)
async def test_the_trace_crosses_nats_to_the_node_that_handles_the_request() -> None:
    from websocketmq.backends.nats import NatsBackend

    provider, exporter = _provider()
    tracer = provider.get_tracer("test")
    async with NatsServer.start() as nats:
        a = run_broker(backend=NatsBackend([nats.url]), tracing=provider)
        b = run_broker(backend=NatsBackend([nats.url]), tracing=provider)
        async with a as node_a, b as node_b:
            _install(node_b.broker, tracer)  # the handler lives on node B only
            await node_b.broker.backend._flush()  # type: ignore[attr-defined]
            trace_id = await _call(node_a.url, tracer)  # the client is on node A
    spans = _by_name(exporter.get_finished_spans())
    # node A's span for the client's request, node B's for serving it from NATS
    assert parent_name(spans, "handle order.place") == "request order.place"
    assert parent_name(spans, "handler work") == "handle order.place"
    _assert_chain(spans, trace_id, "request order.place")
