"""Every case's level is the spec's: the RFC 2119 keyword of the rule it cites.

The test reads spec/protocol.md into sections and numbered items and, for each registered case,
the text its ``section`` cites (``§6.2 item 3``, ``§5.3 items 2-3``, ``§8.2``). A SHOULD or MAY
case must cite a text with that keyword; a MUST case must cite one with MUST (REQUIRED, SHALL)
or one that states its rule with no keyword at all (the spec is normative: "a bad pattern →
BAD_TOPIC" is a requirement), never only SHOULD/MAY texts. A case labelled SHOULD on a MUST
rule (4.3.1's ttl clamp was) or MUST on a SHOULD rule fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from wsmq_conformance.model import REGISTRY, Level
from wsmq_conformance.vectors import register_vector_cases

__all__: list[str] = []

SPEC = Path(__file__).resolve().parent.parent / "spec" / "protocol.md"
HEADING = re.compile(r"^(#{2,3}) (\d+(?:\.\d+)?)\.? ")
ITEM = re.compile(r"^(\d+)\. ")
CITE = re.compile(r"§(\d+(?:\.\d+)?)(?:\s+items?\s+(\d+(?:-\d+)?(?:,\s*\d+(?:-\d+)?)*))?")
KEYWORDS = {
    Level.MUST: r"\bMUST\b|\bREQUIRED\b|\bSHALL\b",
    Level.SHOULD: r"\bSHOULD\b|\bRECOMMENDED\b",
    Level.MAY: r"\bMAY\b|\bOPTIONAL\b",
}


def spec_texts() -> tuple[dict[str, str], dict[tuple[str, int], str]]:
    """(section number -> text including subsections, (section, item) -> item text)."""
    sections: dict[str, list[str]] = {}
    items: dict[tuple[str, int], list[str]] = {}
    open_secs: list[str] = []
    item: tuple[str, int] | None = None
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        h = HEADING.match(line)
        if h:
            num = h.group(2)
            depth = num.count(".")
            open_secs = [s for s in open_secs if s.count(".") < depth] + [num]
            sections.setdefault(num, [])
            item = None
            continue
        m = ITEM.match(line)
        if m and open_secs:
            item = (open_secs[-1], int(m.group(1)))
            items.setdefault(item, [])
        elif line and not line.startswith(" "):
            item = None
        for s in open_secs:
            sections[s].append(line)
        if item is not None:
            items[item].append(line)
    return (
        {k: "\n".join(v) for k, v in sections.items()},
        {k: "\n".join(v) for k, v in items.items()},
    )


def cited(section: str, sections: dict[str, str], items: dict[tuple[str, int], str]) -> list[str]:
    out = []
    for m in CITE.finditer(section):
        num, spec_items = m.group(1), m.group(2)
        if not spec_items:
            out.append(sections.get(num, ""))
            continue
        for part in spec_items.split(","):
            lo, _, hi = part.strip().partition("-")
            for i in range(int(lo), int(hi or lo) + 1):
                out.append(items.get((num, i), ""))
    return out


def test_spec_parses_into_sections_and_items() -> None:
    sections, items = spec_texts()
    assert "MUST clamp" in sections["8.2"]
    assert "ALREADY_REGISTERED" in items[("6.2", 3)]
    assert cited("§5.3 items 2-3; §12.2", sections, items)[1] == items[("5.3", 3)]


def test_every_case_level_is_a_keyword_of_the_rule_it_cites() -> None:
    register_vector_cases()
    sections, items = spec_texts()
    wrong = []
    for c in REGISTRY.values():
        texts = cited(c.section, sections, items)
        assert texts and all(texts), f"{c.id} cites {c.section!r}, which is not in the spec"
        ok = any(re.search(KEYWORDS[c.level], t) for t in texts)
        if c.level is Level.MUST:
            ok = ok or any(not any(re.search(k, t) for k in KEYWORDS.values()) for t in texts)
        if not ok:
            wrong.append(f"{c.id} [{c.level}] cites {c.section}")
    assert not wrong, "\n".join(wrong)
