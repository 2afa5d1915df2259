"""``python -m codegen``: write every generated file; ``--check``: fail if one is stale.

Why ``--check`` regenerates in memory instead of diffing git: it must work on a fresh clone
without network and without touching the tree, and it must catch a hand edit of a generated
file as well as a schema edit that nobody regenerated.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .outputs import sync
from .python_models import render_python_models
from .rules import read_rules, render_python_rules, render_typescript_rules
from .schema import CLOSE_CODES_SCHEMA, bundle, load
from .typescript import render_typescript

__all__ = ["OUTPUTS", "REPO_ROOT", "generate_all", "main"]

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON_MODELS = Path("python/src/websocketmq/models.py")
PYTHON_RULES = Path("python/src/websocketmq/protocol/rules.py")
CONFORMANCE_RULES = Path("conformance/src/wsmq_conformance/rules.py")
TS_DIR = Path("typescript/src/generated")
OUTPUTS = (
    PYTHON_MODELS,
    TS_DIR / "types.ts",
    TS_DIR / "guards.ts",
    PYTHON_RULES,
    CONFORMANCE_RULES,
    TS_DIR / "rules.ts",
)
"""Every generated file, relative to the repository root."""


def generate_all(repo_root: Path = REPO_ROOT) -> dict[Path, str]:
    """Render every output in memory: ``{path relative to repo root: text}``."""
    bundled = bundle(repo_root / "spec" / "schema")
    files: dict[Path, str] = {PYTHON_MODELS: render_python_models(bundled, repo_root)}
    for name, text in render_typescript(bundled).items():
        files[TS_DIR / name] = text
    rules = read_rules(bundled["$defs"], load(CLOSE_CODES_SCHEMA, repo_root / "spec" / "schema"))
    files[PYTHON_RULES] = render_python_rules(rules)
    files[CONFORMANCE_RULES] = render_python_rules(rules, conformance_copy=True)
    files[TS_DIR / "rules.ts"] = render_typescript_rules(rules)
    if set(files) != set(OUTPUTS):
        raise RuntimeError(f"generator outputs {sorted(map(str, files))} != OUTPUTS")
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (1 when ``--check`` finds a stale file).

    ``codegen CATALOGUE …`` (a first argument that is not an option) generates an application's
    SDKs instead (spec/catalogue.md §6.3, ``codegen/catalogue/cli.py``).
    """
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in and not args_in[0].startswith("-"):
        from .catalogue.cli import main as catalogue_main

        return catalogue_main(args_in)
    parser = argparse.ArgumentParser(
        prog="python -m codegen",
        description="Generate Python and TypeScript models from spec/schema (wsmq/1).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if any generated file is missing or differs",
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(args_in)
    root: Path = args.root
    if (
        not (root / "spec" / "schema" / "envelope.schema.json").is_file()
        or not (root / "python" / "src" / "websocketmq").is_dir()
    ):
        print(
            "wsmq codegen: the protocol's own models are regenerated in a source checkout "
            "(python -m codegen there); for an application's SDKs give a catalogue: "
            "wsmq codegen CATALOGUE --python DIR --typescript DIR [--check]",
            file=sys.stderr,
        )
        return 2
    stale = sync(
        generate_all(root),
        check=args.check,
        prog="codegen",
        hint="run `python -m codegen`",
        root=root,
    )
    if args.check and stale:
        return 1
    if args.check:
        print(f"codegen: {len(OUTPUTS)} generated files are up to date")
    return 0
