"""The TypeScript SDK of a catalogue: interfaces, schema data and a typed client (§6, §7).

Types are plain interfaces (so ``ordersCreate({sku: 5})`` fails to type-check); the schemas are
embedded as data that ``websocketmq``'s ``sdk.ts`` interprets for the keyword subset of
spec/catalogue.md §5, which is why no guard code is generated per type: one interpreter,
tested once, judges every catalogue the way msgspec does in Python.
"""

from __future__ import annotations

import json
from typing import Any

from .model import Catalogue
from .names import error_class, ts_ident
from .render import environment

__all__ = ["render_typescript", "ts_type"]

_ANNOTATIONS = frozenset({"title", "description", "deprecated", "examples"})
_PRIMITIVE = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean"}


def ts_type(schema: dict[str, Any]) -> str:
    """The TypeScript type of a (non-top-level-object) schema."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[1]
    kind = schema["type"]
    if kind == "string" and "enum" in schema:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    if kind == "array":
        item = ts_type(schema["items"]) if "items" in schema else "unknown"
        return f"Array<{item}>"
    if kind == "object":
        return "{ [key: string]: unknown }"
    if kind == "null":
        return "null"
    return _PRIMITIVE[kind]


def _strip(node: Any) -> Any:
    """The schema without annotations: what the runtime check needs."""
    if isinstance(node, dict):
        return {
            k: ({n: _strip(s) for n, s in v.items()} if k == "properties" else _strip(v))
            for k, v in node.items()
            if k not in _ANNOTATIONS
        }
    if isinstance(node, list):
        return [_strip(item) for item in node]
    return node


def render_typescript(cat: Catalogue, import_from: str = "websocketmq") -> dict[str, str]:
    """``{file name: text}``: ``types.ts``, ``client.ts``, ``index.ts``."""
    env = environment()
    env.filters["ts_ident"] = ts_ident
    models = []
    for n in cat.named:
        struct = n.schema.get("type") == "object" and "properties" in n.schema
        required = set(n.schema.get("required", []))
        models.append(
            {
                "name": n.name,
                "struct": struct,
                "alias": None if struct else ts_type(n.schema),
                "description": n.schema.get("description", ""),
                "pointer": n.pointer,
                "fields": [
                    {
                        "name": name,
                        "type": ts_type(sub),
                        "optional": name not in required,
                        "description": sub.get("description", ""),
                        "deprecated": bool(sub.get("deprecated", False)),
                    }
                    for name, sub in n.schema.get("properties", {}).items()
                ],
            }
        )
    schemas = {n.name: _strip(n.schema) for n in cat.named}
    context = {
        "cat": cat,
        "models": models,
        "ops": cat.operations,
        "schemas_json": json.dumps(schemas, indent=2, ensure_ascii=False),
        "errors": [
            {
                "code": c,
                "cls": error_class(c),
                "topics": [o.topic for o in cat.operations if c in o.errors],
            }
            for c in cat.errors
        ],
        "error_class": error_class,
        "import_from": import_from,
        "prefix_upper": cat.name.upper(),
        "model_names": sorted(n.name for n in cat.named),
    }
    return {
        name: env.get_template(f"typescript/{name}.j2").render(**context)
        for name in ("types.ts", "client.ts", "index.ts")
    }
