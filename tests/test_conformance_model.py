"""Offline checks of the conformance suite's own machinery (no server needed)."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
import wsmq_conformance
import wsmq_conformance.cases  # registers every case, so this file runs alone too
from hypothesis import given
from wsmq_conformance.model import REGISTRY, Level, select_cases
from wsmq_conformance.strategies import bad_envelopes, matches
from wsmq_conformance.vectors import register_vector_cases

__all__: list[str] = []


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [  # the examples table of spec §5.2
        ("chat.*", "chat.room1", True),
        ("chat.*", "chat", False),
        ("chat.*", "chat.room1.typing", False),
        ("chat.>", "chat.room1", True),
        ("chat.>", "chat.room1.typing", True),
        ("chat.>", "chat", False),
        ("*.status", "db.status", True),
        ("*.status", "db.replica.status", False),
        ("a.b", "a.b", True),
        ("a.b", "a.b.c", False),
    ],
)
def test_reference_matcher_follows_the_spec_table(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected


def test_case_ids_are_stable_dotted_numbers_with_sections() -> None:
    register_vector_cases()
    assert len(REGISTRY) > 100
    for c in REGISTRY.values():
        assert re.fullmatch(r"\d+\.\d+\.[\w-]+", c.id), c.id
        assert c.section.startswith("§"), (c.id, c.section)
        assert c.description


def test_selection_by_profile_and_globs() -> None:
    core = select_cases(REGISTRY.values(), profile="core")
    full = select_cases(REGISTRY.values(), profile="full")
    assert {c.id for c in core} < {c.id for c in full}
    assert all(c.level is Level.MUST for c in core)
    picked = select_cases(REGISTRY.values(), profile="core", include=["4.*"], exclude=["4.2.*"])
    assert picked and all(c.id.startswith("4.") and not c.id.startswith("4.2.") for c in picked)
    # the run-wide frame check always runs last
    assert full[-1].id == "2.9.1"


@given(bad_envelopes())
def test_generated_bad_envelopes_are_text_frames(mutation: tuple[str, str]) -> None:
    kind, frame = mutation
    assert isinstance(frame, str) and kind


def test_every_module_declares_all() -> None:
    for info in pkgutil.walk_packages(wsmq_conformance.__path__, "wsmq_conformance."):
        module = importlib.import_module(info.name)
        assert hasattr(module, "__all__"), info.name
