"""The aiohttp adapter (websocketmq.aiohttp) under aiohttp's runner on 127.0.0.1
(docs/integration.md): an HTTP route beside the socket, the Python client, ``/readyz`` and
``/websocketmq.js``, the broker joined to the app's
startup and shutdown, and the conformance suite against the mounted broker. The guards are
tested on every transport in tests/test_guards.py, the final frame before 4029 in
tests/test_asgi.py."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from httpget import http_get
from mounts import aiohttp_app
from websocketmq import Broker, connect
from websocketmq.endpoints import static_file
from websocketmq.fixture import install_fixture
from wsmq_conformance import RunConfig, Verdict, run_suite

__all__: list[str] = []


async def test_routes_client_and_lifecycle() -> None:
    broker = Broker()

    @broker.subscribe("t.echo")
    def echo(msg: Any, client_id: str | None) -> Any:
        return msg.body

    async with aiohttp_app(broker) as port:
        status, _, body = await http_get(port, "/hello")  # the app's own route
        assert (status.split()[1], body) == ("200", b"hello")
        status, _, body = await http_get(port, "/readyz")  # started with the app
        assert (status.split()[1], body) == ("200", b"ready\n")
        status, headers, body = await http_get(port, "/websocketmq.js")
        assert headers["content-type"].startswith("text/javascript")
        assert body == static_file("websocketmq.js")
        status, _, _ = await http_get(port, "/ws")  # a GET that is no upgrade
        assert status.split()[1] == "426"
        async with await connect(f"ws://127.0.0.1:{port}/ws", auto_reconnect=False) as client:
            assert await client.request("t.echo", {"a": [1, 2]}) == {"a": [1, 2]}
    assert broker.closing  # the app's shutdown closed it


@pytest.mark.timeout(300)
async def test_conformance_suite_passes_against_the_aiohttp_mounted_broker() -> None:
    broker = Broker()
    install_fixture(broker)
    async with aiohttp_app(broker) as port:
        config = RunConfig(url=f"ws://127.0.0.1:{port}/ws", profile="full", examples=25)
        report = await run_suite(config)
    assert report.fixture is True
    bad = [r.id for r in report.results if r.verdict not in (Verdict.OK, Verdict.INFORMATIONAL)]
    assert not bad, report.text_summary()


@pytest.mark.parametrize(
    ("blocked", "code", "extra"),
    [
        ("aiohttp", "import websocketmq.aiohttp", "websocketmq[aiohttp]"),
        (
            "starlette",
            "from websocketmq import Broker\nfrom websocketmq.asgi import WsmqASGI\n"
            "WsmqASGI(Broker()).routes()",
            "websocketmq[asgi]",
        ),
    ],
)
def test_a_missing_extra_is_named_in_one_line(blocked: str, code: str, extra: str) -> None:
    """Without the extra installed (simulated: the import is blocked), the error names it."""
    script = f"import sys\nsys.modules[{blocked!r}] = None\n{code}\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ") and f"pip install '{extra}'" in last, last
