"""Conformance fixture handlers (design.md §7), installed by ``wsmq serve --conformance``.

They let the conformance suite drive every behaviour of a server from outside, including
server-side publishes and server→client RPC.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from .broker import Broker
from .errors import APP_CODE_RE, WsmqError
from .protocol.envelope import Message

__all__ = ["install_fixture"]


def _obj(msg: Message) -> dict[str, Any]:
    body = msg.body
    if not isinstance(body, dict):
        raise WsmqError("BAD_MESSAGE", "body must be an object")
    return body


def install_fixture(broker: Broker) -> None:
    """Register the ``conformance.*`` handlers on ``broker``."""
    counts: Counter[str] = Counter()

    @broker.subscribe("conformance.events.count")
    def count(msg: Message, _: str | None) -> Any:
        if msg.type != "request":
            return None
        return {"count": counts[str(_obj(msg).get("topic", "conformance.events"))]}

    @broker.subscribe("conformance.events")
    def on_event(msg: Message, _: str | None) -> Any:
        if msg.type == "event":
            counts[msg.topic] += 1
        return None

    @broker.subscribe("conformance.echo")
    def echo(msg: Message, _: str | None) -> Any:
        return msg.body

    @broker.subscribe("conformance.fail")
    def fail(msg: Message, _: str | None) -> Any:
        body = msg.body if isinstance(msg.body, dict) else {}
        code = body.get("code")
        if not isinstance(code, str) or not APP_CODE_RE.match(code):
            code = "HANDLER_ERROR"
        text = body.get("message")
        raise WsmqError(code, text if isinstance(text, str) else "failed on request")

    @broker.subscribe("conformance.sleep")
    async def sleep(msg: Message, _: str | None) -> Any:
        ms = _obj(msg).get("ms", 0)
        if not isinstance(ms, int | float) or ms < 0:
            raise WsmqError("BAD_MESSAGE", "ms must be a non-negative number")
        await asyncio.sleep(ms / 1000)
        return {"slept": ms}

    @broker.subscribe("conformance.publish")
    async def publish(msg: Message, _: str | None) -> Any:
        body = _obj(msg)
        topic = body.get("topic")
        n = body.get("count", 1)
        if not isinstance(topic, str) or not isinstance(n, int) or n < 0:
            raise WsmqError("BAD_MESSAGE", "needs {topic: str, body, count?: int}")
        payload = body.get("body")
        for i in range(n):
            out = {**payload, "seq": i} if n > 1 and isinstance(payload, dict) else payload
            await broker.publish(topic, out)
        return {"published": n}

    @broker.subscribe("conformance.callback")  # body: {topic, body, timeoutMs?, clientID?}
    async def callback(msg: Message, client_id: str | None) -> Any:
        body = _obj(msg)
        topic = body.get("topic")
        timeout_ms = body.get("timeoutMs", 5000)
        if not isinstance(topic, str) or not isinstance(timeout_ms, int | float):
            raise WsmqError("BAD_MESSAGE", "needs {topic: str, body, timeoutMs?: number}")
        target = body.get("clientID", client_id)  # optional: another client (UNKNOWN_CLIENT…)
        if not isinstance(target, str):
            raise WsmqError(
                "BAD_MESSAGE", "conformance.callback needs a calling client or clientID"
            )
        try:
            reply = await broker.request_to_client(
                target, topic, body.get("body"), timeout=timeout_ms / 1000
            )
        except WsmqError as exc:
            raise WsmqError(exc.code, exc.message, exc.details) from exc
        return {"response": reply}
