"""W3C trace propagation and OpenTelemetry spans (spec §3.2 ``traceparent``; docs/operations.md).

Propagation needs nothing installed beyond ``opentelemetry-api`` (``pip install
'websocketmq[otel]'``): the clients put the ``traceparent`` of the caller's current span into
the envelope header of what they publish and request, and run a handler for a server→client
request inside the context its ``traceparent`` names, so spans the application makes there
join the caller's trace. Without ``opentelemetry-api`` every function here is a no-op.

The broker (``BrokerOptions.tracing``) makes a span per request in each direction and per
publish: SERVER for a client's request (the handler runs inside it, so a
``request_to_client`` the handler makes is its child), CLIENT for a server→client request,
PRODUCER for a publish. What it forwards carries the ``traceparent`` of its span, so the trace
crosses NATS to the node that handles it. Spans are named ``<operation> <pattern-free topic>``
and carry ``messaging.*`` attributes, never bodies.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

try:
    from opentelemetry import context as _otel_context
    from opentelemetry import trace as _trace
    from opentelemetry.trace import (
        NonRecordingSpan,
        SpanContext,
        SpanKind,
        Status,
        StatusCode,
        TraceFlags,
    )
except ImportError:  # the [otel] extra is not installed: propagation and spans are off
    _trace = None  # type: ignore[assignment]

from .protocol.envelope import TRACEPARENT_RE, Message

Reply = Message | bytes

__all__ = [
    "AVAILABLE",
    "BrokerTracer",
    "broker_tracer",
    "context_of",
    "current_traceparent",
]

AVAILABLE = _trace is not None
"""Whether ``opentelemetry-api`` is importable."""


def _format(ctx: Any) -> str:
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span, None without one (or without OpenTelemetry)."""
    if _trace is None:
        return None
    ctx = _trace.get_current_span().get_span_context()
    return _format(ctx) if ctx.is_valid else None


def _parent(traceparent: str | None) -> Any:
    """An OpenTelemetry context whose current span is the remote ``traceparent``, or None."""
    if traceparent is None or not TRACEPARENT_RE.fullmatch(traceparent):
        return None
    _, trace_id, span_id, flags = traceparent.split("-")[:4]
    span_ctx = SpanContext(
        int(trace_id, 16), int(span_id, 16), True, TraceFlags(int(flags, 16) & 1)
    )
    if not span_ctx.is_valid:
        return None
    return _trace.set_span_in_context(NonRecordingSpan(span_ctx))


def context_of(traceparent: str | None) -> contextvars.Context | None:
    """A copy of the current ``contextvars`` context in which ``traceparent`` is the current
    span (to run a handler in: ``loop.create_task(coro, context=...)``), or None."""
    if _trace is None or traceparent is None:
        return None
    parent = _parent(traceparent)
    if parent is None:
        return None
    ctx = contextvars.copy_context()
    ctx.run(_otel_context.attach, parent)
    return ctx


def broker_tracer(setting: Any) -> BrokerTracer | None:
    """The broker's tracer for ``BrokerOptions.tracing``: False → None; a TracerProvider →
    spans go to it; True → the global provider (``opentelemetry-api`` required); None (the
    default) → the global provider if the application configured one (an SDK), else None, so
    the hot path pays nothing when nobody collects spans. Resolved at ``Broker.start()``:
    configure OpenTelemetry before starting the broker."""
    if setting is False:
        return None
    if _trace is None:
        if setting is None:
            return None
        raise ImportError("broker tracing needs opentelemetry-api: pip install 'websocketmq[otel]'")
    if setting is None or setting is True:
        provider = _trace.get_tracer_provider()
        unset = isinstance(provider, _trace.ProxyTracerProvider | _trace.NoOpTracerProvider)
        if setting is None and unset:
            return None
        return BrokerTracer(provider)
    return BrokerTracer(setting)


def _reply_code(reply: Any) -> str:
    """``OK``, or the code of an error reply (decoded ``Message``; bytes count as OK)."""
    if isinstance(reply, Message) and reply.header.type == "error":
        body = reply.body
        err = body.get("error") if isinstance(body, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        return code if isinstance(code, str) else "UNKNOWN"
    return "OK"


class BrokerTracer:
    """The broker's spans. ``begin`` starts one (as a child of the message's ``traceparent``,
    else of the current span) and rewrites the message's ``traceparent`` to it, so what the
    broker forwards continues the trace; ``end`` finishes it with the answer's code."""

    def __init__(self, provider: Any) -> None:
        assert _trace is not None
        self._tracer = provider.get_tracer("websocketmq")
        self._kinds = {
            "server": SpanKind.SERVER,
            "client": SpanKind.CLIENT,
            "producer": SpanKind.PRODUCER,
            "consumer": SpanKind.CONSUMER,
        }

    def begin(self, operation: str, kind: str, msg: Message, client_id: str | None) -> Any:
        """Start the span of ``operation`` (``request``, ``request_to_client``, ``publish``…)
        on ``msg``; returns it (pass it to :meth:`end` and :meth:`context`)."""
        header = msg.header
        parent = _parent(header.traceparent)
        attributes: dict[str, Any] = {
            "messaging.system": "wsmq",
            "messaging.operation.name": operation,
            "messaging.destination.name": header.topic,
        }
        if header.correlation_id is not None:
            attributes["messaging.message.conversation_id"] = header.correlation_id
        if client_id is not None:
            attributes["messaging.client.id"] = client_id
        span = self._tracer.start_span(
            f"{operation} {header.topic}",
            context=parent,
            kind=self._kinds[kind],
            attributes=attributes,
        )
        ctx = span.get_span_context()
        if ctx.is_valid:
            header.traceparent = _format(ctx)
        return span

    @staticmethod
    def context(span: Any) -> contextvars.Context:
        """A ``contextvars`` context in which ``span`` is current (the handler runs in it)."""
        ctx = contextvars.copy_context()
        ctx.run(_otel_context.attach, _trace.set_span_in_context(span))
        return ctx

    @staticmethod
    def end(span: Any, code: str = "OK") -> None:
        """Finish ``span``; an error code (spec §11) marks it failed."""
        if code != "OK":
            span.set_attribute("wsmq.error.code", code)
            span.set_status(Status(StatusCode.ERROR, code))
        span.end()

    def serve(
        self,
        start: Callable[[str, Message], Message | Awaitable[Message]],
        topic: str,
        msg: Message,
        encode: Callable[[Message, Message], bytes] | None,
    ) -> Reply | Awaitable[Reply]:
        """Serve a request that came from another node (``start`` is the handler registry's)
        inside a SERVER span ``handle <topic>``, child of the requesting node's span: the
        reply (``encode``-d if given) or a task of it."""
        span = self.begin("handle", "server", msg, msg.header.source)
        ctx = self.context(span)
        reply = ctx.run(start, topic, msg)
        if isinstance(reply, Message):
            self.end(span, _reply_code(reply))
            return encode(msg, reply) if encode is not None else reply

        async def settle() -> Message:
            return await reply

        task = asyncio.get_running_loop().create_task(settle(), context=ctx)
        task.add_done_callback(lambda t: self.end(span, _task_code(t)))
        return task


def _task_code(task: asyncio.Task[Message]) -> str:
    if task.cancelled():
        return "CANCELLED"
    if task.exception() is not None:
        return "INTERNAL"
    return _reply_code(task.result())
