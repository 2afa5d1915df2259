"""The ASGI adapter (websocketmq.asgi) under a real uvicorn on 127.0.0.1 (docs/integration.md):
the FastAPI app of tests/fastapi_app.py with its cookie login and HTTP routes beside the socket,
reached by the Python client and by headless Chromium on a page the app serves; the broker's
lifespan, ``/readyz``, ``/metrics`` and ``/websocketmq.js``; the final frames the broker
supplies on the transport seam; and the conformance suite against the mounted broker.
The guards are tested on every transport in tests/test_guards.py."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi_app import create_app
from httpget import http_get
from mounts import mounted, plain_asgi_app, uvicorn_app
from rawpeer import RawPeer, envelope, error_code
from upgrade import client_frame, upgrade, upgrade_status
from websocketmq import Broker, BrokerOptions, connect
from websocketmq.asgi import WsmqASGI
from websocketmq.endpoints import static_file
from websocketmq.fixture import install_fixture
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus
from wsmq_conformance import RunConfig, Verdict, run_suite

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("WSMQ_CHROMIUM", "/usr/bin/chromium")


async def _login(port: int, user: str) -> str:
    status, headers, _ = await http_get(port, f"/login?user={user}")
    assert status.split()[1] == "303", status
    cookie = headers["set-cookie"].split(";", 1)[0]
    assert cookie.startswith("session=")
    return cookie


async def test_fastapi_cookie_login_becomes_the_identity() -> None:
    app, broker = create_app()
    async with uvicorn_app(app) as port:
        url = f"ws://127.0.0.1:{port}/ws"
        # the app's own HTTP route, beside the socket
        status, _, body = await http_get(port, "/api/clients")
        assert status.endswith("200 OK") and json.loads(body) == {"connected": 0}
        with pytest.raises(InvalidStatus) as refused:  # no login, no WebSocket
            await ws_connect(url, open_timeout=10)
        assert refused.value.response.status_code == 401
        cookie = await _login(port, "alice")
        headers = {"additional_headers": {"Cookie": cookie}}
        async with await connect(url, ws_options=headers, auto_reconnect=False) as client:
            assert await client.request("app.whoami", None) == {"user": "alice"}
            status, _, body = await http_get(port, "/api/clients")
            assert json.loads(body) == {"connected": 1}
        # a cross-origin page with the victim's cookie is refused (docs/security.md §3)
        evil = {"Cookie": cookie, "Origin": "https://evil.example"}
        assert await upgrade_status(port, "/ws", evil) == 403
        assert await upgrade_status(port, "/ws", {"Cookie": cookie}) == 101
    assert broker.closing  # the app's lifespan closed it


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if shutil.which("node") is None:
        return "no node (apt-get install nodejs)"
    if not (ROOT / "typescript" / "node_modules" / "playwright-core").exists():
        return "no playwright-core (make node)"
    return None


async def test_fastapi_page_in_chromium_logs_in_by_cookie() -> None:
    missing = _browser_missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}: required in CI")
        pytest.skip(missing)
    app, _broker = create_app()
    async with uvicorn_app(app) as port:
        # the login route sets the cookie and redirects to the page, which loads the client
        # from /websocketmq.js and connects to /ws: same origin, the cookie rides along
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(ROOT / "tests" / "browser_page.mjs"),
            f"http://127.0.0.1:{port}/login?user=bob",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(100):
                out, err = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, err.decode()
    seen = json.loads(out.decode().strip().splitlines()[-1])
    assert seen == {"result": '{"user":"bob"}', "errors": []}


async def test_probes_and_the_client_bundle_beside_another_app() -> None:
    broker = Broker(BrokerOptions(metrics=True))
    app = WsmqASGI(broker, other_asgi_app=plain_asgi_app, path="/ws")
    async with uvicorn_app(app) as port:
        # the lifespan started the broker before any connection: ready
        status, _, body = await http_get(port, "/readyz")
        assert (status.split()[1], body) == ("200", b"ready\n")
        status, headers, body = await http_get(port, "/websocketmq.js")
        assert status.endswith("200 OK")
        assert headers["content-type"].startswith("text/javascript")
        assert body == static_file("websocketmq.js")
        status, _, body = await http_get(port, "/hello")  # the other app
        assert (status.split()[1], body) == ("200", b"hello")
        status, _, _ = await http_get(port, "/elsewhere")
        assert status.split()[1] == "404"
        async with await connect(f"ws://127.0.0.1:{port}/ws", auto_reconnect=False) as client:
            await client.request("_client.ping", None)
            status, headers, body = await http_get(port, "/metrics")
            assert status.endswith("200 OK") and headers["content-type"].startswith("text/plain")
            assert b'wsmq_connections{state="registered"} 1.0' in body, body[:400]
        await broker.close()
        status, _, body = await http_get(port, "/readyz")
        assert (status.split()[1], body) == ("503", b"shutting down\n")


@pytest.mark.parametrize("transport", ["asgi", "aiohttp"])
async def test_the_broker_supplies_the_final_frame_before_4029(transport: str) -> None:
    """The transport seam: the session's RATE_LIMITED goes out before the 4029 close."""
    async with mounted(transport, error_budget=3, error_window=60) as m:
        url = m.url
        peer = await RawPeer.connect(url)
        for i in range(10):
            await peer.send(f"garbage {i}")
        assert await peer.closed() == 4029
        codes = [error_code(m) for m in peer.inbox]
        assert codes.count("BAD_MESSAGE") == 3 + 1 and codes[-1] == "RATE_LIMITED", codes
        bystander = await RawPeer.connect(url)  # the others are still served
        await bystander.send(envelope("request", "_client.ping", None, corr="p1"))
        assert error_code(await bystander.answer_to("p1")) is None
        await bystander.aclose()


async def test_a_slow_consumer_is_closed_4008_and_the_publisher_goes_on() -> None:
    broker = Broker(BrokerOptions(send_queue_size=8, message_rate=0))
    async with uvicorn_app(WsmqASGI(broker)) as port:
        url = f"ws://127.0.0.1:{port}/ws"
        # a raw socket that never reads after its upgrade: its TCP window fills, then the queue
        slow = await upgrade(port, "/ws", rcvbuf=16384)
        assert slow.status == 101
        for env in (
            envelope("event", "_client.register", {}),
            envelope("request", "_client.subscribe", {"topic": "big.x"}),
        ):
            slow.writer.write(client_frame(json.dumps(env)))
        async with asyncio.timeout(10):
            while not broker.registry.subscribers("big.x"):  # noqa: ASYNC110 - no event for it
                await asyncio.sleep(0.01)
        transport = broker.registry.subscribers("big.x")[0].transport
        publisher = await RawPeer.connect(url)
        blob = "x" * 60_000
        async with asyncio.timeout(60):
            i = 0
            while transport.closing is None:  # type: ignore[attr-defined]  # until 4008
                await publisher.send(envelope("event", "big.x", {"i": i, "blob": blob}))
                i += 1
                if i % 20 == 0:  # the publisher is never slowed down to the subscriber's pace
                    await publisher.send(envelope("request", "_client.ping", None, corr=f"p{i}"))
                    assert error_code(await publisher.answer_to(f"p{i}")) is None
            assert transport.closing == (4008, "slow consumer")  # type: ignore[attr-defined]
            # it reads again now: what was buffered, the broker's final frame, the close
            rest = await slow.reader.read()  # until the server closes the TCP connection
        await slow.aclose()
        assert i < 2000
        # written past the dropped queue (docs/security.md §4), then the close frame: 4008
        assert b'"reason":"slow-consumer"' in rest[-2000:], rest[-300:]
        assert b"\x88" + bytes([2 + len(b"slow consumer")]) + (4008).to_bytes(2, "big") in rest
        await publisher.send(envelope("request", "_client.ping", None, corr="after"))
        assert error_code(await publisher.answer_to("after")) is None
        await publisher.aclose()


def _failures(report: Any) -> list[str]:
    return [
        f"{r.id} {r.verdict.name}"
        for r in report.results
        if r.verdict not in (Verdict.OK, Verdict.INFORMATIONAL)
    ]


@pytest.mark.timeout(300)
async def test_conformance_suite_passes_against_the_asgi_mounted_broker() -> None:
    """The suite's full profile against the broker mounted in a Starlette app under uvicorn
    (fixture of spec §14 installed, as ``wsmq serve --conformance`` does)."""
    from starlette.applications import Starlette

    broker = Broker()
    install_fixture(broker)
    wsmq = WsmqASGI(broker, path="/ws")
    app = Starlette(routes=wsmq.routes(), lifespan=wsmq.lifespan)
    async with uvicorn_app(app, ws_max_size=4 * broker.options.max_message_size) as port:
        config = RunConfig(url=f"ws://127.0.0.1:{port}/ws", profile="full", examples=25)
        report = await run_suite(config)
    assert report.fixture is True
    assert not _failures(report), report.text_summary()
    assert report.exit_code() == 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
