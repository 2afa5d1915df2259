"""What the server under test offers, found out before any case runs.

A suite that judges servers it has never seen must not fail a case for the *tool* it uses
rather than the rule it tests.  The probe asks, once, on its own connections:

- which ``_client.register`` body is acknowledged: ``{}`` first (spec §6.2 item 1 says a
  broker treats any body alike), then one with a ``pageSessionID`` (the seed's Go broker
  acknowledges only that); cases then register with the body that worked, and the report says
  which one it was;
- whether ``_client.ping`` is answered (§9): the suite's usual barrier for negative checks;
- whether the conformance fixture (§14) is present: only a *positive* answer counts, a
  ``conformance.echo`` response carrying the body it was sent;
- whether ``_client.subscribe`` is answered (§7.1): pub/sub cases need it as a tool;
- whether a request nobody serves is answered at all (§8.5): the last-resort barrier.

When nothing but the registration is ever answered, the run uses a short answer timeout so
that a silent server is judged in bounded time (see ``conformance/README.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from .model import CaseFailed
from .peer import FrameLog, Peer

__all__ = ["Capabilities", "ServerUnreachable", "probe_server"]

PAGE_SESSION_BODY = {"pageSessionID": "wsmq-conformance"}


class ServerUnreachable(Exception):
    """The server under test could not be reached or does not speak wsmq/1 at all."""


@dataclass
class Capabilities:
    """The probe's findings; shared by every peer of the run (``None`` = not probed: every
    tool is assumed, as for the unit tests that build a Context by hand)."""

    register_body: dict[str, Any] = field(default_factory=dict)
    ping: bool = True
    subscribe: bool = True
    fixture: bool = True
    no_handler: bool = True
    answer_timeout: float = 5.0
    notes: list[str] = field(default_factory=list)

    @property
    def register_label(self) -> str:
        return "{}" if not self.register_body else "{pageSessionID}"

    def as_json(self) -> dict[str, Any]:
        return {
            "registerBody": self.register_body,
            "ping": self.ping,
            "subscribe": self.subscribe,
            "fixture": self.fixture,
            "noHandler": self.no_handler,
            "answerTimeout": self.answer_timeout,
            "notes": self.notes,
        }


async def _open(url: str, log: FrameLog, transcript: Any) -> Peer:
    try:
        return await Peer.open(url, name="probe", log=log, transcript=transcript)
    except Exception as exc:
        raise ServerUnreachable(f"cannot connect to {url}: {exc!r}") from exc


async def _answered(p: Peer, topic: str, body: Any, timeout: float) -> Any:
    """The answer envelope to one request, or None when none came within ``timeout``."""
    try:
        return await p.request(topic, body, timeout=timeout)
    except CaseFailed:
        return None


async def probe_server(
    url: str, log: FrameLog, *, timeout: float = 3.0, transcript: Any = None
) -> Capabilities:
    """Probe ``url``; raises ServerUnreachable when it cannot be reached or registered with."""
    caps = Capabilities()
    p = await _open(url, log, transcript)
    try:
        try:
            await p.register({}, timeout=timeout)
        except CaseFailed as first:
            await p.close()
            p = await _open(url, log, transcript)
            try:
                await p.register(dict(PAGE_SESSION_BODY), timeout=timeout)
            except CaseFailed as exc:
                raise ServerUnreachable(
                    f"{url} does not acknowledge registration: with {{}}: {first}; "
                    f"with a pageSessionID: {exc}"
                ) from exc
            caps.register_body = dict(PAGE_SESSION_BODY)
            caps.notes.append("register with {} is not acknowledged: cases send a pageSessionID")
        m = await _answered(p, "_client.ping", {}, timeout)
        caps.ping = m is not None and m.type == "response"
        m = await _answered(p, "conformance.echo", {"probe": [1, "x"]}, timeout)
        caps.fixture = m is not None and m.type == "response" and m.body == {"probe": [1, "x"]}
        if not caps.fixture:  # the echo came back unmatched (e.g. no correlationID): present,
            # and broken, which the fixture cases then report
            caps.fixture = any(x.body == {"probe": [1, "x"]} for x in p.inbox)
        topic = f"cfprobe.{uuid.uuid4().hex[:12]}"
        m = await _answered(p, "_client.subscribe", {"topic": topic}, timeout)
        caps.subscribe = m is not None and m.type == "response"
        if caps.subscribe:
            with contextlib.suppress(CaseFailed, asyncio.TimeoutError):
                await p.request("_client.unsubscribe", {"topic": topic}, timeout=timeout)
        m = await _answered(p, f"cfprobe.{uuid.uuid4().hex[:12]}.nobody", {}, timeout)
        caps.no_handler = m is not None
    finally:
        await p.close()
    for flag, what in (
        (caps.ping, "_client.ping is not answered: negative checks use another round trip"),
        (caps.subscribe, "_client.subscribe is not answered: pub/sub cases are UNIMPLEMENTED"),
        (caps.fixture, "no conformance fixture: fixture cases are UNIMPLEMENTED"),
    ):
        if not flag:
            caps.notes.append(what)
    if not (caps.ping or caps.fixture or caps.subscribe or caps.no_handler):
        caps.answer_timeout = 1.5
        caps.notes.append("no request was ever answered: answer timeout cut to 1.5 s")
    return caps
