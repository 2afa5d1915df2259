"""TypeScript output: types and a runtime guard, one jinja2 template per file (§15.3).

Why a guard generated from the schema rather than written by hand: the TypeScript client must
judge every vector exactly as jsonschema does in Python. ``guards.ts`` therefore embeds the
bundled schema and a small interpreter for exactly the keywords our schemas use; the keyword
set is checked here, so a schema change that needs a new keyword fails the generator instead of
silently producing a weaker guard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["SUPPORTED_KEYWORDS", "TEMPLATES_DIR", "render_typescript", "ts_type"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

SUPPORTED_KEYWORDS = frozenset(
    {
        "$defs",
        "$ref",
        "$schema",
        "const",
        "description",
        "enum",
        "maxLength",
        "maximum",
        "minLength",
        "minimum",
        "oneOf",
        "pattern",
        "properties",
        "required",
        "title",
        "type",
        "x-maxTokens",
        "x-maxUtf8Bytes",
    }
)
"""The JSON Schema keywords guards.ts implements (and so the schemas may use)."""

_PRIMITIVES = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean"}


def _check_keywords(node: Any, where: str = "#") -> None:
    """Refuse schemas that use a keyword the generated guard would not enforce."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key not in SUPPORTED_KEYWORDS:
            raise ValueError(f"{where}: keyword {key!r} is not supported by guards.ts")
        if key in ("$defs", "properties"):
            for name, sub in value.items():
                _check_keywords(sub, f"{where}/{key}/{name}")
        elif key == "oneOf":
            for i, sub in enumerate(value):
                _check_keywords(sub, f"{where}/oneOf/{i}")


def ts_type(schema: dict[str, Any]) -> str:
    """The TypeScript type for one (bundled) schema node."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[1]
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "oneOf" in schema:
        return " | ".join(ts_type(s) for s in schema["oneOf"])
    kind = schema.get("type")
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    if kind == "object":
        return "{ [key: string]: unknown }"
    return "unknown"


_ANNOTATIONS = frozenset({"$schema", "description", "title"})


def _strip(node: Any) -> Any:
    """The schema without annotations: what the guard needs at run time."""
    if isinstance(node, dict):
        return {
            k: ({n: _strip(s) for n, s in v.items()} if k in ("properties", "$defs") else _strip(v))
            for k, v in node.items()
            if k not in _ANNOTATIONS
        }
    if isinstance(node, list):
        return [_strip(item) for item in node]
    return node


def _ts_json(value: Any) -> str:
    """JSON usable as a TypeScript literal, in schema order (the guard checks members in it)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def _doc(text: str | None, indent: str = "") -> str:
    """A JSDoc comment (or nothing)."""
    if not text:
        return ""
    return f"{indent}/** {text.replace('*/', '* /')} */\n"


def render_typescript(bundled: dict[str, Any]) -> dict[str, str]:
    """Render every template; returns ``{output file name: text}``."""
    _check_keywords(bundled)
    defs: dict[str, Any] = bundled["$defs"]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["ts_type"] = ts_type
    env.filters["doc"] = _doc
    env.filters["json"] = lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False)
    context = {
        "defs_json": _ts_json({k: _strip(v) for k, v in defs.items()}),
        "root_json": _ts_json(_strip({k: v for k, v in bundled.items() if k != "$defs"})),
        "keywords": sorted(SUPPORTED_KEYWORDS - _ANNOTATIONS - {"$defs"}),
        "root": {k: v for k, v in bundled.items() if k != "$defs"},
        "defs": defs,
        "names": sorted(defs),
        "error_codes": defs["StandardErrorCode"]["enum"],
        "message_types": defs["MessageType"]["enum"],
        "envelope_variants": [ts_type(s) for s in bundled["oneOf"]],
        "control_names": sorted(n for n in defs if n.endswith(("Body", "Result"))),
    }
    out: dict[str, str] = {}
    for template in sorted(TEMPLATES_DIR.glob("*.ts.j2")):
        name = template.name.removesuffix(".j2")
        out[name] = env.get_template(template.name).render(**context)
    return out
