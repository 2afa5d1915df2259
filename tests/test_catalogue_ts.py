"""The generated TypeScript SDK: strict types that catch misuse, and guards that judge bodies as
the Python SDK does (spec/catalogue.md §6, §7).

``tsc`` runs on the committed shop SDK and the golden kitchen-sink SDK with fixture files: one
must compile, the other must fail on exactly its marked lines (``ordersCreate({sku: 5})``). The
runtime check (``typescript/src/sdk.ts``, bundled on the fly by esbuild) is run by node on the
same near-miss bodies as the Python boundary and must name the same pointer and rule.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_sdk import NEAR_MISSES
from websocketmq import InvalidBody
from websocketmq.sdk import load

from codegen.catalogue import load_catalogue
from codegen.catalogue.typescript import _strip

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
TS = ROOT / "typescript"
TSC = TS / "node_modules" / "typescript" / "bin" / "tsc"
ESBUILD = TS / "node_modules" / "esbuild" / "bin" / "esbuild"
FIXTURES = ROOT / "tests" / "catalogue" / "ts"
NODE = shutil.which("node")


def _need_node() -> str:
    if NODE is None or not TSC.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("node and typescript/node_modules are required in CI (make node)")
        pytest.skip("needs node and `make node` (typescript/node_modules)")
    return NODE


def _tsc(tmp_path: Path, fixture: str) -> subprocess.CompletedProcess[str]:
    node = _need_node()
    config = {
        "compilerOptions": {
            "target": "ES2022",
            "module": "ESNext",
            "moduleResolution": "Bundler",
            "lib": ["ES2022", "DOM"],
            "strict": True,
            "noUncheckedIndexedAccess": True,
            "noEmit": True,
            "skipLibCheck": True,
            "types": [],
            "baseUrl": str(ROOT),
            "paths": {"websocketmq": [str(TS / "src" / "index.ts")]},
        },
        "files": [
            str(FIXTURES / fixture),
            *map(str, sorted((ROOT / "examples").glob("*/web/app.ts"))),
            str(ROOT / "tests" / "catalogue" / "golden" / "kitchen_ts" / "index.ts"),
        ],
    }
    path = tmp_path / "tsconfig.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return subprocess.run(
        [node, str(TSC), "-p", str(path)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_generated_typescript_compiles_strict_when_used_as_documented(tmp_path: Path) -> None:
    proc = _tsc(tmp_path, "good.ts")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_misuse_of_the_generated_typescript_fails_to_type_check(tmp_path: Path) -> None:
    proc = _tsc(tmp_path, "bad.ts")
    assert proc.returncode != 0
    text = (FIXTURES / "bad.ts").read_text(encoding="utf-8").splitlines()
    expected = {i + 1 for i, line in enumerate(text) if "expect-error" in line}
    failed = {
        int(m.group(1)) for m in re.finditer(r"bad\.ts\((\d+),\d+\): error TS\d+", proc.stdout)
    }
    assert failed == expected, proc.stdout
    assert re.search(
        r"bad\.ts\(7,\d+\): error TS2322: Type 'number' is not assignable", proc.stdout
    )


def test_no_any_in_generated_typescript() -> None:
    for directory in (ROOT / "examples/shop/web/sdk", ROOT / "tests/catalogue/golden/kitchen_ts"):
        for path in directory.glob("*.ts"):
            assert not re.search(r"\bany\b", path.read_text(encoding="utf-8")), path


def test_typescript_guards_agree_with_the_python_boundary(tmp_path: Path) -> None:
    node = _need_node()
    bundle = tmp_path / "sdk.mjs"
    subprocess.run(
        [
            str(ESBUILD),
            str(TS / "src" / "sdk.ts"),
            "--bundle",
            "--format=esm",
            f"--outfile={bundle}",
            "--log-level=warning",
        ],
        check=True,
        timeout=60,
    )
    cat = load_catalogue(ROOT / "tests" / "catalogue" / "kitchen.wsmq.yaml")
    schemas = {n.name: _strip(n.schema) for n in cat.named}
    cases = [{"type": t, "body": b} for t, b in NEAR_MISSES]
    script = tmp_path / "judge.mjs"
    script.write_text(
        "import { checkBody } from './sdk.mjs';\n"
        "const { schemas, cases } = JSON.parse(process.argv[2]);\n"
        "const judge = (c) => checkBody(schemas, schemas[c.type], c.body);\n"
        "console.log(JSON.stringify(cases.map(judge)));\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [node, str(script), json.dumps({"schemas": schemas, "cases": cases})],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    verdicts: list[Any] = json.loads(proc.stdout)
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "catalogue" / "golden"))
    try:
        import kitchen_sdk
    finally:
        sys.path.pop(0)
    for (type_name, body), ts in zip(NEAR_MISSES, verdicts, strict=True):
        try:
            load(body, getattr(kitchen_sdk, type_name), "t")
            python = None
        except InvalidBody as exc:
            python = {"pointer": exc.details["pointer"], "rule": exc.details["rule"]}
        ts_short = None if ts is None else {"pointer": ts["pointer"], "rule": ts["rule"]}
        assert ts_short == python, (type_name, body)
