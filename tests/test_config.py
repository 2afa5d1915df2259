"""Configuration (websocketmq.config, docs/operations.md "Configuration"): every BrokerOptions
field is reachable from the command line and from WSMQ_* variables, with the precedence
command line > environment > default, and the documentation table is the generated one.

The subprocess end of it (a real ``wsmq serve`` reading flags and environment) is in
tests/test_cli.py; here each field is set both ways through the real parser of ``wsmq serve``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from websocketmq import BrokerOptions
from websocketmq.backends.memory import MemoryBackend
from websocketmq.cli import _parser
from websocketmq.config import ConfigError, OptionSpec, from_sources, markdown_table, option_specs

__all__: list[str] = []

DOCS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def hook(*_: Any) -> bool:
    """A stand-in hook for ``--authenticate tests.test_config:hook`` (any callable)."""
    return True


def _sample(spec: OptionSpec) -> tuple[str, Any]:
    """A value different from the default, as text and as the parsed value."""
    default = getattr(BrokerOptions.default(), spec.name)
    match spec.kind:
        case "bool":
            return ("false", False) if default else ("true", True)
        case "int":
            return "7", 7
        case "float":
            return "2.5", 2.5
        case "str":
            return "_client.hello", "_client.hello"
        case "bytes":
            return "s3cret", b"s3cret"
        case "list" if spec.item_nullable:
            return "https://a.example, none", ["https://a.example", None]
        case "list":
            return "10.0.0.0/8, 127.0.0.1", ["10.0.0.0/8", "127.0.0.1"]
        case _:
            if spec.target is not None:
                return "websocketmq.backends.memory:MemoryBackend", MemoryBackend
            return "test_config:hook", hook


def _serve(*argv: str) -> Any:
    return _parser().parse_args(["serve", *argv])


def test_every_field_has_a_spec_flag_and_variable() -> None:
    names = [f.name for f in dataclasses.fields(BrokerOptions)]
    specs = option_specs()
    assert [s.name for s in specs] == names  # generated from the dataclass, in its order
    help_text = _parser()._subparsers._group_actions[0].choices["serve"].format_help()  # type: ignore[union-attr]
    for spec in specs:
        assert spec.flag in help_text, spec.flag
        assert spec.env == "WSMQ_" + spec.name.upper()
        assert spec.help, f"{spec.name} has no docstring in broker/options.py"


@pytest.mark.parametrize("spec", option_specs(), ids=lambda s: s.name)
def test_each_field_from_the_command_line_and_the_environment(
    spec: OptionSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    text, expected = _sample(spec)
    argv = [spec.flag] if spec.kind == "bool" and expected else []
    if spec.kind == "bool" and not expected:
        argv = ["--no-" + spec.flag[2:]]
    elif spec.kind != "bool":
        argv = [spec.flag, text]
    for options, changed in (
        from_sources(_serve(*argv), environ={}),
        from_sources(_serve(), environ={spec.env: text}),
    ):
        value = getattr(options, spec.name)
        if isinstance(expected, type):
            assert isinstance(value, expected)
        else:
            assert value == expected
        assert changed == [spec.name]


def test_precedence_cli_over_env_over_default() -> None:
    env = {"WSMQ_MESSAGE_RATE": "7", "WSMQ_MAX_TTL": "50"}
    options, changed = from_sources(_serve("--message-rate", "9"), environ=env)
    assert (options.message_rate, options.max_ttl) == (9.0, 50.0)
    assert options.message_burst == BrokerOptions.default().message_burst
    assert sorted(changed) == ["max_ttl", "message_rate"]


def test_lists_repeat_and_split_and_keep_the_old_flag() -> None:
    args = _serve("--allowed-origin", "https://a.example", "--allowed-origins", "none,*")
    options, _ = from_sources(args, environ={})
    assert options.allowed_origins == ["https://a.example", None, "*"]


def test_none_where_the_type_allows_it() -> None:
    options, _ = from_sources(_serve("--ping-interval", "none"), environ={"WSMQ_TRACING": "none"})
    assert options.ping_interval is None and options.tracing is None
    with pytest.raises(ConfigError, match="--max-ttl: 'none'"):
        from_sources(_serve("--max-ttl", "none"), environ={})


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--max-message-size", "1.5"], {}, "--max-message-size: '1.5': expected an integer"),
        ([], {"WSMQ_METRICS": "maybe"}, "WSMQ_METRICS: 'maybe'"),
        (["--authorize", "nomodule"], {}, "--authorize: 'nomodule': expected package.module"),
        (["--authorize", "nosuchmodule:x"], {}, "cannot import 'nosuchmodule'"),
        (["--backend", "websocketmq.errors:WsmqError"], {}, "is not a Backend"),
    ],
)
def test_bad_values_say_where_they_came_from(
    argv: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        from_sources(_serve(*argv), environ=env)
    assert message in str(info.value)


def test_docs_have_the_generated_table() -> None:
    """docs/operations.md carries exactly ``markdown_table()``: regenerate it with
    ``python -c 'from websocketmq.config import markdown_table; print(markdown_table())'``."""
    assert markdown_table() in DOCS.read_text(), "docs/operations.md: options table is stale"
