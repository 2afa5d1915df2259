"""The generator: committed output is current, --check catches staleness, output is deterministic.

Why copy the tree for the negative cases: ``--check`` must fail on a hand-edited generated file
and on a schema edit nobody regenerated, and the test must not touch the real working tree that
other engineers share.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from spec_support import ROOT

from codegen import OUTPUTS, generate_all
from codegen.schema import bundle
from codegen.typescript import render_typescript

__all__: list[str] = []


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", "--root", str(root), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of what the generator reads and writes."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(ROOT / "spec" / "schema", root / "spec" / "schema")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    for rel in OUTPUTS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, root / rel)
    return root


def test_committed_output_is_up_to_date() -> None:
    proc = _run(ROOT, "--check")
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout


def test_check_fails_on_a_hand_edited_output(tree: Path) -> None:
    target = tree / "typescript" / "src" / "generated" / "types.ts"
    original = target.read_text(encoding="utf-8")
    target.write_text(original + "// hand edit\n", encoding="utf-8")
    try:
        proc = _run(tree, "--check")
        assert proc.returncode == 1
        assert "types.ts is stale" in proc.stderr
    finally:
        target.write_text(original, encoding="utf-8")


def test_check_fails_on_a_schema_change_and_regenerating_fixes_it(tree: Path) -> None:
    path = tree / "spec" / "schema" / "control.schema.json"
    original = path.read_text(encoding="utf-8")
    schema = json.loads(original)
    schema["$defs"]["CancelBody"]["properties"]["reason"] = {"type": "string"}
    path.write_text(json.dumps(schema), encoding="utf-8")
    try:
        proc = _run(tree, "--check")
        assert proc.returncode == 1
        stale = proc.stderr
        assert "models.py is stale" in stale and "types.ts is stale" in stale
        assert _run(tree).returncode == 0
        assert _run(tree, "--check").returncode == 0
        assert "reason?: string" in (tree / OUTPUTS[1]).read_text(encoding="utf-8")
    finally:
        path.write_text(original, encoding="utf-8")
        assert _run(tree).returncode == 0


def test_output_is_deterministic_and_headed() -> None:
    first = generate_all()
    second = generate_all()
    assert first == second
    for rel, text in first.items():
        head = "\n".join(text.splitlines()[:3])
        assert "DO NOT EDIT" in head, rel
        assert "python -m codegen" in head, rel
        assert "timestamp:" not in head.lower(), rel


def test_guard_generator_refuses_unsupported_keywords() -> None:
    schema = bundle()
    schema["$defs"]["MessageID"]["format"] = "uuid"
    with pytest.raises(ValueError, match="format"):
        render_typescript(schema)


def test_generated_python_models_export_and_roundtrip() -> None:
    from websocketmq import models

    assert "RequestMessage" in models.__all__ and "StandardErrorCode" in models.__all__
    frame = (
        b'{"header":{"messageID":"m","type":"request","topic":"a.b","timestamp":1,'
        b'"correlationID":"c","ttl":5,"future":1},"body":[1]}'
    )
    msg = msgspec.json.decode(frame, type=models.RequestMessage)
    assert msg.header.ttl == 5 and msg.body == [1]
    again = msgspec.json.decode(msgspec.json.encode(msg), type=models.RequestMessage)
    assert again == msg
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(frame.replace(b'"ttl":5', b'"ttl":0'), type=models.RequestMessage)
