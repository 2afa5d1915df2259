"""An application's catalogue as the contract tests read it (spec/catalogue.md).

The suite never imports ``websocketmq``, so it reads the catalogue itself: YAML (PyYAML's safe
loader) or JSON (§2.1), validated against ``catalogue.schema.json`` when the spec's schemas are
found (§2.2; the rules of §4 are the code generator's business, a catalogue a server was built
from has passed them). Every body, response and shared type becomes a standalone JSON Schema:
``#/types/Name`` references point into a ``$defs`` copy of ``types``, and the ASCII meaning of
``\\d`` and ``\\w`` (§5 rule 5) is spelled out, because Python's ``re`` (which jsonschema and
hypothesis-jsonschema use) would also take non-ASCII digits and letters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from .vectors import find_vectors_dir

__all__ = ["Catalogue", "CatalogueError", "Operation", "load_catalogue"]

_PARAM = re.compile(r"\{([a-z][A-Za-z0-9_]{0,63})\}")
_ASCII_CLASSES = {r"\d": "[0-9]", r"\w": "[A-Za-z0-9_]"}


class CatalogueError(Exception):
    """The catalogue cannot be read or breaks its schema (the message names file and pointer)."""


def _ascii_pattern(pattern: str) -> str:
    r"""``\d``/``\w`` as §5 rule 5 defines them (ASCII), outside and inside character classes."""
    out, i = [], 0
    while i < len(pattern):
        two = pattern[i : i + 2]
        if two in _ASCII_CLASSES:
            rep = _ASCII_CLASSES[two]
            inside = pattern[:i].count("[") > pattern[:i].count("]")
            out.append(rep[1:-1] if inside else rep)
            i += 2
        elif pattern[i] == "\\":
            out.append(two)
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def _standalone(schema: Any) -> Any:
    """A catalogue schema with ``#/types/X`` as ``#/$defs/X`` and ASCII character classes."""
    if isinstance(schema, dict):
        out: dict[str, Any] = {}
        for k, v in schema.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/types/"):
                out[k] = "#/$defs/" + v[len("#/types/") :]
            elif k == "pattern" and isinstance(v, str):
                out[k] = _ascii_pattern(v)
            elif k in ("examples", "enum", "const"):
                out[k] = v
            else:
                out[k] = _standalone(v)
        return out
    if isinstance(schema, list):
        return [_standalone(v) for v in schema]
    return schema


@dataclass
class Operation:
    """One topic of the catalogue and its operation (§3.1)."""

    topic: str  # the template, e.g. "chat.{room}.message"
    kind: str  # "request" or "event"
    sender: str  # "client", "server" or "any"
    body: dict[str, Any]  # standalone JSON Schemas
    response: dict[str, Any] | None = None
    errors: tuple[str, ...] = ()
    examples: list[Any] = field(default_factory=list)  # of the body (§3.3: seed the tests)
    params: tuple[str, ...] = ()

    @property
    def pattern(self) -> str:
        """The subscription pattern of every instance: each parameter token is ``*``."""
        return ".".join("*" if _PARAM.fullmatch(t) else t for t in self.topic.split("."))

    def instance(self, values: dict[str, str]) -> str:
        """The literal topic for parameter ``values``."""
        return ".".join(
            values[m.group(1)] if (m := _PARAM.fullmatch(t)) else t for t in self.topic.split(".")
        )

    def matches(self, topic: str) -> bool:
        """Whether the literal ``topic`` is an instance of this template (§3.2)."""
        mine, theirs = self.topic.split("."), topic.split(".")
        return len(mine) == len(theirs) and all(
            _PARAM.fullmatch(a) is not None or a == b for a, b in zip(mine, theirs, strict=True)
        )


class Catalogue:
    """The operations of one catalogue and the validators of their schemas."""

    def __init__(self, name: str, path: str, operations: list[Operation]) -> None:
        self.name = name
        self.path = path
        self.operations = operations
        self._validators: dict[int, Any] = {}

    def problems(self, schema: dict[str, Any], value: Any) -> list[str]:
        """What is wrong with ``value`` under ``schema`` (empty: valid), as pointer: message."""
        key = id(schema)
        v = self._validators.get(key)
        if v is None:
            v = self._validators[key] = Draft202012Validator(schema)
        return [
            f"{'/' + '/'.join(map(str, e.absolute_path)) if e.absolute_path else '(body)'}: "
            f"{e.message} ({e.validator})"
            for e in sorted(v.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
        ]

    def operation_for(self, topic: str, kind: str) -> Operation | None:
        """The operation whose template ``topic`` is an instance of, with message ``kind``."""
        for op in self.operations:
            if op.kind == kind and op.matches(topic):
                return op
        return None

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    try:
        import yaml  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        raise CatalogueError(
            f"{path}: reading a YAML catalogue needs PyYAML: "
            "pip install 'websocketmq[conformance]' (or give a .json catalogue)"
        ) from None
    return yaml.safe_load(text)


def _check_schema(path: Path, data: Any) -> None:
    vectors = find_vectors_dir()
    schema_file = vectors.parent / "schema" / "catalogue.schema.json" if vectors else None
    if schema_file is None or not schema_file.is_file():
        return  # the spec's schemas are not around: read what is there
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    errors = sorted(
        Draft202012Validator(schema).iter_errors(data), key=lambda e: list(map(str, e.path))
    )
    if errors:
        lines = [
            f"{path}: /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]
        ]
        raise CatalogueError("catalogue breaks catalogue.schema.json:\n  " + "\n  ".join(lines))


def load_catalogue(file: str | Path) -> Catalogue:
    """Read and check a catalogue file; raises CatalogueError with file and JSON pointer."""
    path = Path(file)
    try:
        data = _read(path)
    except OSError as exc:
        raise CatalogueError(f"{path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # JSON and YAML parse errors (yaml.YAMLError is not one)
        raise CatalogueError(f"{path}: not valid JSON: {exc}") from None
    except Exception as exc:  # yaml.YAMLError: the parser's own position message
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: a catalogue is a mapping (spec/catalogue.md §3)")
    _check_schema(path, data)
    defs = _standalone(data.get("types") or {})
    ops: list[Operation] = []
    for topic, entry in (data.get("topics") or {}).items():
        kind = "request" if "request" in entry else "event"
        spec = entry[kind]

        def whole(schema: Any) -> dict[str, Any]:
            out = _standalone(schema)
            return {**out, "$defs": defs} if defs else out

        examples = list(spec["body"].get("examples", []))
        ref = spec["body"].get("$ref", "")
        if ref.startswith("#/types/"):
            examples += list((data.get("types") or {}).get(ref[8:], {}).get("examples", []))
        ops.append(
            Operation(
                topic=topic,
                kind=kind,
                sender=spec["from"],
                body=whole(spec["body"]),
                response=whole(spec["response"]) if kind == "request" else None,
                errors=tuple(spec.get("errors", ())),
                examples=examples,
                params=tuple(m.group(1) for t in topic.split(".") if (m := _PARAM.fullmatch(t))),
            )
        )
    return Catalogue(str(data.get("name", path.stem)), str(path), ops)
