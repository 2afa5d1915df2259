"""The browser bundle and demo page ship inside the Python package and the server serves them.

Why: ``pip install websocketmq`` must give a working ``/websocketmq.js`` and demo page without
Node. The bundle is built from ``typescript/`` and committed; ``make bundle-check`` (run by
``make test``) catches a stale copy, these tests catch a missing or unserved one.
"""

from __future__ import annotations

from importlib import resources

from httpget import http_get
from websocketmq.testing import run_broker

__all__: list[str] = []


def _resource(name: str) -> bytes:
    return (resources.files("websocketmq") / "static" / name).read_bytes()


def test_bundle_and_page_are_package_resources() -> None:
    bundle = _resource("websocketmq.js").decode()
    assert bundle.startswith("/* websocketmq ")
    assert "globalThis.WebSocketMQ = WebSocketMQ" in bundle
    page = _resource("index.html").decode()
    assert '<script src="/websocketmq.js"></script>' in page
    assert "new WebSocketMQ(" in page


async def test_server_serves_the_bundle_and_the_demo_page_only_when_asked() -> None:
    async with run_broker(port=0) as live:
        status, headers, body = await http_get(live.port, "/websocketmq.js")
        assert status.split()[1] == "200"
        assert headers["content-type"].startswith("text/javascript")
        assert body == _resource("websocketmq.js")
        for path in ("/", "/index.html"):  # an application's root is its own
            status, _, _ = await http_get(live.port, path)
            assert status.split()[1] == "404"
    async with run_broker(port=0, demo=True) as live:
        status, headers, body = await http_get(live.port, "/")
        assert status.split()[1] == "200"
        assert headers["content-type"].startswith("text/html")
        assert body == _resource("index.html")
