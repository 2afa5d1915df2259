"""A raw wsmq/1 peer and a ``wsmq serve`` launcher for the security, fault and load tests.

The security tests must send what no well-behaved client library would (binary frames, broken
JSON, spoofed correlation IDs, floods), and the load test must not measure our own client's
bookkeeping, so both talk to the broker through this thin layer over ``websockets``: frames in,
frames out, nothing answered automatically.

:func:`spawn_broker` starts ``wsmq serve`` as a child process on a free port and waits for its
readiness line (design §8) — never a sleep — and always stops it (wsmq_conformance.spawn).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from wsmq_conformance.spawn import spawned_process

__all__ = ["BrokerProcess", "RawPeer", "envelope", "error_code", "spawn_broker"]

TIMEOUT = float(os.environ.get("WSMQ_TEST_TIMEOUT_FACTOR", "1")) * 10
_ids = itertools.count(1)


def envelope(
    kind: str, topic: str, body: Any = None, *, corr: str | None = None, **header: Any
) -> dict[str, Any]:
    """A wsmq/1 envelope as a dict; requests get a fresh correlation ID unless one is given."""
    mid = f"raw-{next(_ids)}"
    head: dict[str, Any] = {"messageID": mid, "type": kind, "topic": topic, "timestamp": 0}
    if kind == "request":
        head["correlationID"] = corr or mid
    elif corr is not None:
        head["correlationID"] = corr
    head.update(header)
    return {"header": head, "body": body}


@dataclass
class RawPeer:
    """One WebSocket connection speaking raw wsmq/1; received frames queue up in order."""

    ws: ClientConnection
    client_id: str = ""
    resume_token: str = ""
    inbox: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def connect(cls, url: str, *, register: bool = True, **kwargs: Any) -> RawPeer:
        """Open a connection (``kwargs`` go to ``websockets.connect``) and register it."""
        kwargs.setdefault("open_timeout", TIMEOUT)
        kwargs.setdefault("ping_interval", None)
        ws = await connect(url, **kwargs)
        peer = cls(ws)
        if register:
            await peer.register()
        return peer

    async def register(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send ``_client.register`` and return the ack body (client ID, resume token…)."""
        await self.send(envelope("event", "_client.register", body or {}))
        ack = await self.expect(lambda m: m["header"]["topic"] == "_internal.client.registered")
        self.client_id = ack["body"]["brokerClientID"]
        self.resume_token = ack["body"]["resumeToken"]
        body_out: dict[str, Any] = ack["body"]
        return body_out

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        """Send a dict as JSON text, a str as a text frame, bytes as a binary frame."""
        await self.ws.send(json.dumps(frame) if isinstance(frame, dict) else frame)

    async def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next frame (queued first), decoded; raises TimeoutError or ConnectionClosed."""
        if self.inbox:
            return self.inbox.pop(0)
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    async def expect(self, pred: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The first frame matching ``pred``; frames that do not match stay queued in order."""
        for i, msg in enumerate(self.inbox):
            if pred(msg):
                return self.inbox.pop(i)
        async with asyncio.timeout(timeout):
            while True:
                msg = json.loads(await self.ws.recv())
                if pred(msg):
                    return msg
                self.inbox.append(msg)

    async def answer_to(self, corr: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The response or error whose correlationID is ``corr``."""
        return await self.expect(
            lambda m: (
                m["header"].get("correlationID") == corr
                and m["header"]["type"] in ("response", "error")
            ),
            timeout,
        )

    async def request(
        self, topic: str, body: Any = None, timeout: float = TIMEOUT, **header: Any
    ) -> dict[str, Any]:
        """Send a request and return its answer envelope (response or error)."""
        env = envelope("request", topic, body, **header)
        await self.send(env)
        return await self.answer_to(env["header"]["correlationID"], timeout)

    async def subscribe(self, pattern: str, **extra: Any) -> dict[str, Any]:
        """``_client.subscribe`` and return the answer (asserting nothing)."""
        return await self.request("_client.subscribe", {"topic": pattern, **extra})

    async def closed(self, timeout: float = TIMEOUT) -> int | None:
        """Read until the broker closes the connection; return its close code."""
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(timeout):
                while True:
                    self.inbox.append(json.loads(await self.ws.recv()))
        rcvd = self.ws.protocol.close_rcvd
        return rcvd.code if rcvd is not None else None

    async def aclose(self) -> None:
        """Close our side (bounded)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), TIMEOUT)


def error_code(msg: dict[str, Any]) -> str | None:
    """The error code of an error envelope, else None."""
    if msg["header"]["type"] != "error":
        return None
    body = msg.get("body") or {}
    err = body.get("error") if isinstance(body, dict) else None
    return err.get("code") if isinstance(err, dict) else None


@dataclass
class BrokerProcess:
    """A running ``wsmq serve`` child: its URL and process (for pid, memory, signals)."""

    url: str
    proc: asyncio.subprocess.Process

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return int(self.url.split(":")[2].split("/")[0])


@contextlib.asynccontextmanager
async def spawn_broker(*args: str, timeout: float = 30.0) -> AsyncIterator[BrokerProcess]:
    """Run ``wsmq serve --host 127.0.0.1 --port 0 *args``; yield once it prints its URL.

    The conformance suite's spawned_process does the work (readiness line, pipes drained,
    SIGTERM then kill on exit): one implementation of "start a server, wait until it is ready".
    """
    cmd = (sys.executable, "-m", "websocketmq", "serve", "--host", "127.0.0.1", "--port", "0")
    async with spawned_process((*cmd, *args), ready_timeout=timeout) as spawned:
        yield BrokerProcess(spawned.url, spawned.process)
