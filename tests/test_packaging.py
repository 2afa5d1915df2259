"""What users install: the wheel and the sdist, built from this checkout and used from a fresh
virtual environment as a user would (issue: packages that work on their own).

The build runs without isolation (the build backend and its readme plugin come from the dev
extra), so only the fresh venv's install of the runtime dependencies reaches the package index.
"""

from __future__ import annotations

import email
import json
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
    assert "websocketmq/py.typed" in names
    assert "websocketmq/codegen/catalogue/templates/python/api.py.j2" in names
    assert "websocketmq/spec/schema/catalogue.schema.json" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_sdist_carries_license_and_changelog(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml"} <= names
    # a wheel built from the sdist needs the generator and the schemas it force-includes
    assert {"codegen/catalogue/asyncapi.py", "spec/schema/catalogue.schema.json"} <= names


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


_CATALOGUE = """\
wsmq: "1"
name: notes
version: "0.1.0"
types:
  Note:
    type: object
    required: [id, text]
    properties:
      id: {type: string}
      text: {type: string, maxLength: 200}
    additionalProperties: false
topics:
  notes.add:
    request:
      from: client
      body: {type: object, required: [text], properties: {text: {type: string}}}
      response: {$ref: "#/types/Note"}
  notes.added:
    event: {from: server, body: {$ref: "#/types/Note"}}
"""

_USER_CODE = """\
from notes_sdk import NotesClient, NotesServer
from notes_sdk.models import Note, NotesAddRequest
from websocketmq import Broker, connect
from websocketmq.sdk import Context


async def add(url: str) -> Note:
    async with connect(url) as client:
        note: Note = await NotesClient(client).notes_add(NotesAddRequest(text="hi"))
        return note


def serve(broker: Broker) -> NotesServer:
    api = NotesServer(broker)

    @api.notes_add
    def _add(body: NotesAddRequest, ctx: Context) -> Note:
        return Note(id=ctx.client_id or "anonymous", text=body.text)

    return api
"""

_USER_MISTAKE = """\
from notes_sdk import NotesClient
from websocketmq import Client


async def add(client: Client) -> str:
    note = await NotesClient(client).notes_add({"text": 5})
    return note.id + 1
"""


def _run(cmd: list[str | Path], cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
        **kw,  # type: ignore[call-overload]
    )


def test_installed_wheel_generates_and_checks_a_user_sdk_with_the_codegen_extra(
    wheel_venv: Path, dists: dict[str, Path], tmp_path: Path
) -> None:
    """From a temp directory outside the checkout: without the extra, one line names it; with
    it, `wsmq codegen` writes a user's SDKs and `--check` passes, then fails after a hand edit."""
    wsmq = wheel_venv / "bin" / "wsmq"
    (tmp_path / "notes.wsmq.yaml").write_text(_CATALOGUE, encoding="utf-8")
    gen = [wsmq, "codegen", "notes.wsmq.yaml", "--python", "notes_sdk", "--typescript", "web/sdk"]
    missing = _run(gen, tmp_path)
    assert missing.returncode == 2, missing
    assert missing.stderr.strip().splitlines() == [
        "wsmq codegen: needs the codegen extra: pip install 'websocketmq[codegen]' "
        "(No module named 'jinja2')"
    ]
    installed = _run(
        [wheel_venv / "bin" / "python", "-m", "pip", "install", "-q", f"{dists['wheel']}[codegen]"],
        tmp_path,
    )
    assert installed.returncode == 0, installed.stderr
    wrote = _run(gen, tmp_path)
    assert wrote.returncode == 0, wrote.stderr
    assert {p.name for p in (tmp_path / "notes_sdk").iterdir()} >= {"api.py", "models.py"}
    assert (tmp_path / "web" / "sdk" / "client.ts").is_file()
    checked = _run([*gen, "--check"], tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "up to date" in checked.stdout
    (tmp_path / "notes_sdk" / "api.py").write_text("# edited by hand\n", encoding="utf-8")
    stale = _run([*gen, "--check"], tmp_path)
    assert stale.returncode == 1
    assert "notes_sdk/api.py is stale" in stale.stderr
    exported = _run([wsmq, "asyncapi", "notes.wsmq.yaml", "-o", "notes.asyncapi.json"], tmp_path)
    assert exported.returncode == 0, exported.stderr
    document = json.loads((tmp_path / "notes.asyncapi.json").read_text(encoding="utf-8"))
    assert document["asyncapi"] == "3.0.0"
    assert set(document["operations"]) == {"notesAdd", "subscribeNotesAdded"}
    protocol = _run([wsmq, "codegen", "--check"], tmp_path)
    assert protocol.returncode == 2
    assert "regenerated in a source checkout" in protocol.stderr


def test_a_user_project_type_checks_against_the_installed_wheel(
    wheel_venv: Path, dists: dict[str, Path], tmp_path: Path
) -> None:
    """py.typed works: `mypy --strict` of a user project (its generated SDK and its own code)
    against the fresh venv's installed package passes, and a typed mistake is reported."""
    installed = _run(
        [wheel_venv / "bin" / "python", "-m", "pip", "install", "-q", f"{dists['wheel']}[codegen]"],
        tmp_path,
    )
    assert installed.returncode == 0, installed.stderr
    (tmp_path / "notes.wsmq.yaml").write_text(_CATALOGUE, encoding="utf-8")
    wrote = _run(
        [wheel_venv / "bin" / "wsmq", "codegen", "notes.wsmq.yaml", "--python", "notes_sdk"],
        tmp_path,
    )
    assert wrote.returncode == 0, wrote.stderr
    (tmp_path / "app.py").write_text(_USER_CODE, encoding="utf-8")
    (tmp_path / "mistake.py").write_text(_USER_MISTAKE, encoding="utf-8")
    mypy = [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
    mypy += ["--python-executable", wheel_venv / "bin" / "python"]
    ok = _run([*mypy, "app.py", "notes_sdk"], tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Success: no issues found" in ok.stdout
    bad = _run([*mypy, "mistake.py"], tmp_path)
    assert bad.returncode == 1, bad.stdout
    assert 'Argument 1 to "notes_add" of "NotesClient" has incompatible type' in bad.stdout
    assert 'Unsupported operand types for + ("str" and "int")' in bad.stdout
    assert "missing library stubs or py.typed marker" not in bad.stdout
