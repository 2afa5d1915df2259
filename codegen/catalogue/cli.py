"""``wsmq codegen CATALOGUE [--python DIR] [--typescript DIR] [--check]`` (spec/catalogue.md §6.3).

``--check`` renders in memory and exits 1 when a committed output is missing or differs, as the
protocol's own ``python -m codegen --check`` does. A bad catalogue exits 2 with every problem on
stderr (``file: /pointer: what``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..outputs import sync
from .loader import CatalogueError, load_catalogue
from .model import Catalogue

__all__ = ["load_or_report", "main", "render_all"]


def load_or_report(prog: str, path: Path) -> Catalogue | None:
    """The catalogue at ``path``, or ``None`` after printing every problem (exit code 2)."""
    try:
        return load_catalogue(path)
    except CatalogueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"{prog}: cannot read {path}: {exc}", file=sys.stderr)
    return None


def _renderers() -> dict[str, Callable[[Catalogue], dict[str, str]]]:
    from .python import render_python
    from .typescript import render_typescript

    return {"python": render_python, "typescript": render_typescript}


def render_all(cat: Catalogue, targets: dict[str, Path]) -> dict[Path, str]:
    """``{output path: text}`` for each requested language (``{"python": DIR, …}``)."""
    renderers = _renderers()
    out: dict[Path, str] = {}
    for lang, directory in targets.items():
        for name, text in renderers[lang](cat).items():
            out[directory / name] = text
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="wsmq codegen",
        description="Generate typed SDKs from an application catalogue (spec/catalogue.md).",
    )
    parser.add_argument("catalogue", type=Path, help="the catalogue (YAML, or JSON if *.json)")
    parser.add_argument("--python", type=Path, metavar="DIR", help="write the Python SDK here")
    parser.add_argument(
        "--typescript", type=Path, metavar="DIR", help="write the TypeScript SDK here"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if an output is stale"
    )
    args = parser.parse_args(argv)
    cat = load_or_report("wsmq codegen", args.catalogue)
    if cat is None:
        return 2
    targets = {k: v for k, v in (("python", args.python), ("typescript", args.typescript)) if v}
    if not targets:
        print(f"wsmq codegen: {args.catalogue} is valid; give --python and/or --typescript")
        return 0
    stale = sync(
        render_all(cat, targets), check=args.check, prog="wsmq codegen", hint="regenerate it"
    )
    if args.check:
        if stale:
            return 1
        print(f"wsmq codegen: outputs of {args.catalogue} are up to date")
    return 0
