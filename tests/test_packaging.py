"""What users install: the wheel and the sdist, built from this checkout and used from a fresh
virtual environment as a user would (issue: packages that work on their own).

The build runs without isolation (the build backend and its readme plugin come from the dev
extra), so only the fresh venv's install of the runtime dependencies reaches the package index.
"""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--sdist", "-o", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(zf.read(name))


def test_wheel_carries_the_license_and_typed_marker(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as zf:
        names = zf.namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert "websocketmq/static/websocketmq.js" in names


def test_sdist_carries_license_and_changelog(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml"} <= names


def test_metadata_has_classifiers_urls_and_absolute_links(dists: dict[str, Path]) -> None:
    meta = _metadata(dists["wheel"])
    assert meta["License-Expression"] == "MIT"
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in classifiers)
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Source", "Changelog"} <= set(urls)
    description = meta.get_payload()
    assert isinstance(description, str) and "# WebSocketMQ" in description
    relative = re.findall(r"\]\((?!https?://|#)([^)]+)\)", description)
    assert relative == [], f"relative links break on a package index page: {relative}"


@pytest.fixture(scope="module")
def wheel_venv(dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with only the built wheel (and its declared dependencies) installed."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(dists["wheel"])],
        check=True,
        capture_output=True,
        timeout=300,
    )
    yield home


_CLIENT = """
import asyncio, sys
from websocketmq import connect

async def main():
    async with connect(sys.argv[1]) as client:
        print(await client.request("example.echo", {"hi": 1}, timeout=5))
        print((await client.request("time.now", timeout=5))["CurrentTime"][:2])

asyncio.run(main())
"""


def test_installed_wheel_runs_the_demo_and_a_client(wheel_venv: Path, tmp_path: Path) -> None:
    """From an empty directory: `wsmq serve --demo` and a Python client of the installed wheel."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    server = subprocess.Popen(
        [str(wheel_venv / "bin" / "wsmq"), "serve", "--demo", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        url = None
        for _ in range(50):
            line = server.stdout.readline()
            match = re.search(r"listening on (ws://\S+)", line)
            if match:
                url = match.group(1)
                break
        assert url, "the installed `wsmq serve --demo` never printed its readiness line"
        done = subprocess.run(
            [str(wheel_venv / "bin" / "python"), "-c", _CLIENT, url],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["{'hi': 1}", "20"]
    finally:
        server.terminate()
        server.wait(timeout=15)
