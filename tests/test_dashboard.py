"""The live dashboard (``websocketmq.dashboard``, docs/operations.md "Dashboard") driven by the
Python client as its viewer, over a real broker on 127.0.0.1: ``GET /dashboard`` hands out a
ticket, a client registering with ``pageSessionID`` ``dashboard-<ticket>`` receives the stats as
a server→client request once a second, and nobody else does (a client without a valid ticket,
and the viewer once it has gone). The browser page itself is tested in headless Chromium
(``typescript/test/dashboard.test.mjs``)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from httpget import http_get
from websocketmq import Message, connect
from websocketmq.dashboard import TOPIC
from websocketmq.observe import SERVER_TO_CLIENT
from websocketmq.testing import run_broker

__all__: list[str] = []


async def _ticket(port: int) -> str:
    status, headers, body = await http_get(port, "/dashboard")
    assert status.endswith("200 OK"), status
    assert headers["content-type"].startswith("text/html")
    found = re.search(r"const TICKET = '([A-Za-z0-9_-]+)';", body.decode())
    assert found is not None
    return found.group(1)


async def test_a_viewer_with_a_ticket_gets_the_stats_once_a_second_and_others_do_not() -> None:
    async with run_broker(dashboard=True) as live:
        live.broker.dashboard.interval = 0.2  # type: ignore[union-attr]
        port = live.port
        ticket = await _ticket(port)
        got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        stranger_got: list[Any] = []

        def on_stats(msg: Message) -> str:
            got.put_nowait(msg.body)
            return "ok"

        def stranger(msg: Message) -> str:
            stranger_got.append(msg.body)
            return "ok"

        other = await connect(live.url, page_session_id="dashboard-forged-ticket")
        await other.subscribe(TOPIC, stranger)
        viewer = await connect(live.url, page_session_id=f"dashboard-{ticket}")
        try:
            await viewer.subscribe(TOPIC, on_stats)
            await viewer.subscribe("app.things", lambda _m: None)
            await viewer.request("_client.ping", None, 5)
            first = await asyncio.wait_for(got.get(), 10)
            second = await asyncio.wait_for(got.get(), 10)
            assert second["time"] >= first["time"]
            assert first["ready"] is True and first["draining"] is False
            assert first["clientCount"] == 2
            ids = {c["id"]: c for c in first["clients"]}
            assert ids[viewer.client_id]["viewer"] is True
            assert ids[other.client_id]["viewer"] is False
            patterns = {p["pattern"]: p["subscribers"] for p in second["patterns"]}
            assert patterns[TOPIC] == 2 and patterns["app.things"] == 1
            # three subscribes and a ping, each answered; the first push was a s2c request
            assert second["received"]["request"] == 4 and second["sent"]["response"] == 4
            assert second["requests"][SERVER_TO_CLIENT] >= 1
            assert set(first) >= {"uptime", "backend", "received", "sent", "errors", "closes"}
            assert stranger_got == []  # a forged ticket is not a viewer
        finally:
            await viewer.close()
            await other.close()
        dash = live.broker.dashboard
        assert dash is not None
        for _ in range(50):  # the viewer's deregistration removes it
            if not dash.viewers:
                break
            await asyncio.sleep(0.05)
        assert dash.viewers == set()


async def test_dashboard_is_not_served_when_off() -> None:
    async with run_broker() as live:
        status, _headers, _body = await http_get(live.port, "/dashboard")
        assert " 404 " in status, status
