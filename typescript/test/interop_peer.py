"""Python side of typescript/test/interop.test.mjs: a real broker plus a Python client.

Why a script of its own rather than ``wsmq serve``: clients never address each other directly
(wsmq/1 routes client requests to server handlers), so to make RPC go TypeScript client → broker →
Python client and back, the broker needs one application handler, ``interop.relay``, that forwards
a request to a client by ID (``Broker.request_to_client``, the seed's ``RequestToClient``). The
broker and the Python client run in this process but talk over a real socket on 127.0.0.1.

Protocol with the test (stdout, one line each): the readiness line
``wsmq: listening on ws://HOST:PORT/PATH``, then ``interop: python client <ID>``. The script runs
until its stdin closes (the test closes it, or dies), then stops the client and the broker.

Python client behaviour:
- ``interop.py.add`` request ``{"a", "b"}`` → ``{"sum": a + b, "by": "python"}``;
  ``interop.py.fail`` → error ``PY_REFUSED``.
- event ``interop.chat.call_me`` ``{"clientId", "a", "b"}`` → asks that client ``interop.ts.mul``
  through the relay and publishes ``interop.result`` ``{"product": …}`` or ``{"error": code}``.
- any other ``interop.chat.>`` event → publishes ``interop.from_py``
  ``{"echo": body, "topic": topic, "source": sender ID}``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from websocketmq import Message, WsmqError, connect
from websocketmq.testing import run_broker

__all__ = ["main"]


async def main() -> None:
    """Serve until stdin closes."""
    async with run_broker(0) as running:
        broker = running.broker

        @broker.subscribe("interop.relay")
        async def relay(msg: Message, _caller: str | None) -> Any:
            body = msg.body
            return await broker.request_to_client(
                body["clientId"], body["topic"], body.get("body"), timeout=5.0
            )

        async with connect(running.url) as py:

            def add(msg: Message) -> Any:
                return {"sum": msg.body["a"] + msg.body["b"], "by": "python"}

            def fail(msg: Message) -> Any:
                raise WsmqError("PY_REFUSED", "python says no", {"topic": msg.topic})

            async def on_chat(msg: Message) -> None:
                if msg.topic == "interop.chat.call_me":
                    ask = {"a": msg.body["a"], "b": msg.body["b"]}
                    target = msg.body["clientId"]
                    relayed = {"clientId": target, "topic": "interop.ts.mul", "body": ask}
                    try:
                        product = await py.request("interop.relay", relayed, 10.0)
                        await py.publish("interop.result", {"product": product})
                    except WsmqError as exc:
                        await py.publish("interop.result", {"error": exc.code})
                else:
                    echo = {"echo": msg.body, "topic": msg.topic, "source": msg.source}
                    await py.publish("interop.from_py", echo)

            await py.subscribe("interop.py.add", add)
            await py.subscribe("interop.py.fail", fail)
            await py.subscribe("interop.chat.>", on_chat)
            print(f"wsmq: listening on {running.url}", flush=True)
            print(f"interop: python client {py.client_id}", flush=True)
            await asyncio.to_thread(sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
