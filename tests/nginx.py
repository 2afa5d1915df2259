"""Debian's ``nginx`` in front of a broker, started by a test on a free 127.0.0.1 port.

The configuration is the recipe of docs/deployment.md ("Behind a reverse proxy"), read from
the page, with the upstream and ``listen`` lines pointed at the test's broker and port and the
TLS lines dropped, so the documented recipe is the tested one. Everything nginx writes (pid,
error and access logs, temp files) stays in the test's temporary directory; it runs in the
foreground (``daemon off``), is waited for by connecting to its port, and is stopped (SIGTERM,
then SIGKILL) when the block exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["DOC_RECIPE", "Nginx", "doc_recipe", "nginx_binary", "run_nginx"]

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "deployment.md"
DOC_RECIPE = "nginx recipe"
"""The HTML comment that precedes the recipe's code block in docs/deployment.md."""


def nginx_binary() -> str:
    """The nginx executable; skips the test where it is missing, fails in CI."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if found is None:
        message = "nginx is not installed: apt-get install nginx"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (required in CI)")
        pytest.skip(message)
    return found


def doc_recipe() -> str:
    """The nginx block of docs/deployment.md, as published."""
    text = DOC.read_text()
    m = re.search(rf"<!-- {DOC_RECIPE} -->\s*```nginx\n(.*?)```", text, re.S)
    assert m, f"docs/deployment.md lost its <!-- {DOC_RECIPE} --> block"
    return m.group(1)


def _replace(text: str, pattern: str, new: str) -> str:
    out, n = re.subn(pattern, new, text)
    assert n == 1, f"the recipe in docs/deployment.md has no single {pattern!r}"
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Nginx:
    """A running nginx: its port, its directory (logs) and process."""

    port: int
    prefix: Path
    process: asyncio.subprocess.Process

    @property
    def access_log(self) -> str:
        """What nginx logged of the requests (for a failing test's message)."""
        path = self.prefix / "access.log"
        return path.read_text() if path.exists() else ""

    def url(self, path: str = "/ws") -> str:
        """The WebSocket URL through the proxy."""
        return f"ws://127.0.0.1:{self.port}{path}"


def _configure(
    upstream_port: int, prefix: Path, recipe: str | None, root: Path | None
) -> tuple[int, Path]:
    """Write ``prefix/nginx.conf``; returns (the port it listens on, its path)."""
    prefix.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    body = recipe if recipe is not None else doc_recipe()
    body = _replace(
        body, r"upstream wsmq \{[^}]*\}", f"upstream wsmq {{ server 127.0.0.1:{upstream_port}; }}"
    )
    body = _replace(body, r"listen 443 ssl;", f"listen 127.0.0.1:{port};")
    body = re.sub(r"^\s*ssl_certificate\S*\s[^;]*;\n", "", body, flags=re.M)
    if root is not None:
        body = _replace(body, r"(server \{\n)", rf"\1  location / {{ root {root}; }}\n")
    temp = "\n".join(
        f"  {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n  access_log {prefix / 'access.log'};\n{temp}\n{body}\n}}\n"
    )
    return port, conf


@contextlib.asynccontextmanager
async def run_nginx(
    upstream_port: int, prefix: Path, *, recipe: str | None = None, root: Path | None = None
) -> AsyncIterator[Nginx]:
    """nginx with ``recipe`` (default: the documentation's) proxying to 127.0.0.1:
    ``upstream_port``; ``root`` is served as static files at ``/`` (a page for the browser)."""
    binary = nginx_binary()
    port, conf = _configure(upstream_port, prefix, recipe, root)
    proc = await asyncio.create_subprocess_exec(
        binary,
        "-p",
        str(prefix),
        "-c",
        str(conf),
        "-e",
        str(prefix / "error.log"),  # the log nginx opens before it reads the configuration
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(15):
            while True:  # ready = accepts TCP connections on its port
                if proc.returncode is not None:
                    err = (await proc.stderr.read()).decode() if proc.stderr else ""
                    raise RuntimeError(f"nginx exited with {proc.returncode}: {err}")
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    await asyncio.sleep(0.02)
                    continue
                writer.close()
                await writer.wait_closed()
                break
        yield Nginx(port, prefix, proc)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)  # fast shutdown: open WebSockets are dropped
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
