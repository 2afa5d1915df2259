"""The jinja2 environment every catalogue template renders in (one template per output file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from .names import error_class

__all__ = ["TEMPLATES", "environment"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _doc(text: str, indent: str = "    ") -> str:
    """A docstring body: the text with ``\"\"\"`` defused, continuation lines indented."""
    text = " ".join(text.split()).replace('"""', "'''").replace("\\", "\\\\")
    return text


def _jsdoc(text: str) -> str:
    return " ".join(text.split()).replace("*/", "* /")


def environment() -> jinja2.Environment:
    """Strict (undefined names fail), no autoescape, whitespace-controlled."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["doc"] = _doc
    env.filters["jsdoc"] = _jsdoc
    env.filters["json"] = lambda v: json.dumps(v, ensure_ascii=False)
    env.filters["pyrepr"] = repr
    env.filters["error_class"] = error_class

    def indent_json(value: Any, spaces: int = 2) -> str:
        return json.dumps(value, indent=spaces, ensure_ascii=False)

    env.filters["json_block"] = indent_json
    return env
