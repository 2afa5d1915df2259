"""The loaded catalogue as data (spec/catalogue.md): what every generator and checker reads.

Why a model of its own rather than the raw YAML: names, parameters and body type names are
derived once, by the rules of spec/catalogue.md §6, so the Python SDK, the TypeScript SDK, the
AsyncAPI export and the contract tests cannot disagree about them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["Catalogue", "NamedSchema", "Operation", "Problem"]

Kind = Literal["request", "event"]
Sender = Literal["client", "server", "any"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a catalogue: where (file, JSON pointer) and what."""

    file: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.pointer or '/'}: {self.message}"


@dataclass(frozen=True)
class NamedSchema:
    """A schema with a generated type name: a shared type or an inline body (§6.2)."""

    name: str
    schema: dict[str, Any]
    pointer: str
    """Where it is in the catalogue (for messages and docs)."""


@dataclass(frozen=True)
class Operation:
    """One topic of the catalogue with everything the generators need."""

    topic: str
    """The template as written: ``chat.{room}.message``."""
    kind: Kind
    sender: Sender
    params: tuple[str, ...]
    body: dict[str, Any]
    body_type: str
    response: dict[str, Any] | None
    response_type: str | None
    errors: tuple[str, ...]
    description: str
    deprecated: bool
    snake: str
    camel: str
    pascal: str
    param_descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def pattern(self) -> str:
        """The subscription pattern matching every instance: parameters become ``*``."""
        return ".".join("*" if t.startswith("{") else t for t in self.topic.split("."))

    @property
    def from_client(self) -> bool:
        """Clients send it (``from: client`` or ``any``)."""
        return self.sender in ("client", "any")

    @property
    def from_server(self) -> bool:
        """Server code sends it (``from: server`` or ``any``)."""
        return self.sender in ("server", "any")


@dataclass(frozen=True)
class Catalogue:
    """A validated catalogue (``load_catalogue``)."""

    path: Path
    source: dict[str, Any]
    name: str
    class_prefix: str
    version: str
    title: str
    description: str
    types: dict[str, dict[str, Any]]
    operations: tuple[Operation, ...]
    named: tuple[NamedSchema, ...]
    """Every schema with a generated type: shared types first, then inline bodies in topic order."""
    errors: tuple[str, ...]
    """Every declared application error code, sorted."""

    @property
    def file_name(self) -> str:
        """The catalogue's file name, as generated headers cite it."""
        return self.path.name

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow a ``$ref`` to the shared type (once; types are never bare refs)."""
        ref = schema.get("$ref")
        if ref is None:
            return schema
        return self.types[str(ref).rsplit("/", 1)[1]]
