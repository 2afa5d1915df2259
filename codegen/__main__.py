"""``python -m codegen [--check]``: regenerate (or verify) every generated file."""

from __future__ import annotations

from .generate import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
