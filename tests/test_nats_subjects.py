"""The NATS subject scheme and header helpers (backends/nats_subjects.py), without NATS."""

from __future__ import annotations

import pytest
from websocketmq.backends.nats_subjects import (
    Subjects,
    build_headers,
    node_mark,
    raw_headers,
    timeout_from_headers,
    timeout_from_raw,
    timeout_value,
)
from websocketmq.errors import UnknownClient

__all__: list[str] = []


def test_subjects_of_a_namespace_and_node() -> None:
    s = Subjects("prod", "n1")
    assert s.events + "a.b" == "wsmq.prod.t.a.b"
    assert s.requests + "svc.x" == "wsmq.prod.r.svc.x"
    assert s.client("c-1", "req") == "wsmq.prod.c.c-1.req"
    assert s.inbox == "wsmq.prod.n.n1." and s.answers == "wsmq.prod.n.n1.a."
    assert s.node("n2", "ping") == "wsmq.prod.n.n2.ping"


@pytest.mark.parametrize("bad", ["", "a.b", "a b", "a*", "a>", "a\x01"])
def test_a_client_id_that_is_not_one_subject_token_is_nobody(bad: str) -> None:
    with pytest.raises(UnknownClient):
        Subjects("ns", "n").client(bad, "req")


def test_timeout_header_round_trip_on_both_paths() -> None:
    block = raw_headers({"Wsmq-Timeout": "1.500"})
    assert (
        block
        == build_headers({"Wsmq-Timeout": "1.500"})
        == (b"NATS/1.0\r\nWsmq-Timeout: 1.500\r\n\r\n")
    )
    assert timeout_from_raw(block) == 1.5
    assert timeout_from_raw(b"NATS/1.0\r\nOther: x\r\nWsmq-Timeout: 2") == 2.0
    assert timeout_from_raw(None) == timeout_from_raw(b"NATS/1.0\r\n\r\n") == 30.0
    assert timeout_from_headers({"Wsmq-Timeout": "4"}) == 4.0
    assert timeout_from_headers(None) == 30.0
    assert raw_headers({"A": "1", "B": "2"}) == b"NATS/1.0\r\nA: 1\r\nB: 2\r\n\r\n"


def test_node_mark_finds_only_that_nodes_header_line() -> None:
    block = build_headers({"Wsmq-Node": "ab"})
    assert node_mark("ab") in block
    assert node_mark("a") not in block and node_mark("abc") not in block
    assert node_mark("ab") in build_headers({"Other": "x", "Wsmq-Node": "ab"})
    assert node_mark("ab") not in build_headers({"Other": "Wsmq-Node: ab"})


@pytest.mark.parametrize("raw", ["x", "0", "-1", "3601", b"nan"])
def test_a_timeout_out_of_range_is_the_default(raw: str | bytes) -> None:
    assert timeout_value(raw, 7.0) == 7.0
