"""The Python SDK of a catalogue: msgspec Structs and typed Client/Server classes (§6, §7).

Why our own jinja2 templates rather than datamodel-code-generator (which writes the protocol's
own models): the catalogue's schema subset (spec/catalogue.md §5) maps one to one onto msgspec
(``Meta(ge=…, pattern=…)``, ``Literal``, ``forbid_unknown_fields``), and the naming rules of §6
must hold exactly in both languages: datamodel-code-generator renames fields and invents names
for nested models by its own heuristics, which a user could not predict from the catalogue. A
template per output file keeps the output a pure function of the catalogue, golden-tested.
"""

from __future__ import annotations

import json
from typing import Any

from .model import Catalogue
from .names import error_class, py_ident
from .render import environment

__all__ = ["py_pattern", "py_type", "render_python"]

_META_KEYS = (
    ("minimum", "ge"),
    ("maximum", "le"),
    ("exclusiveMinimum", "gt"),
    ("exclusiveMaximum", "lt"),
    ("minLength", "min_length"),
    ("maxLength", "max_length"),
    ("minItems", "min_length"),
    ("maxItems", "max_length"),
)


def py_pattern(pattern: str) -> str:
    """An ECMA-262 ``pattern`` as Python ``re`` must read it to judge the same strings.

    ``(?a)``: ``\\d``/``\\w`` are ASCII as in JavaScript; a final ``$`` becomes ``\\Z`` because
    Python's ``$`` also matches before a trailing newline (the loader allows ``$`` only last).
    """
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    return "(?a)" + pattern


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def py_type(schema: dict[str, Any]) -> str:
    """The annotation for a (non-top-level-object) schema."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[1]
    kind = schema["type"]
    if kind == "string" and "enum" in schema:
        base = "Literal[" + ", ".join(_literal(v) for v in schema["enum"]) + "]"
    elif kind == "array":
        base = f"list[{py_type(schema['items'])}]" if "items" in schema else "list[Any]"
    else:
        base = {
            "string": "str",
            "integer": "int",
            "number": "float",
            "boolean": "bool",
            "null": "None",
            "object": "dict[str, Any]",
        }[kind]
    meta = [f"{py}={schema[js]!r}" for js, py in _META_KEYS if js in schema]
    if "pattern" in schema:
        meta.append(f"pattern={py_pattern(schema['pattern'])!r}")
    if not meta:
        return base
    return f"Annotated[{base}, Meta({', '.join(meta)})]"


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [
        {
            "wire": name,
            "attr": py_ident(name),
            "type": py_type(sub),
            "required": name in required,
            "description": sub.get("description", ""),
        }
        for name, sub in schema.get("properties", {}).items()
    ]


def _is_struct(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" and "properties" in schema


def render_python(cat: Catalogue) -> dict[str, str]:
    """``{file name: text}`` of the SDK package: ``models.py``, ``api.py``, ``__init__.py``."""
    env = environment()
    models = [
        {
            "name": n.name,
            "struct": _is_struct(n.schema),
            "fields": _fields(n.schema) if _is_struct(n.schema) else [],
            "forbid": n.schema.get("additionalProperties") is False,
            "alias": None if _is_struct(n.schema) else py_type(n.schema),
            "description": n.schema.get("description", ""),
            "pointer": n.pointer,
        }
        for n in cat.named
    ]
    errors = [
        {
            "code": code,
            "cls": error_class(code),
            "topics": [op.topic for op in cat.operations if code in op.errors],
        }
        for code in cat.errors
    ]
    context = {
        "cat": cat,
        "models": models,
        "errors": errors,
        "ops": cat.operations,
        "error_class": error_class,
        "py_ident": py_ident,
        "model_names": sorted(n.name for n in cat.named),
    }
    return {
        name: env.get_template(f"python/{name}.j2").render(**context)
        for name in ("models.py", "api.py", "__init__.py")
    }
