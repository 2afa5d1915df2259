"""``wsmq serve [APP]`` and the CLI's errors, through the real command in a subprocess
(docs/operations.md, "Configuration" and "Errors at start-up").

What is checked: a user's ``module:broker`` (or a factory taking the options) runs its handlers;
without ``APP`` or ``--demo`` the broker is bare (client-to-client pub/sub only, no demo
page) and the startup line says so; ``--version`` everywhere is the one version of
pyproject.toml; every mistake an operator can fix is one line on stderr, no traceback,
exit status 2.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest
import websocketmq
from httpget import http_get
from websocketmq import Message, connect
from websocketmq.testing import spawn_broker

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

APP = """
import asyncio
from websocketmq import Broker, BrokerOptions

broker = Broker()


@broker.subscribe("app.greet")
def greet(msg, client_id):
    return {"hello": msg.body["name"]}


def make_broker(options: BrokerOptions) -> Broker:
    made = Broker(options)
    made.subscribe("app.options", lambda msg, _: {
        "message_rate": made.options.message_rate,
        "max_ttl": made.options.max_ttl,
        "message_burst": made.options.message_burst,
        "allowed_origins": made.options.allowed_origins,
    })
    return made


async def make_async():
    made = Broker()
    made.subscribe("app.async", lambda msg, _: "async factory")
    return made


def make_nothing():
    return 42


VALUE = 3
"""


def write_app(directory: Path, source: str = APP, name: str = "myapp") -> Path:
    """A user's application module in ``directory`` (the current directory of the command)."""
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def run_wsmq(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """``python -m websocketmq ARGS`` to completion (bounded): its exit status and output."""
    return subprocess.run(
        [sys.executable, "-m", "websocketmq", *args],
        cwd=cwd,
        env={**_base_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("WSMQ_")}


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit status 2, stderr a single ``wsmq: …`` line containing every fragment."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("wsmq: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# -- versions ---------------------------------------------------------------------------------


def test_version_is_the_one_in_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert websocketmq.__version__ == declared
    for cmd in (
        [str(BIN / "wsmq"), "--version"],
        [str(BIN / "wsmq"), "serve", "--version"],
        [str(BIN / "wsmq"), "conformance", "--version"],
        [str(BIN / "wsmq"), "codegen", "--version"],
        [str(BIN / "wsmq-conformance"), "--version"],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, (cmd, done.stderr)
        assert done.stdout.split()[-1] == declared, (cmd, done.stdout)


# -- APP --------------------------------------------------------------------------------------


async def test_serve_app_runs_the_users_handlers(tmp_path: Path) -> None:
    write_app(tmp_path)
    log = tmp_path / "stderr.log"
    async with spawn_broker("myapp:broker", cwd=tmp_path, stderr=log) as spawned:
        async with connect(spawned.url) as client:
            assert await client.request("app.greet", {"name": "Ada"}, 10) == {"hello": "Ada"}
        status, _, _ = await http_get(spawned.port, "/")
        assert status.split()[1] == "404"  # an application's root is its own: no demo page
    assert "serving myapp:broker (1 server handler)" in log.read_text()


async def test_serve_factory_gets_the_options_cli_over_env_over_defaults(tmp_path: Path) -> None:
    write_app(tmp_path)
    env = {"WSMQ_MESSAGE_RATE": "7", "WSMQ_MAX_TTL": "50", "WSMQ_ALLOWED_ORIGINS": "*"}
    args = ("myapp:make_broker", "--message-rate", "9")
    async with (
        spawn_broker(*args, cwd=tmp_path, env=env) as spawned,
        connect(spawned.url) as client,
    ):
        got = await client.request("app.options", None, 10)
    assert got == {
        "message_rate": 9.0,  # command line wins over WSMQ_MESSAGE_RATE
        "max_ttl": 50.0,  # from the environment
        "message_burst": 400.0,  # the documented default
        "allowed_origins": ["*"],
    }


async def test_serve_async_factory(tmp_path: Path) -> None:
    write_app(tmp_path)
    async with (
        spawn_broker("myapp:make_async", cwd=tmp_path) as spawned,
        connect(spawned.url) as client,
    ):
        assert await client.request("app.async", None, 10) == "async factory"


async def test_bare_broker_is_client_to_client_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    async with spawn_broker(stderr=log) as spawned:
        async with connect(spawned.url) as alice, connect(spawned.url) as bob:
            got: asyncio.Queue[Any] = asyncio.Queue()

            async def on_chat(msg: Message) -> None:
                await got.put(msg.body)

            await bob.subscribe("chat.room", on_chat)
            await alice.publish("chat.room", {"text": "hi"})
            assert await asyncio.wait_for(got.get(), 10) == {"text": "hi"}
            with pytest.raises(websocketmq.NoHandler):
                await alice.request("example.echo", {}, 10)  # the demo is not installed
        status, _, _ = await http_get(spawned.port, "/")
        assert status.split()[1] == "404"
        status, _, _ = await http_get(spawned.port, "/websocketmq.js")
        assert status.split()[1] == "200"
    assert "serving a bare broker" in log.read_text()


async def test_demo_only_when_asked(tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    async with spawn_broker("--demo", stderr=log) as spawned:
        status, headers, _ = await http_get(spawned.port, "/")
        assert status.split()[1] == "200" and headers["content-type"].startswith("text/html")
        async with connect(spawned.url) as client:
            assert await client.request("example.echo", [1], 10) == [1]
    assert "serving the demo" in log.read_text()


# -- errors a person can act on ---------------------------------------------------------------


def test_app_that_cannot_be_imported(tmp_path: Path) -> None:
    assert_one_line_error(
        run_wsmq("serve", "nosuchapp:broker", cwd=tmp_path), "cannot import 'nosuchapp'"
    )
    write_app(tmp_path)
    assert_one_line_error(
        run_wsmq("serve", "myapp:nosuch", cwd=tmp_path), "has no attribute 'nosuch'"
    )
    assert_one_line_error(run_wsmq("serve", "myapp", cwd=tmp_path), "package.module:attribute")
    write_app(tmp_path, "import nosuchdependency\n", name="broken")
    assert_one_line_error(
        run_wsmq("serve", "broken:broker", cwd=tmp_path),
        "importing 'broken' failed",
        "ModuleNotFoundError",
    )
    write_app(tmp_path, "x = 1\nraise RuntimeError('boom')\n", name="raising")
    assert_one_line_error(
        run_wsmq("serve", "raising:broker", cwd=tmp_path), "RuntimeError: boom", "raising.py:2"
    )


def test_app_that_is_not_a_broker(tmp_path: Path) -> None:
    write_app(tmp_path)
    assert_one_line_error(run_wsmq("serve", "myapp:VALUE", cwd=tmp_path), "is a int, not a Broker")
    assert_one_line_error(
        run_wsmq("serve", "myapp:make_nothing", cwd=tmp_path), "returned a int, not a Broker"
    )
    assert_one_line_error(
        run_wsmq("serve", "myapp:broker", "--message-rate", "5", cwd=tmp_path),
        "built with its own options",
        "--message-rate",
    )


def test_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_wsmq("serve", "--port", str(port))
    assert_one_line_error(done, f"127.0.0.1:{port}", "in use")


def test_unknown_log_level_and_format() -> None:
    assert_one_line_error(run_wsmq("serve", "--log-level", "LOUD"), "unknown level 'LOUD'")
    assert_one_line_error(run_wsmq("serve", "--log-format", "xml"), "--log-format")


def test_unresolvable_host() -> None:
    # names the resolver refuses itself (checked with strace: no DNS query leaves the machine):
    # a space (getaddrinfo: EAI_NONAME) and an empty label (Python's idna codec)
    for host in ("no such host", "bad..host"):
        assert_one_line_error(run_wsmq("serve", "--host", host), "cannot resolve", repr(host))


def test_bad_option_values_name_their_source() -> None:
    assert_one_line_error(run_wsmq("serve", "--message-rate", "fast"), "--message-rate", "'fast'")
    done = run_wsmq("serve", env={"WSMQ_MAX_MESSAGE_SIZE": "big"})
    assert_one_line_error(done, "WSMQ_MAX_MESSAGE_SIZE", "integer")
    assert_one_line_error(run_wsmq("serve", "--port", "http"), "--port")


def test_missing_nats_py() -> None:
    """nats-py made unimportable in the child (``sys.modules['nats'] = None``), then the real
    ``wsmq`` entry point."""
    code = (
        "import sys; sys.modules['nats'] = None; from websocketmq.cli import main; "
        "sys.exit(main(['serve', '--port', '0', '--nats', 'nats://127.0.0.1:4222']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=_base_env(),
    )
    assert_one_line_error(done, "nats-py", "pip install 'websocketmq[nats]'")


def test_nats_unreachable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run_wsmq(
        "serve",
        "--port",
        "0",
        "--nats",
        f"nats://127.0.0.1:{port}",
        "--log-level",
        "ERROR",
        timeout=60,
    )
    assert_one_line_error(done, "cannot connect to NATS", f"127.0.0.1:{port}")
