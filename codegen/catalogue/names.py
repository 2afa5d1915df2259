"""Naming rules of generated SDKs (spec/catalogue.md §6): topic → method, body → type, code → class.

Why fixed rules rather than options: users read the catalogue and must be able to predict every
name the SDK exposes without opening the generated code (``orders.create`` → ``orders_create``,
``ordersCreate``, ``OrdersCreateRequest``), and the Python and TypeScript SDKs must name the same
things the same way.
"""

from __future__ import annotations

import keyword
import re

__all__ = [
    "PARAM_RE",
    "camel",
    "class_name",
    "error_class",
    "pascal",
    "py_ident",
    "snake",
    "template_tokens",
    "ts_ident",
    "words",
]

PARAM_RE = re.compile(r"^\{([a-z][A-Za-z0-9_]{0,63})\}$")
"""A parameter token: ``{name}``, the whole token (spec/catalogue.md §3.2)."""

_SPLIT = re.compile(r"[._\-]+|(?<=[a-z0-9])(?=[A-Z])")
_TS_RESERVED = frozenset(
    {
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "import",
        "in",
        "instanceof",
        "new",
        "null",
        "return",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
        "let",
        "static",
        "implements",
        "interface",
        "package",
        "private",
        "protected",
        "public",
        "await",
    }
)


def template_tokens(topic: str) -> list[str]:
    """The literal tokens of a topic template (parameters dropped), in order."""
    return [t for t in topic.split(".") if not PARAM_RE.match(t)]


def words(text: str) -> list[str]:
    """Lower-case words of a topic, token or code: split on ``.``, ``_``, ``-`` and camelCase."""
    return [w.lower() for w in _SPLIT.split(text) if w]


def snake(topic: str) -> str:
    """``chat.{room}.message`` → ``chat_message`` (parameters are not part of the name)."""
    return "_".join(w for t in template_tokens(topic) for w in words(t))


def camel(topic: str) -> str:
    """``orders.create`` → ``ordersCreate``."""
    ws = [w for t in template_tokens(topic) for w in words(t)]
    return ws[0] + "".join(w[:1].upper() + w[1:] for w in ws[1:])


def pascal(topic: str) -> str:
    """``ui.confirm`` → ``UiConfirm``."""
    return "".join(w[:1].upper() + w[1:] for t in template_tokens(topic) for w in words(t))


def class_name(name: str) -> str:
    """Catalogue ``name`` → class prefix: ``shop`` → ``Shop``, ``task_board`` → ``TaskBoard``."""
    return "".join(w[:1].upper() + w[1:] for w in words(name))


def error_class(code: str) -> str:
    """``OUT_OF_STOCK`` → ``OutOfStock``."""
    return "".join(w[:1].upper() + w[1:] for w in code.lower().split("_") if w)


def py_ident(name: str) -> str:
    """A Python identifier for a parameter or field name: keywords get a trailing ``_``."""
    return name + "_" if keyword.iskeyword(name) or keyword.issoftkeyword(name) else name


def ts_ident(name: str) -> str:
    """A TypeScript identifier for a parameter: reserved words get a trailing ``_``."""
    return name + "_" if name in _TS_RESERVED else name
