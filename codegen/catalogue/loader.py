"""Reading and checking a catalogue file (spec/catalogue.md §4).

``load_catalogue(path)`` parses YAML or JSON, validates it against
``spec/schema/catalogue.schema.json`` and then applies the rules a JSON Schema cannot express
(topics obey spec/protocol.md §5, parameters are whole tokens, no two topics or generated names
collide, every ``$ref`` resolves, examples fit their schema). Every problem is reported, not only
the first, each as ``file: /json/pointer: what is wrong``, so a user fixes a catalogue in one pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import jsonschema
import yaml

from .model import Catalogue, NamedSchema, Operation, Problem
from .names import PARAM_RE, camel, class_name, error_class, pascal, snake, template_tokens

__all__ = [
    "CATALOGUE_SCHEMA",
    "SCHEMA_DIR",
    "STANDARD_CODES",
    "CatalogueError",
    "json_schema_of",
    "load_catalogue",
    "parse_catalogue",
]

SCHEMA_DIR = Path(__file__).resolve().parent.parent.parent / "spec" / "schema"
CATALOGUE_SCHEMA: dict[str, Any] = json.loads(
    (SCHEMA_DIR / "catalogue.schema.json").read_text(encoding="utf-8")
)
STANDARD_CODES: frozenset[str] = frozenset(
    json.loads((SCHEMA_DIR / "error-codes.json").read_text(encoding="utf-8"))["enum"]
)
"""The wire codes of spec/protocol.md §11.2: always possible, never declared."""

_LITERAL_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_MAX_TOPIC_BYTES = 255
_MAX_TOKENS = 32
_BY_TYPE = {
    "object": {"properties", "required", "additionalProperties"},
    "array": {"items", "minItems", "maxItems"},
    "string": {"minLength", "maxLength", "pattern", "enum"},
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "boolean": set(),
    "null": set(),
}
_ANNOTATIONS = {"title", "description", "deprecated", "examples"}
_BOUNDS = (("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems"))


class CatalogueError(ValueError):
    """A catalogue that cannot be used; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"invalid catalogue ({len(problems)} problem(s)):\n{lines}")


def _pointer(parts: Any) -> str:
    """A JSON pointer (RFC 6901) for a path of keys and indices."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError([Problem(path.name, "", f"not JSON: {exc}")]) from exc
    except yaml.YAMLError as exc:
        raise CatalogueError([Problem(path.name, "", f"not YAML: {exc}")]) from exc


def _schema_problems(file: str, data: Any) -> list[Problem]:
    validator = jsonschema.Draft202012Validator(CATALOGUE_SCHEMA)
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = _pointer(err.absolute_path)
        if err.validator == "oneOf" and len(err.absolute_path) == 2:
            message = "a topic has exactly one of `request` or `event`"
        elif err.validator == "additionalProperties" and err.validator_value is False:
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            allowed = ", ".join(sorted(err.schema.get("properties", {})))
            message = f"unknown key(s) {', '.join(map(repr, extra))} (allowed: {allowed})"
        else:
            message = err.message
        problems.append(Problem(file, where, message))
    return problems


def _check_topic(topic: str) -> tuple[list[str], list[str]]:
    """(problems, parameter names) of one topic template against spec/protocol.md §5."""
    problems: list[str] = []
    params: list[str] = []
    tokens = topic.split(".")
    if topic.startswith("_"):
        problems.append("topics starting with `_` are reserved for the protocol (§5.3)")
    for i, token in enumerate(tokens):
        if token == "":
            problems.append("empty token (§5.1 rule 1)")
        elif token in ("*", ">"):
            problems.append(f"wildcard {token!r}: a catalogue topic is literal (§5.1 rule 4)")
        elif (m := PARAM_RE.match(token)) is not None:
            if m.group(1) in params:
                problems.append(f"parameter {{{m.group(1)}}} appears twice")
            params.append(m.group(1))
        elif "{" in token or "}" in token:
            problems.append(
                f"token {token!r}: a parameter must be a whole token `{{name}}` "
                "(lower-case first letter, then letters, digits, `_`)"
            )
        elif not _LITERAL_TOKEN.match(token):
            problems.append(
                f"token {token!r}: catalogue tokens are ASCII letters, digits, `_` and `-` "
                "(a subset of §5.1 that every generated name can be built from)"
            )
        elif i == 0 and not token[0].isalpha():
            problems.append(f"token {token!r}: the first token starts with a letter")
    if not template_tokens(topic):
        problems.append("a topic needs at least one literal token (its generated name)")
    if len(tokens) > _MAX_TOKENS:
        problems.append(f"{len(tokens)} tokens, at most {_MAX_TOKENS} (§5.1 rule 2)")
    if len(topic.encode()) > _MAX_TOPIC_BYTES:
        problems.append(f"longer than {_MAX_TOPIC_BYTES} bytes (§5.1 rule 2)")
    return problems, params


def _overlap(a: str, b: str) -> bool:
    """True when some literal topic is an instance of both templates."""
    ta, tb = a.split("."), b.split(".")
    if len(ta) != len(tb):
        return False
    return all(
        x == y or PARAM_RE.match(x) or PARAM_RE.match(y) for x, y in zip(ta, tb, strict=True)
    )


def _walk_schema(
    node: dict[str, Any], where: str, types: dict[str, Any], top: bool
) -> Iterator[tuple[str, str]]:
    """(pointer, problem) for the rules of spec/catalogue.md §5 the JSON Schema cannot say."""
    if "$ref" in node:
        extra = set(node) - {"$ref", "description"}
        if extra:
            yield where, f"`$ref` allows only `description` beside it, not {sorted(extra)}"
        name = str(node["$ref"]).rsplit("/", 1)[1]
        if name not in types:
            yield where + "/$ref", f"{node['$ref']!r} does not resolve: no type {name!r} in /types"
        return
    kind = node.get("type")
    if kind is None:
        yield where, "a schema needs `type` (or a `$ref`)"
        return
    allowed = _BY_TYPE[kind] | _ANNOTATIONS | {"type"}
    for key in sorted(set(node) - allowed):
        yield where + "/" + key, f"`{key}` does not apply to type {kind!r}"
    for low, high in _BOUNDS:
        if low in node and high in node and node[low] > node[high]:
            yield where, f"`{low}` {node[low]} is above `{high}` {node[high]}"
    if "pattern" in node:
        try:
            re.compile(node["pattern"])
        except re.error as exc:
            yield where + "/pattern", f"not a valid regular expression: {exc}"
        if "$" in node["pattern"].rstrip("$"):
            yield where + "/pattern", "`$` is supported only as the last character"
    if kind == "object":
        props: dict[str, Any] = node.get("properties", {})
        for name in node.get("required", []):
            if name not in props:
                yield where + "/required", f"required {name!r} is not in `properties`"
        if props and not top:
            yield (
                where,
                (
                    "an object with `properties` inside another schema must be a named type: "
                    "move it to /types and `$ref` it (generated names stay predictable, §6.2)"
                ),
            )
        for name, sub in props.items():
            yield from _walk_schema(sub, f"{where}/properties/{name}", types, False)
    if kind == "array" and "items" in node:
        yield from _walk_schema(node["items"], where + "/items", types, False)


def json_schema_of(schema: dict[str, Any], types: dict[str, Any]) -> dict[str, Any]:
    """A standalone JSON Schema for ``schema``: ``#/types/X`` becomes ``#/$defs/X``."""

    def local(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: ("#/$defs/" + v.rsplit("/", 1)[1] if k == "$ref" else local(v))
                for k, v in node.items()
                if k != "examples"
            }
        if isinstance(node, list):
            return [local(item) for item in node]
        return node

    out = cast(dict[str, Any], local(schema))
    out["$defs"] = {name: local(t) for name, t in types.items()}
    return out


def _example_problems(
    schema: dict[str, Any], where: str, types: dict[str, Any]
) -> Iterator[tuple[str, str]]:
    full = json_schema_of(schema, types)
    validator = jsonschema.Draft202012Validator(full)
    for i, example in enumerate(schema.get("examples", [])):
        err = jsonschema.exceptions.best_match(validator.iter_errors(example))
        if err is not None:
            yield f"{where}/examples/{i}", f"example does not fit its schema: {err.message}"


def parse_catalogue(data: Any, path: Path) -> Catalogue:
    """Validate already-parsed catalogue data; raises :class:`CatalogueError`."""
    file = path.name
    problems = _schema_problems(file, data)
    if problems:
        raise CatalogueError(problems)
    types: dict[str, Any] = data.get("types", {})
    prefix = class_name(data["name"])
    out: list[Problem] = []

    def add(where: str, message: str) -> None:
        out.append(Problem(file, where, message))

    named: list[NamedSchema] = []
    type_names: dict[str, str] = {}
    for name, schema in types.items():
        where = _pointer(["types", name])
        if "$ref" in schema:
            add(where, "a shared type is a schema of its own, not a bare `$ref`")
        for w, msg in _walk_schema(schema, where, types, True):
            add(w, msg)
        for w, msg in _example_problems(schema, where, types):
            add(w, msg)
        named.append(NamedSchema(name, schema, where))
        type_names[name] = where

    ops: list[Operation] = []
    methods: dict[str, dict[str, str]] = {"client": {}, "server": {}}
    error_codes: dict[str, str] = {}
    topics: dict[str, Any] = data["topics"]
    seen: list[str] = []
    for topic, spec in topics.items():
        where = _pointer(["topics", topic])
        topic_problems, params = _check_topic(topic)
        for msg in topic_problems:
            add(where, msg)
        if topic_problems:
            continue
        for other in seen:
            if _overlap(topic, other):
                add(where, f"collides with topic {other!r}: some literal topic matches both")
        seen.append(topic)
        for name in spec.get("parameters", {}):
            if name not in params:
                add(f"{where}/parameters/{name}", f"{{{name}}} is not a parameter of {topic!r}")
        kind = "request" if "request" in spec else "event"
        op = spec[kind]
        base = pascal(topic)
        slots = [("body", "Request" if kind == "request" else "Event")]
        if kind == "request":
            slots.append(("response", "Response"))
        names: dict[str, str] = {}
        for slot, suffix in slots:
            schema = op[slot]
            sw = f"{where}/{kind}/{slot}"
            for w, msg in _walk_schema(schema, sw, types, True):
                add(w, msg)
            for w, msg in _example_problems(schema, sw, types):
                add(w, msg)
            if "$ref" in schema:
                names[slot] = str(schema["$ref"]).rsplit("/", 1)[1]
                continue
            type_name = base + suffix
            if type_name in type_names:
                add(sw, f"its generated type {type_name} collides with {type_names[type_name]}")
            type_names[type_name] = sw
            names[slot] = type_name
            named.append(NamedSchema(type_name, schema, sw))
        codes = tuple(op.get("errors", []))
        for i, code in enumerate(codes):
            if code in STANDARD_CODES:
                add(
                    f"{where}/{kind}/errors/{i}",
                    f"{code} is a standard code (spec/protocol.md §11.2): always possible, "
                    "never declared",
                )
            else:
                error_codes.setdefault(code, f"{where}/{kind}/errors/{i}")
        operation = Operation(
            topic=topic,
            kind=kind,
            sender=op["from"],
            params=tuple(params),
            body=op["body"],
            body_type=names["body"],
            response=op.get("response"),
            response_type=names.get("response"),
            errors=tuple(c for c in codes if c not in STANDARD_CODES),
            description=op.get("description", spec.get("description", "")),
            deprecated=bool(spec.get("deprecated", False)),
            snake=snake(topic),
            camel=camel(topic),
            pascal=base,
            param_descriptions={
                k: v.get("description", "") for k, v in spec.get("parameters", {}).items()
            },
        )
        for side, member in _members(operation):
            taken = methods[side].get(member)
            if taken is not None:
                add(where, f"its {side} method {member!r} collides with topic {taken!r}")
            methods[side][member] = topic
        ops.append(operation)
    for code, where in error_codes.items():
        cls = error_class(code)
        if cls in type_names or cls in (prefix + "Client", prefix + "Server"):
            add(where, f"its exception class {cls} collides with a generated type")
    if out:
        raise CatalogueError(out)
    return Catalogue(
        path=path,
        source=data,
        name=data["name"],
        class_prefix=prefix,
        version=data["version"],
        title=data.get("title", prefix),
        description=data.get("description", ""),
        types=types,
        operations=tuple(ops),
        named=tuple(named),
        errors=tuple(sorted(error_codes)),
    )


def _members(op: Operation) -> Iterator[tuple[str, str]]:
    """(side, Python method name) of every member an operation generates (§6.1)."""
    if op.kind == "request":
        yield (
            ("server" if op.sender == "client" else "client"),
            (op.snake if op.sender == "client" else "handle_" + op.snake),
        )
        yield ("client" if op.sender == "client" else "server"), op.snake
        return
    if op.from_client:
        yield "client", "publish_" + op.snake
        yield "server", "subscribe_" + op.snake
    if op.from_server:
        yield "server", "publish_" + op.snake
        yield "client", "subscribe_" + op.snake


def load_catalogue(path: str | Path) -> Catalogue:
    """Read, validate and model a catalogue file (``.json`` as JSON, anything else as YAML)."""
    p = Path(path)
    return parse_catalogue(_read(p), p)
