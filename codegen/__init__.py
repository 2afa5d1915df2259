"""The wsmq/1 code generator: spec/schema/*.json in, typed models out (spec/protocol.md §15).

Why a generator: the JSON Schemas in ``spec/schema/`` are the single source of truth for message
shapes; the Python models (``python/src/websocketmq/models.py``, msgspec Structs written by
datamodel-code-generator) and the TypeScript types and runtime guard
(``typescript/src/generated/*.ts``, jinja2 templates) are derived from them and committed, so a
reader never needs the generator to use them. ``python -m codegen --check`` regenerates in
memory and fails on any difference, which keeps the committed files honest in CI.
"""

from __future__ import annotations

from .generate import OUTPUTS, REPO_ROOT, generate_all, main

__all__ = ["OUTPUTS", "REPO_ROOT", "generate_all", "main"]
