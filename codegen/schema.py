"""Loading and bundling the wsmq/1 schemas (spec/protocol.md §15.1).

Why bundle: the schemas are split by concern (envelope, control bodies, error codes) and refer
to each other by relative ``$ref``; both generators want one self-contained document with every
definition under ``$defs`` and only local ``#/$defs/...`` references. Bundling is a pure
function of the schema files, so its output (and everything generated from it) is deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "CLOSE_CODES_SCHEMA",
    "CONTROL_SCHEMA",
    "ENVELOPE_SCHEMA",
    "ERROR_CODES_SCHEMA",
    "SCHEMA_DIR",
    "SCHEMA_FILES",
    "bundle",
    "flatten",
    "load",
]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "spec" / "schema"
ENVELOPE_SCHEMA = "envelope.schema.json"
CONTROL_SCHEMA = "control.schema.json"
ERROR_CODES_SCHEMA = "error-codes.json"
CLOSE_CODES_SCHEMA = "close-codes.json"
SCHEMA_FILES = (ENVELOPE_SCHEMA, CONTROL_SCHEMA, ERROR_CODES_SCHEMA, CLOSE_CODES_SCHEMA)


def load(name: str, schema_dir: Path = SCHEMA_DIR) -> dict[str, Any]:
    """Read one schema file as JSON."""
    data: dict[str, Any] = json.loads((schema_dir / name).read_text(encoding="utf-8"))
    return data


def _localize(node: Any) -> Any:
    """Rewrite ``other.schema.json#/$defs/X`` references to ``#/$defs/X`` (same bundle)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and "#/$defs/" in value:
                out[key] = "#/$defs/" + value.split("#/$defs/", 1)[1]
            else:
                out[key] = _localize(value)
        return out
    if isinstance(node, list):
        return [_localize(item) for item in node]
    return node


def _join_patterns(base: str, own: str) -> str:
    """One pattern that matches what both anchored patterns match: ``^(?=base)own``."""
    if not (base.startswith("^") and own.startswith("^")):
        raise ValueError(f"cannot combine unanchored patterns {base!r} and {own!r}")
    return f"^(?={base[1:]}){own[1:]}"


def flatten(defs: dict[str, Any]) -> dict[str, Any]:
    """Resolve every definition that is a ``$ref`` plus keywords of its own (``TopicName`` =
    ``TopicString`` + its token structure) into one plain definition.

    Why: JSON Schema applies both, but datamodel-code-generator keeps only the sibling keywords
    and msgspec takes one ``pattern``; so the generated code gets the referenced keywords merged
    in and the two patterns joined by a lookahead, which every regular-expression engine we
    target reads the same way. The schema files keep each rule once.
    """
    out: dict[str, Any] = {}

    def resolve(name: str) -> dict[str, Any]:
        if name in out:
            return dict(out[name])
        node = defs[name]
        ref = node.get("$ref")
        if not isinstance(ref, str) or len(node) == 1:
            out[name] = node
            return dict(node)
        base = resolve(ref.rsplit("/", 1)[1])
        merged = {k: v for k, v in base.items() if k not in ("description", "title")}
        for key, value in node.items():
            if key == "$ref":
                continue
            if key == "pattern" and "pattern" in merged:
                merged[key] = _join_patterns(merged["pattern"], value)
            elif key in merged and key != "description" and merged[key] != value:
                raise ValueError(f"{name}: {key!r} conflicts with the one of {ref}")
            else:
                merged[key] = value
        out[name] = merged
        return dict(merged)

    for name in defs:
        resolve(name)
    return out


def bundle(schema_dir: Path = SCHEMA_DIR) -> dict[str, Any]:
    r"""One schema whose root is the envelope and whose ``$defs`` hold every definition.

    The error-code enum becomes ``$defs/StandardErrorCode``. Name clashes between files are
    an error, because generated code has one flat namespace. Definitions that extend another
    by ``$ref`` are :func:`flatten`\ ed. ``close-codes.json`` is not bundled: it describes no
    message, only the constants ``codegen.rules`` generates.
    """
    envelope = load(ENVELOPE_SCHEMA, schema_dir)
    control = load(CONTROL_SCHEMA, schema_dir)
    codes = load(ERROR_CODES_SCHEMA, schema_dir)
    defs: dict[str, Any] = {}
    sources: list[dict[str, Any]] = [
        envelope["$defs"],
        control["$defs"],
        {codes["title"]: {k: codes[k] for k in ("description", "type", "enum") if k in codes}},
    ]
    for group in sources:
        for name, definition in group.items():
            if name in defs:
                raise ValueError(f"schema definition {name!r} is defined twice")
            defs[name] = definition
    root = {k: v for k, v in envelope.items() if k not in ("$defs", "$id")}
    root["$defs"] = defs
    result: dict[str, Any] = _localize(root)
    result["$defs"] = flatten(result["$defs"])
    return result
