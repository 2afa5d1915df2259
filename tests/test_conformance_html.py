"""The HTML report (``--html``) renders in a real browser: a run against a broken server
(tests/broken_servers/wsmq_mini.py ``--fault echo-to-sender``) writes the report, a real HTTP
server on 127.0.0.1 serves it, headless Chromium (Debian's, via playwright-core) opens it, and
the test checks what a reader sees: the summary tables, the failed case in red with its frames.
The screenshot goes to ``test-artifacts/conformance-report.png``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

__all__: list[str] = []

ROOT = Path(__file__).resolve().parents[1]
MINI = Path(__file__).parent / "broken_servers" / "wsmq_mini.py"
CHROMIUM = os.environ.get("WSMQ_CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT = ROOT / "typescript" / "node_modules" / "playwright-core"
SHOT = ROOT / "test-artifacts" / "conformance-report.png"

pytestmark = pytest.mark.timeout(120)

SCRIPT = r"""
const { chromium } = require(process.env.PLAYWRIGHT);
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, timeout: 60000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(process.env.URL);
    const out = await page.evaluate(() => ({
      title: document.querySelector('h1')?.textContent,
      headings: [...document.querySelectorAll('h2')].map((h) => h.textContent),
      failed: [...document.querySelectorAll('.fail h3')].map((h) => h.textContent),
      badge: getComputedStyle([...document.querySelectorAll('.v')]
        .find((b) => b.textContent === 'FAILED')).backgroundColor,
      frames: document.querySelectorAll('.fail pre').length,
    }));
    await page.screenshot({ path: process.env.SHOT, fullPage: true });
    console.log(JSON.stringify(out));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
"""


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if shutil.which("node") is None or not PLAYWRIGHT.is_dir():
        return "needs node and `make node` (playwright-core in typescript/node_modules)"
    return None


def test_the_html_report_renders_in_chromium(tmp_path: Path) -> None:
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}: required in CI")
        pytest.skip(missing)
    report = tmp_path / "report.html"
    server = subprocess.Popen(
        [sys.executable, str(MINI), "--port", "0", "--fault", "echo-to-sender"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("wsmq: listening on "), line
        url = line.split()[-1]
        done = subprocess.run(
            [sys.executable, "-m", "wsmq_conformance", url, "--cases", "3.1.*", "--html",
             str(report), "-q"],
            capture_output=True, text=True, timeout=90, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 1, done.stdout + done.stderr
    finally:
        server.terminate()
        server.wait(10)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        SHOT.parent.mkdir(exist_ok=True)
        env = dict(
            os.environ,
            PLAYWRIGHT=str(PLAYWRIGHT),
            CHROMIUM=CHROMIUM,
            SHOT=str(SHOT),
            URL=f"http://127.0.0.1:{httpd.server_address[1]}/report.html",
        )
        res = subprocess.run(
            ["node", "-e", SCRIPT], env=env, capture_output=True, text=True, timeout=100
        )
    finally:
        httpd.shutdown()
        thread.join(10)
    assert res.returncode == 0, res.stderr
    seen = json.loads(res.stdout.strip().splitlines()[-1])
    assert seen["title"] == "wsmq-conformance report"
    assert "cases" in seen["headings"], seen
    assert any(h.startswith("3.1.3 [MUST]") for h in seen["failed"]), seen
    assert seen["badge"] == "rgb(198, 40, 40)", seen  # FAILED is red (#c62828)
    assert seen["frames"] > 0, seen  # the failed case's frames are shown
    assert SHOT.stat().st_size > 10_000
