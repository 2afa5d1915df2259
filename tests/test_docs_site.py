"""The documentation site as a reader gets it: built by ``make docs``'s two steps (typedoc, then
``mkdocs build --strict``), served on 127.0.0.1 and opened in headless Chromium
(``tests/docs_site.mjs``): the mermaid diagrams render as SVG, the TypeScript reference lists
the package's classes, and the site requests nothing from any other host (no CDN)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
TS = ROOT / "typescript"
CHROMIUM = Path(os.environ.get("WSMQ_CHROMIUM", "/usr/bin/chromium"))
NODE = shutil.which("node")

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def _need_tools() -> str:
    if NODE is None or not (TS / "node_modules" / "typedoc").is_dir() or not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("node, `make node` and chromium are required in CI")
        pytest.skip("needs node, `make node` and Debian's chromium (apt-get install chromium)")
    return NODE


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    node = _need_tools()
    out = tmp_path_factory.mktemp("site")
    typedoc = TS / "node_modules" / "typedoc" / "bin" / "typedoc"
    subprocess.run([node, str(typedoc), "--logLevel", "Warn"], cwd=TS, check=True, timeout=180)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "mkdocs"), "build", "--strict", "--quiet", "-d", str(out)],
        cwd=ROOT,
        check=True,
        timeout=180,
        env=env,
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_diagrams_render_offline_and_the_typescript_reference_is_there(site: str) -> None:
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    proc = subprocess.run(
        [_need_tools(), str(ROOT / "tests" / "docs_site.mjs"), site, str(artifacts)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["foreign"] == [], "the site must not load anything from elsewhere"
    for name in ("design", "protocol"):
        page = report["pages"][name]
        assert page["diagrams"] >= 1, name
        assert page["rendered"] == page["diagrams"], f"{name}: mermaid did not render"
    headings = report["pages"]["typescript"]["headings"]
    assert {"WebSocketMQ", "WsmqError", "SdkClient"} <= set(headings), headings
