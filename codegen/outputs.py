"""Writing generated files, or checking that the committed ones are current (``--check``).

Why one module: the protocol's own models (``python -m codegen``) and an application's SDKs
(``wsmq codegen CATALOGUE``) are written and checked the same way, so a stale file is reported
the same way whichever generator made it.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["sync"]


def sync(
    files: Mapping[Path, str], *, check: bool, prog: str, hint: str, root: Path | None = None
) -> int:
    """Write each ``{path: text}`` that differs (or, with ``check``, report it); return the number
    of stale files (always 0 when writing).

    ``root`` prefixes each path on disk while messages show the path as given (the protocol's
    outputs are named relative to the repository root). ``hint`` says how to regenerate.
    """
    stale = 0
    for shown, text in files.items():
        path = root / shown if root is not None else shown
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            stale += 1
            print(f"{prog}: {shown} is stale; {hint}", file=sys.stderr)
            diff = difflib.unified_diff(
                (current or "").splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"a/{shown}",
                f"b/{shown}",
                n=1,
            )
            sys.stderr.writelines(list(diff)[:40])
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"{prog}: wrote {shown}")
    return stale
