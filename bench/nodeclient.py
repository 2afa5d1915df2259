"""The Node load generator of the ``wsmq-tsclient`` row: find Node and esbuild, build
``bench/node/load.mts`` (our TypeScript client's sources and ``ws`` bundled in) into a temporary
directory once per harness process, and give the argv that runs one load-generator process.

Built at run time rather than committed, so the row always measures the client in
``typescript/src`` as it is in the tree (issue 18). The row is skipped, with the reason
:func:`missing` gives, only when Node or esbuild is absent (``make node`` installs esbuild into
``typescript/node_modules``); any other build failure fails the row loudly.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench import wire
from bench.procs import BenchError

__all__ = ["NODE_MODULES", "SCRIPT", "WIRE", "argv", "build", "missing"]

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).with_name("node") / "load.mts"
NODE_MODULES = ROOT / "typescript" / "node_modules"
ESBUILD = NODE_MODULES / ".bin" / "esbuild"

WIRE = {
    "echo_topic": wire.ECHO_TOPIC,
    "s2c_topic": wire.S2C_TOPIC,
    "fanout_topic": wire.FANOUT_TOPIC,
    "body_text": wire.BODY_TEXT,
}
"""Topics and body filler handed to the Node script in every spec: the Python rows' frames."""

_BUILT: list[Path] = []


def missing() -> str | None:
    """Why the row cannot run here (Node or esbuild absent), or None when it can."""
    if shutil.which("node") is None:
        return "node is not on PATH (the TypeScript client row runs under Node >= 18)"
    if not os.access(ESBUILD, os.X_OK):
        return f"esbuild is not installed at {ESBUILD.relative_to(ROOT)} (make node installs it)"
    return None


async def build() -> Path:
    """Bundle the load generator for Node (once per process) and return the built file.

    CommonJS, so that ``ws``'s optional native helpers (``bufferutil``, ``utf-8-validate``),
    left external, are tried by its own ``require`` in a ``try`` and skipped when absent, as in
    an application that installed ``ws`` alone. ``NODE_PATH`` lets esbuild find ``ws`` in
    ``typescript/node_modules`` from ``bench/node/``.
    """
    if _BUILT:
        return _BUILT[0]
    reason = missing()
    if reason is not None:
        raise BenchError(f"wsmq-tsclient cannot run: {reason}")
    out_dir = Path(tempfile.mkdtemp(prefix="wsmq-bench-node-"))
    atexit.register(shutil.rmtree, out_dir, True)
    out = out_dir / "load.cjs"
    proc = await asyncio.create_subprocess_exec(
        str(ESBUILD),
        str(SCRIPT),
        "--bundle",
        "--platform=node",
        "--format=cjs",
        "--target=node18",
        f"--outfile={out}",
        "--external:bufferutil",
        "--external:utf-8-validate",
        "--log-level=warning",
        cwd=ROOT,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    text, _ = await asyncio.wait_for(proc.communicate(), 120)
    if proc.returncode != 0 or not out.exists():
        raise BenchError(f"esbuild failed ({proc.returncode}):\n{text.decode(errors='replace')}")
    _BUILT.append(out)
    return out


async def argv(spec: dict[str, Any], profile_dir: str | None = None) -> list[str]:
    """``node load.cjs '<json spec>'`` for one load-generator process; with ``profile_dir``
    (``python -m bench --profile DIR``) under V8's CPU profiler, a ``.cpuprofile`` per process
    (written at exit; open it in Chrome DevTools or summarize its self time)."""
    node = shutil.which("node")
    if node is None:
        raise BenchError("wsmq-tsclient cannot run: node is not on PATH")
    script = await build()
    prof = ["--cpu-prof", f"--cpu-prof-dir={profile_dir}"] if profile_dir else []
    return [node, *prof, str(script), json.dumps({**spec, "wire": WIRE})]
