"""Bundle every example's page: ``examples/NAME/web/app.ts``, its generated ``web/sdk`` and the
websocketmq client into ``examples/NAME/web/NAME.js`` (esbuild, deterministic):
``python examples/build.py [--check]``. ``make bundle`` and ``make bundle-check`` run it beside
the package's own browser bundle, since a change to ``typescript/src`` changes all of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["ESBUILD", "EXAMPLES", "bundle", "main"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ESBUILD = ROOT / "typescript" / "node_modules" / "esbuild" / "bin" / "esbuild"
EXAMPLES = tuple(sorted(p.parent.parent for p in HERE.glob("*/web/app.ts")))
"""Every example directory with a page to bundle."""


def bundle(example: Path) -> str:
    """The bundle's text (run from the example's directory, so the paths in it are relative)."""
    proc = subprocess.run(
        [
            str(ESBUILD),
            "web/app.ts",
            "--bundle",
            "--format=iife",
            "--platform=browser",
            "--target=es2020",
            "--charset=utf8",
            "--legal-comments=none",
            "--alias:websocketmq=../../typescript/src/index.ts",
            f"--banner:js=/* The {example.name} page, bundled from web/ by examples/build.py: "
            "do not edit. */",
            "--log-level=warning",
        ],
        cwd=example,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def main(argv: list[str]) -> int:
    """Write the bundles, or with ``--check`` exit 1 when a committed one is stale."""
    stale = 0
    for example in EXAMPLES:
        text = bundle(example)
        path = example / "web" / f"{example.name}.js"
        shown = path.relative_to(ROOT)
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{shown} is stale: run `make bundle` (or examples/build.py)")
                stale += 1
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {shown} ({len(text)} bytes)")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
