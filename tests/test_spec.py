"""spec/protocol.md, the schemas and the vectors stay consistent with each other and the code.

Why: the conformance suite and the vectors cite section numbers, the error-code list exists in
three places (prose, error-codes.json, websocketmq.errors), and a schema that is not itself a
valid draft 2020-12 schema would make every other verdict meaningless.
"""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator
from spec_support import ROOT, SCHEMA_DIR, load_json, vectors
from websocketmq import errors

__all__: list[str] = []

PROTOCOL = (ROOT / "spec" / "protocol.md").read_text(encoding="utf-8")
HEADING = re.compile(r"^(#{2,4}) (\d+(?:\.\d+)*)\.? (.+)$", re.MULTILINE)
SECTIONS = {m.group(2): m.group(3) for m in HEADING.finditer(PROTOCOL)}
SCHEMAS = sorted(p.name for p in SCHEMA_DIR.glob("*.json"))
ID_PREFIX = "https://websocketmq.dev/spec/wsmq-1/"


def _section_body(number: str) -> str:
    """The text of one numbered section, up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(number)}\.? .*$", PROTOCOL, re.MULTILINE)
    assert match, number
    rest = PROTOCOL[match.end() :]
    nxt = re.search(r"^#+ \d", rest, re.MULTILINE)
    return rest[: nxt.start()] if nxt else rest


def test_sections_are_numbered_in_order_and_unique() -> None:
    numbers = [m.group(2) for m in HEADING.finditer(PROTOCOL)]
    assert len(numbers) == len(set(numbers))
    keys = [tuple(int(p) for p in n.split(".")) for n in numbers]
    assert keys == sorted(keys)
    # every subsection has its parent
    for n in numbers:
        if "." in n:
            assert n.rsplit(".", 1)[0] in SECTIONS, n
    assert len([n for n in numbers if "." not in n]) >= 16


@pytest.mark.parametrize(
    "topic",
    [
        "transport",
        "envelope",
        "message types",
        "topics",
        "registration",
        "subscriptions",
        "rpc",
        "keepalive",
        "control topics",
        "error model",
        "close codes",
        "sequence diagrams",
        "conformance fixture",
        "implementation notes",
    ],
)
def test_required_topics_have_a_top_level_section(topic: str) -> None:
    titles = [t.lower() for n, t in SECTIONS.items() if "." not in n]
    assert any(topic in t for t in titles), titles


def test_rfc2119_keywords_are_used() -> None:
    for word in ("MUST", "MUST NOT", "SHOULD", "MAY", "RFC 2119"):
        assert word in PROTOCOL


def test_sequence_diagrams_cover_the_required_flows() -> None:
    assert len(re.findall(r"```mermaid", PROTOCOL)) >= 6
    for number in ("13.1", "13.2", "13.3", "13.4", "13.5", "13.6"):
        assert "sequenceDiagram" in _section_body(number), number


@pytest.mark.parametrize("name", ["envelopes", "semantics", "bodies"])
def test_every_vector_cites_an_existing_section(name: str) -> None:
    missing = {v["id"]: v["section"] for v in vectors(name) if v["section"] not in SECTIONS}
    assert not missing


def test_error_codes_agree_everywhere() -> None:
    """error-codes.json == the §11.2 table == websocketmq.errors.CODES."""
    listed = set(load_json(SCHEMA_DIR / "error-codes.json")["enum"])
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", _section_body("11.2"), re.MULTILINE))
    assert listed == table
    assert listed == set(errors.CODES)
    pattern = re.compile(
        load_json(SCHEMA_DIR / "envelope.schema.json")["$defs"]["ErrorCode"]["pattern"]
    )
    assert all(pattern.match(code) for code in listed)


def test_close_codes_table_lists_the_design_codes() -> None:
    table = set(re.findall(r"^\| (\d{4}) \|", _section_body("12.2"), re.MULTILINE))
    expected = {"1000", "1001", "1007", "1008", "1009", "1011", "4001", "4002", "4008", "4009"}
    assert table == expected | {"4029"}
    listed = {str(c["const"]) for c in load_json(SCHEMA_DIR / "close-codes.json")["oneOf"]}
    assert table == listed


def test_every_control_body_is_specified() -> None:
    control = load_json(SCHEMA_DIR / "control.schema.json")["$defs"]
    section10 = _section_body("10")
    for name in control:
        if name.endswith(("Body", "Result")):
            assert f"`{name}`" in section10 or name in section10, name
    for topic in (
        "_client.register",
        "_internal.client.registered",
        "_internal.client.deregistered",
        "_client.subscribe",
        "_client.unsubscribe",
        "_client.ping",
        "_client.cancel",
        "_internal.cancel",
    ):
        assert f"`{topic}`" in section10, topic


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_is_valid_draft_2020_12_with_our_id(name: str) -> None:
    schema = load_json(SCHEMA_DIR / name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == ID_PREFIX + name


def test_fixture_section_matches_the_design_topics() -> None:
    fixture = _section_body("14")
    for topic in ("echo", "fail", "sleep", "publish", "callback", "events"):
        assert f"`conformance.{topic}`" in fixture


def test_implementation_notes_record_the_measured_decode_cost() -> None:
    notes = _section_body("16")
    assert "jsonschema" in notes and "msgspec" in notes
    assert re.search(r"≈ \d+(\.\d+)? µs", notes)
