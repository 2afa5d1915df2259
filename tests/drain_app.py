"""The application tests/test_drain.py serves with ``wsmq serve drain_app:broker`` (one node)
or ``wsmq serve drain_app:make_broker --nats URL`` (a node given the CLI's options): a handler
that announces that it runs, then sleeps as long as asked."""

from __future__ import annotations

import asyncio
from typing import Any

from websocketmq import Broker, BrokerOptions, Message

__all__ = ["broker", "make_broker"]


def _install(target: Broker) -> Broker:
    @target.subscribe("job.run")
    async def run(msg: Message, client_id: str | None) -> Any:
        await target.publish("job.started", msg.body)  # tells the test the handler is running
        await asyncio.sleep(msg.body["seconds"])
        return {"slept": msg.body["seconds"]}

    return target


def make_broker(options: BrokerOptions) -> Broker:
    """A broker with the options of the command line and the environment."""
    return _install(Broker(options))


broker = _install(Broker())
