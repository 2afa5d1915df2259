"""Broker configuration from the command line and the environment (docs/operations.md,
"Configuration").

Every field of :class:`~websocketmq.broker.BrokerOptions` is reachable as ``--field-name`` on
``wsmq serve`` and as ``WSMQ_FIELD_NAME`` in the environment. The flags, their parsers and the
documentation table are generated here from the dataclass fields (their type hints and the
docstrings under them), not from a hand-kept list, so a new option is configurable the day it
is added. Precedence: command line, then environment, then the documented default.

How a value is read follows the field's type:

* ``bool``: a flag pair ``--metrics`` / ``--no-metrics``; in the environment ``1``/``true``/
  ``yes``/``on`` or ``0``/``false``/``no``/``off``;
* ``int``, ``float``, ``str``; ``bytes`` (UTF-8 of the text); a field that may be ``None``
  takes ``none`` for it;
* a sequence (e.g. ``allowed_origins``): comma-separated and, on the command line, repeatable
  (``none`` stands for the ``None`` item where the type has one);
* anything else (hooks such as ``authenticate``, the ``backend``): ``package.module:attribute``,
  loaded like ``wsmq serve APP`` loads its application; a class or factory where an instance is
  expected is called without arguments.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .broker import options as _options_module
from .broker.options import BrokerOptions

__all__ = [
    "ENV_PREFIX",
    "ConfigError",
    "OptionSpec",
    "add_arguments",
    "from_sources",
    "load_object",
    "markdown_table",
    "option_specs",
]

ENV_PREFIX = "WSMQ_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_ALIASES = {"allowed_origins": ("--allowed-origin",)}
"""Flags kept from before the options were generated (``--allowed-origin`` is repeatable)."""


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names its source (the flag or
    the environment variable) and says what was expected, in one line."""


@dataclass(frozen=True)
class OptionSpec:
    """How one ``BrokerOptions`` field is read from text."""

    name: str
    kind: str
    """``bool``, ``int``, ``float``, ``str``, ``bytes``, ``list`` or ``object`` (import path)."""
    nullable: bool
    """Whether ``none`` means ``None``."""
    item_nullable: bool
    """For ``list``: whether an item may be ``None``."""
    target: type | None
    """For ``object``: the class an instance of which is expected (a factory is called)."""
    help: str

    @property
    def flag(self) -> str:
        """``--field-name``."""
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        """``WSMQ_FIELD_NAME``."""
        return ENV_PREFIX + self.name.upper()

    def parse(self, text: str, source: str) -> Any:
        """The field's value from ``text``; ConfigError naming ``source`` when it is not one."""
        raw = text.strip()
        if self.nullable and raw.lower() == "none" and self.kind != "list":
            return None  # in a list, ``none`` is an item (allowed_origins: no Origin header)
        try:
            if self.kind == "bool":
                low = raw.lower()
                if low in _TRUE:
                    return True
                if low in _FALSE:
                    return False
                raise ValueError("expected one of 1/true/yes/on or 0/false/no/off")
            if self.kind == "int":
                return int(raw)
            if self.kind == "float":
                return float(raw)
            if self.kind == "str":
                return raw
            if self.kind == "bytes":
                return raw.encode()
            if self.kind == "list":
                items = [item.strip() for item in raw.split(",") if item.strip()]
                return [None if self.item_nullable and i.lower() == "none" else i for i in items]
            return self._load(raw)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        except ValueError as exc:
            expected = {"int": "an integer", "float": "a number"}.get(self.kind)
            why = f"expected {expected}" if expected else str(exc)
            raise ConfigError(f"{source}: {raw!r}: {why}") from None

    def _load(self, path: str) -> Any:
        obj = load_object(path)
        target = self.target
        if target is not None and not isinstance(obj, target) and callable(obj):
            obj = obj()
        if target is not None and not isinstance(obj, target):
            raise ConfigError(f"{path} is not a {target.__name__}")
        return obj

    def markdown_type(self) -> str:
        """What the documentation table says the value is."""
        text = {
            "bool": "flag / `true`, `false`",
            "int": "integer",
            "float": "number",
            "str": "text",
            "bytes": "text (UTF-8)",
            "list": "comma-separated list",
            "object": "`module:attribute`",
        }[self.kind]
        if self.kind == "list":
            return text + (" (`none`: a None item)" if self.item_nullable else "")
        return text + (", `none`" if self.nullable and self.kind != "object" else "")


def _field_docs() -> dict[str, str]:
    """The docstring under each field of ``BrokerOptions`` (read from its source: dataclass
    attribute docstrings do not exist at run time)."""
    try:
        tree = ast.parse(inspect.getsource(_options_module))
    except (OSError, TypeError):  # no source (frozen app): flags without help text
        return {}
    docs: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "BrokerOptions":
            body = node.body
            for stmt, after in zip(body, [*body[1:], None], strict=True):
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    docs[stmt.target.id] = " ".join(after.value.value.split())
    return docs


def _first_sentence(text: str) -> str:
    """The first sentence, Sphinx roles and reST literals turned into Markdown code."""
    end = text.find(". ")
    text = text if end < 0 else text[: end + 1]
    return _LITERAL.sub(r"`\1`", _ROLE.sub(r"`\1`", text))


_ROLE = re.compile(r":\w+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def _classify(tp: Any) -> tuple[str, bool, bool, type | None]:
    """(kind, nullable, item_nullable, target) of a type hint."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        core = [a for a in args if a is not type(None)]
        nullable = len(core) < len(args)
    else:
        core, nullable = [tp], False
    if len(core) == 1:
        (one,) = core
        for kind in (bool, int, float, str, bytes):  # bool before int: bool is an int
            if one is kind:
                return kind.__name__, nullable, False, None
        origin = typing.get_origin(one)
        if origin in (list, tuple, Sequence, typing.Sequence):
            (item,) = typing.get_args(one)[:1] or (str,)
            item_args = typing.get_args(item)
            return "list", nullable, type(None) in item_args, None
        if isinstance(one, type) and origin is None:
            return "object", nullable, False, one
    return "object", nullable, False, None


def option_specs() -> list[OptionSpec]:
    """One :class:`OptionSpec` per ``BrokerOptions`` field, in declaration order."""
    from .backends.base import Backend  # only a TYPE_CHECKING name in broker/options.py

    hints = typing.get_type_hints(BrokerOptions, localns={"Backend": Backend})
    docs = _field_docs()
    specs = []
    for f in dataclasses.fields(BrokerOptions):
        kind, nullable, item_nullable, target = _classify(hints[f.name])
        specs.append(
            OptionSpec(f.name, kind, nullable, item_nullable, target, docs.get(f.name, ""))
        )
    return specs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--field-name`` for every ``BrokerOptions`` field. Their defaults are left out of
    the namespace (``SUPPRESS``), so :func:`from_sources` knows which were given."""
    group = parser.add_argument_group(
        "broker options", f"each also as an environment variable {ENV_PREFIX}FIELD_NAME"
    )
    defaults = BrokerOptions.default()
    for spec in option_specs():
        text = _first_sentence(spec.help).replace("%", "%%")
        default = getattr(defaults, spec.name)
        if spec.kind in ("int", "float", "str", "bool") or default is None:
            text += f" (default {default})"
        text += f" [{spec.env}]"
        flags = (spec.flag, *_ALIASES.get(spec.name, ()))
        if spec.kind == "bool":
            group.add_argument(
                *flags,
                dest=spec.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=text,
            )
            continue
        metavar = {"list": "A,B", "object": "MODULE:ATTR"}.get(spec.kind, spec.kind.upper())
        group.add_argument(
            *flags,
            dest=spec.name,
            action="append" if spec.kind == "list" else "store",
            default=argparse.SUPPRESS,
            metavar=metavar,
            help=text,
        )


def from_sources(
    args: argparse.Namespace | Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    base: BrokerOptions | None = None,
) -> tuple[BrokerOptions, list[str]]:
    """``BrokerOptions`` from the command line (``args`` from a parser given
    :func:`add_arguments`), then ``environ`` (default ``os.environ``), then ``base`` (default
    the documented defaults). Returns the options and the names of the fields set by either
    source. Raises :class:`ConfigError`."""
    given = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
    env = os.environ if environ is None else environ
    options = base if base is not None else BrokerOptions.default()
    changed = []
    for spec in option_specs():
        if spec.name in given:
            raw = given[spec.name]
            if spec.kind == "bool":
                value = raw
            elif spec.kind == "list":
                value = []
                for item in raw if isinstance(raw, list) else [raw]:
                    value.extend(spec.parse(item, spec.flag))
            else:
                value = spec.parse(raw, spec.flag)
        elif spec.env in env:
            value = spec.parse(env[spec.env], spec.env)
        else:
            continue
        setattr(options, spec.name, value)
        changed.append(spec.name)
    return options, changed


def load_object(path: str) -> Any:
    """``package.module:attribute`` (the attribute may be dotted), as uvicorn loads
    ``module:app``; the current directory is on ``sys.path``. ConfigError in one line when
    it cannot be loaded."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{path!r}: expected package.module:attribute")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise ConfigError(
                f"cannot import {module_name!r}: no module named {exc.name!r} (run from the "
                "directory that holds it, or set PYTHONPATH)"
            ) from None
        raise ConfigError(f"importing {module_name!r} failed: {_describe(exc)}") from None
    except Exception as exc:
        raise ConfigError(f"importing {module_name!r} failed: {_describe(exc)}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _describe(exc: BaseException) -> str:
    """``Type: message (file:line)`` of an exception raised while importing user code."""
    where = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({exc.filename}:{exc.lineno})"
    elif tb is not None:
        where = f" ({tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})"
    return f"{type(exc).__name__}: {exc}{where}"


def markdown_table(specs: Callable[[], list[OptionSpec]] = option_specs) -> str:
    """The documentation table of every option (docs/operations.md, "Configuration"), which
    tests/test_config.py compares with the page."""
    defaults = BrokerOptions.default()
    rows = [
        "| flag | environment | value | default | what it does |",
        "| --- | --- | --- | --- | --- |",
    ]
    for spec in specs():
        default = getattr(defaults, spec.name)
        if spec.name == "resume_secret":
            shown = "random per process"
        elif spec.name == "backend":
            shown = "in memory (one process)"
        else:
            shown = f"`{default!r}`" if default is not None else "`none`"
        flag = f"`{spec.flag}`" + (f" / `--no-{spec.flag[2:]}`" if spec.kind == "bool" else "")
        text = _first_sentence(spec.help).replace("|", "\\|")
        rows.append(f"| {flag} | `{spec.env}` | {spec.markdown_type()} | {shown} | {text} |")
    return "\n".join(rows) + "\n"
