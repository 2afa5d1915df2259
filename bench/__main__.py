"""``python -m bench``: see :mod:`bench.cli`."""

from bench.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
