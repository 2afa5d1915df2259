"""The seed's demo, in Python: what ``wsmq serve --demo`` (``make demo``) runs.

- ``example.echo`` answers with the request's body;
- ``time.now`` answers ``{"CurrentTime": "<RFC 3339>"}`` (the seed's ``TimeResp``);
- every 5 s the server sends the request ``server.ping`` (``{"timestamp", "message"}``) to every
  registered client and logs each reply — the seed's "track connected clients" example,
  written as the seed writes it: two handlers on the registration events and a loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from .broker import TOPIC_CLIENT_DEREGISTERED, TOPIC_CLIENT_REGISTERED, Broker
from .errors import WsmqError
from .protocol.envelope import Message

__all__ = ["install_demo"]

log = logging.getLogger("websocketmq.demo")


def install_demo(broker: Broker, ping_every: float = 5.0) -> asyncio.Task[None]:
    """Register the demo handlers on ``broker`` and start the ping loop (returns its task;
    cancel it to stop). Must be called with a running event loop."""
    connected: set[str] = set()

    @broker.subscribe(TOPIC_CLIENT_REGISTERED)
    def on_registered(msg: Message, _: str | None) -> None:
        client_id = msg.body["brokerClientID"]
        log.info("Client registered: %s", client_id)
        connected.add(client_id)

    @broker.subscribe(TOPIC_CLIENT_DEREGISTERED)
    def on_deregistered(msg: Message, _: str | None) -> None:
        client_id = msg.body["brokerClientID"]
        log.info("Client deregistered: %s", client_id)
        connected.discard(client_id)

    @broker.subscribe("example.echo")
    def echo(msg: Message, client_id: str | None) -> Any:
        log.info("example.echo from %s: %s", client_id, msg.body)
        return msg.body

    @broker.subscribe("time.now")
    def time_now(msg: Message, client_id: str | None) -> dict[str, str]:
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        log.info("time.now from %s -> %s", client_id, now)
        return {"CurrentTime": now}

    async def ping(client_id: str) -> None:
        body = {"timestamp": int(time.time()), "message": "Ping from server"}
        try:
            reply = await broker.request_to_client(client_id, "server.ping", body, timeout=5.0)
        except WsmqError as exc:
            log.error("Failed to send ping to client %s: %s", client_id, exc)
            return
        log.info("Received ping response from client %s: %s", client_id, reply)

    async def ping_loop() -> None:
        tasks: set[asyncio.Task[None]] = set()
        while True:
            await asyncio.sleep(ping_every)
            for client_id in list(connected):
                task = asyncio.create_task(ping(client_id))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    return asyncio.get_running_loop().create_task(ping_loop())
