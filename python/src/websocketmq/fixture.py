"""Conformance fixture handlers (spec §14), installed by ``wsmq serve --conformance``.

They let the conformance suite drive every behaviour of a server from outside, including
server-side publishes and server→client RPC, and observe what a client cannot see on its own:
the ``source`` a handler is given, what happens when a handler raises without a code, the
presence events of §6.5 and the fate of an expired resume token (§6.4 item 4).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict
from typing import Any

from .broker import Broker
from .broker.registry import TOPIC_CLIENT_DEREGISTERED, TOPIC_CLIENT_REGISTERED
from .errors import APP_CODE_RE, WsmqError
from .protocol.envelope import Message
from .protocol.tokens import issue_token

__all__ = ["install_fixture"]

PRESENCE_CLIENTS = 64
PRESENCE_EVENTS = 8


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

    @broker.subscribe("conformance.raise")
    def raise_(msg: Message, _: str | None) -> Any:
        if msg.type == "request":  # no code: the broker must answer HANDLER_ERROR (§8.3, §11.3)
            raise RuntimeError("conformance.raise: an exception without a wire code")
        return None

    @broker.subscribe("conformance.source")
    def source(msg: Message, _: str | None) -> Any:
        return {"source": msg.source}  # what a handler is told about the sender (§3.2)

    # bounded (the latest PRESENCE_CLIENTS IDs, PRESENCE_EVENTS each): a long-running fixture
    # server must not grow with every client it ever saw (tests/test_soak.py counts it)
    presence: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def seen(msg: Message, _: str | None) -> None:
        body = msg.body if isinstance(msg.body, dict) else {}
        cid = body.get("brokerClientID")
        if isinstance(cid, str):
            events = presence.setdefault(cid, [])
            presence.move_to_end(cid)
            events.append({"topic": msg.topic, "body": body})
            del events[:-PRESENCE_EVENTS]
            while len(presence) > PRESENCE_CLIENTS:
                presence.popitem(last=False)

    broker.subscribe(TOPIC_CLIENT_REGISTERED, seen)
    broker.subscribe(TOPIC_CLIENT_DEREGISTERED, seen)

    @broker.subscribe("conformance.presence")  # body: {clientID}
    def presence_of(msg: Message, _: str | None) -> Any:
        cid = _obj(msg).get("clientID")
        if not isinstance(cid, str):
            raise WsmqError("BAD_MESSAGE", "needs {clientID: str}")
        return {"events": list(presence.get(cid, []))}

    @broker.subscribe("conformance.expired-token")
    def expired_token(msg: Message, client_id: str | None) -> Any:
        if client_id is None:
            raise WsmqError("BAD_MESSAGE", "conformance.expired-token needs a calling client")
        secret = broker.options.resume_secret  # a genuine token, one that expired 1 min ago
        token = issue_token(secret, client_id, time.time() - 120, 60)
        return {"brokerClientID": client_id, "resumeToken": token}

    @broker.subscribe("conformance.sleep")
    async def sleep(msg: Message, _: str | None) -> Any:
        ms = _obj(msg).get("ms", 0)
        if not isinstance(ms, int | float) or ms < 0:
            raise WsmqError("BAD_MESSAGE", "ms must be a non-negative number")
        notify = _obj(msg).get("notify")
        if isinstance(notify, str):  # the case cancels once the handler runs (case 4.1.6)
            await broker.publish(notify, {"started": True})
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
