"""Validation of what the server sends against the spec's JSON Schemas (spec §15.1).

The schemas are optional at run time: found next to the vectors (``spec/schema`` beside
``spec/vectors``), else not used.  When present, every server frame (up to a cap, so long runs
stay cheap) is validated against ``envelope.schema.json`` and the bodies of control answers
against their ``control.schema.json`` definitions; problems are collected like any other
invalid frame and reported by case 2.9.1, or by the case that received the control body.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from referencing import Registry, Resource

from .vectors import find_vectors_dir

__all__ = ["Schemas", "WsmqValidator", "load_schemas"]


def _max_utf8_bytes(_v: Any, limit: int, instance: Any, _schema: Any) -> Any:
    if isinstance(instance, str) and len(instance.encode("utf-8", "surrogatepass")) > limit:
        yield ValidationError(f"{instance!r} is longer than {limit} UTF-8 bytes")


def _max_tokens(_v: Any, limit: int, instance: Any, _schema: Any) -> Any:
    if isinstance(instance, str) and instance.count(".") + 1 > limit:
        yield ValidationError(f"{instance!r} has more than {limit} '.'-separated tokens")


WsmqValidator: Any = validators.extend(
    Draft202012Validator, {"x-maxUtf8Bytes": _max_utf8_bytes, "x-maxTokens": _max_tokens}
)
"""Draft 2020-12 plus the two wsmq extension keywords (spec §15.1), which the topic limits
use; plain draft 2020-12 would judge topic *shape* and code points only."""

BASE = "https://websocketmq.dev/spec/wsmq-1/"


class Schemas:
    """Compiled validators for the envelope and each control-body definition."""

    def __init__(self, envelope: dict[str, Any], control: dict[str, Any]) -> None:
        registry: Registry = Registry().with_resources(
            [
                (
                    envelope.get("$id", BASE + "envelope.schema.json"),
                    Resource.from_contents(envelope),
                ),
                (control.get("$id", BASE + "control.schema.json"), Resource.from_contents(control)),
            ]
        )
        self._envelope = WsmqValidator(envelope, registry=registry)
        self._control_id = control.get("$id", BASE + "control.schema.json")
        self._registry = registry
        self._defs: dict[str, Any] = {}
        self.control_defs = set(control.get("$defs", {}))

    def envelope_problems(self, obj: Any) -> list[str]:
        return [_describe(e) for e in self._envelope.iter_errors(obj)][:3]

    def body_problems(self, definition: str, body: Any) -> list[str]:
        """Problems of ``body`` against ``control.schema.json#/$defs/<definition>``."""
        if definition not in self.control_defs:
            return []
        v = self._defs.get(definition)
        if v is None:
            ref = {"$ref": f"{self._control_id}#/$defs/{definition}"}
            v = self._defs[definition] = WsmqValidator(ref, registry=self._registry)
        return [_describe(e) for e in v.iter_errors(body)][:3]


def _describe(e: Any) -> str:
    path = "/".join(str(p) for p in e.absolute_path) or "(root)"
    return f"{path}: {e.message[:160]}"


@cache
def load_schemas(vectors_dir: str | None = None) -> Schemas | None:
    d = find_vectors_dir(vectors_dir)
    if d is None:
        return None
    sd = d.parent / "schema"
    env, ctl = sd / "envelope.schema.json", sd / "control.schema.json"
    if not (env.is_file() and ctl.is_file()):
        return None
    return Schemas(_read(env), _read(ctl))


def _read(p: Path) -> dict[str, Any]:
    data = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{p} is not a JSON object")
    return data
