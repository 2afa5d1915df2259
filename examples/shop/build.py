"""Bundle the shop page: ``web/app.ts``, the generated ``web/sdk`` and the websocketmq client
into ``web/shop.js`` (esbuild, deterministic): ``python examples/shop/build.py [--check]``.
``make bundle`` and ``make bundle-check`` run it beside the package's own browser bundle, since
a change to ``typescript/src`` changes both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["BUNDLE", "bundle", "main"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ESBUILD = ROOT / "typescript" / "node_modules" / "esbuild" / "bin" / "esbuild"
BUNDLE = HERE / "web" / "shop.js"


def bundle() -> str:
    """The bundle's text (run from this directory, so the paths in it are relative)."""
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
            "--banner:js=/* The shop page, bundled from web/ by build.py: do not edit. */",
            "--log-level=warning",
        ],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def main(argv: list[str]) -> int:
    """Write the bundle, or with ``--check`` exit 1 when the committed one is stale."""
    text = bundle()
    if "--check" in argv:
        if not BUNDLE.exists() or BUNDLE.read_text(encoding="utf-8") != text:
            print(
                "examples/shop/web/shop.js is stale: run `make bundle` (or examples/shop/build.py)"
            )
            return 1
        return 0
    BUNDLE.write_text(text, encoding="utf-8")
    print(f"wrote {BUNDLE.relative_to(ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
