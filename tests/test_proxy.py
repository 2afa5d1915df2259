"""Debian's nginx in front of a real broker, configured with the recipe of docs/deployment.md
("Behind a reverse proxy") as printed there (tests/nginx.py reads it from the page).

Through the proxy: the Python client works (request, pub/sub, the bundle); a browser's Origin
(the proxy's own origin) is accepted and a foreign one refused with 403; the recipe the page
had before (no ``Host``) refuses browsers, which is the bug the recipe fixes. With nginx in
``trusted_proxies`` the broker counts clients by the address nginx puts in X-Forwarded-For,
and a header a client sends itself changes nothing; without it every client is the proxy.
Clients have distinct addresses by connecting from 127.0.0.2, 127.0.0.3 (all loopback).
Last, headless Chromium loads a page from nginx that connects through it (tests/browser_page.mjs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from httpget import http_get
from nginx import Nginx, doc_recipe, run_nginx
from upgrade import upgrade, upgrade_status
from websocketmq import Message, connect
from websocketmq.testing import RunningBroker, run_broker

__all__: list[str] = []

OLD_RECIPE = """
upstream wsmq { server a:8080; server b:8080; server c:8080; }
server {
  listen 443 ssl;
  location /ws {
    proxy_pass http://wsmq;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_read_timeout 1h;
  }
}
"""
"""docs/deployment.md's recipe before issue 16: nginx then sends ``Host: wsmq``."""


@contextlib.asynccontextmanager
async def behind_nginx(
    tmp_path: Path, recipe: str | None = None, root: Path | None = None, **options: Any
) -> AsyncIterator[tuple[RunningBroker, Nginx]]:
    """A broker (with ``t.echo``) and nginx in front of it (serving ``root`` at ``/``)."""
    async with run_broker(port=0, **options) as live:
        live.broker.subscribe("t.echo", lambda msg, _: msg.body)
        async with run_nginx(live.port, tmp_path / "nginx", recipe=recipe, root=root) as proxy:
            yield live, proxy


async def test_python_client_through_nginx(tmp_path: Path) -> None:
    async with behind_nginx(tmp_path) as (_, proxy), connect(proxy.url()) as client:
        assert await client.request("t.echo", {"via": "nginx"}, 10) == {"via": "nginx"}
        got: asyncio.Queue[Any] = asyncio.Queue()

        async def on_news(msg: Message) -> None:
            await got.put(msg.body)

        async with connect(proxy.url()) as other:
            await other.subscribe("news.>", on_news)
            await client.publish("news.today", {"n": 1})
            assert await asyncio.wait_for(got.get(), 10) == {"n": 1}
        status, _, body = await http_get(proxy.port, "/websocketmq.js")
        assert status.split()[1] == "200", proxy.access_log
        assert body.startswith(b"/* websocketmq ")


async def test_browser_origin_accepted_foreign_origin_refused(tmp_path: Path) -> None:
    async with behind_nginx(tmp_path) as (_, proxy):
        own = f"http://127.0.0.1:{proxy.port}"  # a page nginx serves: same origin
        assert await upgrade_status(proxy.port, headers={"Origin": own}) == 101, proxy.access_log
        localhost = f"http://localhost:{proxy.port}"
        assert (
            await upgrade_status(
                proxy.port, headers={"Origin": localhost}, host=f"localhost:{proxy.port}"
            )
            == 101
        )
        evil = {"Origin": "https://evil.example"}
        assert await upgrade_status(proxy.port, headers=evil) == 403
        other_port = {"Origin": f"http://127.0.0.1:{proxy.port + 1}"}
        assert await upgrade_status(proxy.port, headers=other_port) == 403
        assert await upgrade_status(proxy.port) == 101  # no Origin: not a browser


async def test_the_old_recipe_refused_every_browser(tmp_path: Path) -> None:
    """Why the recipe passes ``Host``: without it nginx sends the upstream's name."""
    assert "proxy_set_header Host $http_host;" in doc_recipe()
    async with behind_nginx(tmp_path, recipe=OLD_RECIPE) as (_, proxy):
        own = f"http://127.0.0.1:{proxy.port}"
        assert await upgrade_status(proxy.port, headers={"Origin": own}) == 403


async def test_client_ip_from_x_forwarded_for_only_from_a_trusted_proxy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="websocketmq")
    options = {"max_connections_per_ip": 1, "trusted_proxies": ["127.0.0.1"]}
    async with behind_nginx(tmp_path, **options) as (live, proxy):
        first = await upgrade(proxy.port, source="127.0.0.2")
        second = await upgrade(proxy.port, source="127.0.0.3")
        try:
            assert (first.status, second.status) == (101, 101)  # two clients, not one proxy
            # the same client again, pretending to be someone else: nginx appends its real
            # address, the broker reads the rightmost untrusted one
            spoof = {"X-Forwarded-For": "198.51.100.7"}
            assert await upgrade_status(proxy.port, headers=spoof, source="127.0.0.2") == 429
            # straight to the broker, not through a trusted proxy: the header is ignored, the
            # peer is the client (127.0.0.2 holds its one slot; 127.0.0.4 is not 127.0.0.2)
            assert await upgrade_status(live.port, headers=spoof, source="127.0.0.2") == 429
            as_other = {"X-Forwarded-For": "127.0.0.2"}
            assert await upgrade_status(live.port, headers=as_other, source="127.0.0.4") == 101
        finally:
            await first.aclose()
            await second.aclose()
    assert "refused 127.0.0.2: more than 1 connections" in caplog.text


async def test_without_trust_every_client_is_the_proxy(tmp_path: Path) -> None:
    async with behind_nginx(tmp_path, max_connections_per_ip=1) as (_, proxy):
        first = await upgrade(proxy.port, source="127.0.0.2")
        try:
            assert first.status == 101
            assert await upgrade_status(proxy.port, source="127.0.0.3") == 429
        finally:
            await first.aclose()


ROOT = Path(__file__).resolve().parent.parent
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>wsmq through nginx</title>
<pre id="result"></pre>
<script src="/websocketmq.js"></script>
<script>
const done = (value) => {
  const el = document.getElementById('result');
  el.textContent = JSON.stringify(value);
  el.dataset.done = '1';
};
const client = new WebSocketMQ(`ws://${location.host}/ws`);
client.onOpen = async ({ clientId }) => {
  try {
    const echo = await client.request('t.echo', { from: 'chromium' }, 5000);
    done({ echo, clientId, origin: location.origin });
  } catch (error) {
    done({ error: String(error) });
  }
};
client.on('status', (status) => {
  if (status.state === 'closed') done({ error: `closed: ${JSON.stringify(status)}` });
});
client.connect();
</script>
"""


def _browser_tools() -> tuple[str, Path]:
    """node and the page driver; skips where they are missing, fails in CI."""
    node = shutil.which("node")
    chromium = Path(os.environ.get("WSMQ_CHROMIUM", "/usr/bin/chromium"))
    driver = ROOT / "typescript" / "node_modules" / "playwright-core"
    missing = [
        what
        for what, ok in (
            ("node (apt-get install nodejs)", node is not None),
            ("chromium (apt-get install chromium)", chromium.exists()),
            ("playwright-core (make node)", driver.exists()),
        )
        if not ok
    ]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"missing {', '.join(missing)} (required in CI)")
        pytest.skip(f"needs {', '.join(missing)}")
    assert node is not None
    return node, ROOT / "tests" / "browser_page.mjs"


@pytest.mark.browser
async def test_headless_chromium_through_nginx(tmp_path: Path) -> None:
    node, driver = _browser_tools()
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text(PAGE)
    async with behind_nginx(tmp_path, root=www) as (_, proxy):
        proc = await asyncio.create_subprocess_exec(
            node,
            str(driver),
            f"http://127.0.0.1:{proxy.port}/",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(120):
                out, err = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, (err.decode(), proxy.access_log)
        report = json.loads(out.decode().strip().splitlines()[-1])
        assert report["errors"] == []
        result = json.loads(report["result"])
        assert "error" not in result, (result, proxy.access_log)
        assert result["echo"] == {"from": "chromium"}
        assert result["origin"] == f"http://127.0.0.1:{proxy.port}"
        assert result["clientId"]
        assert 'GET /ws HTTP/1.1" 101' in proxy.access_log  # the upgrade went through nginx
