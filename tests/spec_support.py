"""Shared helpers for the spec tests: schema registry, validators, vector files.

Why a registry: ``control.schema.json`` refers to ``envelope.schema.json`` by relative ``$ref``;
jsonschema resolves it offline through a ``referencing.Registry`` holding every schema by its
``$id``, exactly as a reader of the spec would.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from wsmq_conformance.schemas import WsmqValidator

__all__ = [
    "ROOT",
    "SCHEMA_DIR",
    "VECTOR_DIR",
    "body_validator",
    "envelope_validator",
    "judge_frame",
    "load_json",
    "parse_frame",
    "registry",
    "vectors",
]

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `codegen` lives at the repository root, not in an installed package
    sys.path.insert(0, str(ROOT))
SCHEMA_DIR = ROOT / "spec" / "schema"
VECTOR_DIR = ROOT / "spec" / "vectors"


def load_json(path: Path) -> Any:
    """Read one JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def registry() -> Registry:
    """Every spec schema, addressable by its ``$id``."""
    resources = [Resource.from_contents(load_json(p)) for p in sorted(SCHEMA_DIR.glob("*.json"))]
    return Registry().with_resources((r.id(), r) for r in resources if r.id())


@cache
def envelope_validator() -> Draft202012Validator:
    """Validator for one envelope (spec §3)."""
    validator: Draft202012Validator = WsmqValidator(
        load_json(SCHEMA_DIR / "envelope.schema.json"), registry=registry()
    )
    return validator


def body_validator(name: str) -> Draft202012Validator:
    """Validator for the ``$defs`` entry ``name`` of control.schema.json or envelope.schema.json,
    with the wsmq extension keywords of spec §15.1 (the topic limits)."""
    for file in ("control.schema.json", "envelope.schema.json"):
        schema = load_json(SCHEMA_DIR / file)
        if name in schema["$defs"]:
            ref = {"$ref": f"{schema['$id']}#/$defs/{name}"}
            validator: Draft202012Validator = WsmqValidator(ref, registry=registry())
            return validator
    raise KeyError(name)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_frame(frame: str) -> Any:
    """Parse a frame as strict RFC 8259 JSON (Python's json accepts NaN/Infinity; JSON does not)."""
    return json.loads(frame, parse_constant=_reject_constant)


def judge_frame(frame: str) -> bool:
    """The normative verdict (§15.2): the frame parses as JSON and validates as an envelope."""
    try:
        value = parse_frame(frame)
    except ValueError:
        return False
    return bool(envelope_validator().is_valid(value))


def vectors(name: str) -> list[dict[str, Any]]:
    """The vectors of ``spec/vectors/<name>.json``."""
    data: list[dict[str, Any]] = load_json(VECTOR_DIR / f"{name}.json")["vectors"]
    return data
