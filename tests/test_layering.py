"""The layering docs/design.md claims, enforced (STYLE §19): import checks on the source.

* The sans-I/O core — ``protocol/`` and ``limits.py``, with every ``websocketmq`` module they
  import, transitively — imports no asyncio, websockets or nats (design.md §8.1).
* The conformance suite (``wsmq_conformance``) imports nothing from ``websocketmq``: it checks
  any server from outside (conformance/README.md).

The check reads the import statements (``ast``), so a module that would import them only
inside a function is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "python" / "src" / "websocketmq"
SUITE = ROOT / "conformance" / "src" / "wsmq_conformance"
FORBIDDEN_IN_CORE = ("asyncio", "websockets", "nats", "socket", "selectors")


def _module_name(path: Path, base: Path, package: str) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def _package_modules() -> dict[str, Path]:
    return {_module_name(p, PACKAGE, "websocketmq"): p for p in PACKAGE.rglob("*.py")}


def _top(name: str) -> str:
    return name.split(".")[0]


def test_the_core_imports_no_io_transitively() -> None:
    modules = _package_modules()
    start = [m for m in modules if m.startswith("websocketmq.protocol")]
    start.append("websocketmq.limits")
    seen: set[str] = set()
    todo = list(start)
    offenders: list[str] = []
    while todo:
        name = todo.pop()
        if name in seen or name not in modules:
            continue
        seen.add(name)
        for imported in _imports(modules[name], name):
            if _top(imported) in FORBIDDEN_IN_CORE:
                offenders.append(f"{name} imports {imported}")
            elif imported.startswith("websocketmq.") and imported in modules:
                todo.append(imported)
    assert "websocketmq.protocol.session" in seen and "websocketmq.errors" in seen
    assert offenders == []


def test_the_conformance_suite_imports_nothing_of_websocketmq() -> None:
    offenders = []
    for path in SUITE.rglob("*.py"):
        module = _module_name(path, SUITE, "wsmq_conformance")
        offenders += [
            f"{module} imports {i}" for i in _imports(path, module) if _top(i) == "websocketmq"
        ]
    assert list(SUITE.rglob("*.py")), "conformance suite not found"
    assert offenders == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The check can fail: a core-like module importing asyncio inside a function is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import asyncio\n    from websockets import connect\n")
    assert {"asyncio", "websockets", "websockets.connect"} <= _imports(bad, "pkg.bad")
    rel = tmp_path / "rel.py"
    rel.write_text("from ..errors import WsmqError\nfrom . import envelope\n")
    found = _imports(rel, "websocketmq.protocol.rel")
    assert "websocketmq.errors.WsmqError" in found and "websocketmq.protocol.envelope" in found
