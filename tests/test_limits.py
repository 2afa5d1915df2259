"""Unit tests of the sans-I/O guards in websocketmq.limits (no sockets: the live tests are in
test_security.py). Time is passed in explicitly, so nothing here sleeps."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websocketmq.limits import (
    DEFAULT_LIMITS,
    ConnectionCounter,
    ConnectionGuard,
    ErrorBudget,
    Limits,
    RedactingFilter,
    TokenBucket,
    json_depth,
    json_depth_exceeds,
    normalize_origin,
    origin_allowed,
    redact,
    sniff_correlation,
)

__all__: list[str] = []

# --- token bucket ---------------------------------------------------------------------------


def test_bucket_allows_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]


def test_bucket_refills_at_rate_and_caps_at_burst() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    for _ in range(5):
        assert bucket.take(0.0)
    assert not bucket.take(0.05)  # half a token
    assert bucket.take(0.1)  # one token after 0.1 s at 10/s
    assert not bucket.take(0.1)
    assert bucket.available(100.0) == 5  # never more than burst, however long the pause


def test_bucket_time_going_backwards_mints_nothing() -> None:
    bucket = TokenBucket(rate=1, burst=1, now=10.0)
    assert bucket.take(10.0)
    assert not bucket.take(5.0)
    assert not bucket.take(10.5)
    assert bucket.take(11.0)


def test_bucket_rate_zero_is_unlimited() -> None:
    bucket = TokenBucket(rate=0, burst=0)
    assert bucket.unlimited
    assert all(bucket.take(0.0) for _ in range(10_000))


def test_bucket_rejects_useless_burst() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=5, burst=0.5)


@given(
    rate=st.floats(0.5, 1000),
    burst=st.integers(1, 100),
    steps=st.lists(st.floats(0, 2), max_size=200),
)
def test_bucket_never_exceeds_rate_times_time_plus_burst(
    rate: float, burst: int, steps: list[float]
) -> None:
    bucket = TokenBucket(rate, burst, now=0.0)
    now = 0.0
    passed = 0
    for step in steps:
        now += step
        passed += bucket.take(now)
    assert passed <= burst + rate * now + 1e-6


# --- error budget ---------------------------------------------------------------------------


def test_error_budget_exhausts_then_refills() -> None:
    budget = ErrorBudget(3, 3.0, now=0.0)  # 3 errors, refills 1 per second
    assert [budget.record(0.0) for _ in range(4)] == [True, True, True, False]
    assert budget.errors == 4
    assert budget.record(1.0)  # one refilled
    assert not budget.record(1.0)


@pytest.mark.parametrize(("budget", "window"), [(0, 1.0), (1, 0.0), (-1, 5.0)])
def test_error_budget_validates(budget: int, window: float) -> None:
    with pytest.raises(ValueError):
        ErrorBudget(budget, window)


# --- connections per IP ---------------------------------------------------------------------


def test_connection_counter_limits_each_address_separately() -> None:
    counter = ConnectionCounter(2)
    assert counter.acquire("10.0.0.1")
    assert counter.acquire("10.0.0.1")
    assert not counter.acquire("10.0.0.1")
    assert counter.count("10.0.0.1") == 2  # a refusal counts nothing
    assert counter.acquire("10.0.0.2")
    counter.release("10.0.0.1")
    assert counter.acquire("10.0.0.1")


def test_connection_counter_forgets_idle_addresses() -> None:
    counter = ConnectionCounter(5)
    for i in range(100):
        counter.acquire(f"10.0.0.{i}")
    for i in range(100):
        counter.release(f"10.0.0.{i}")
    assert len(counter) == 0
    counter.release("never-seen")  # no-op, no negative counts
    assert counter.count("never-seen") == 0


def test_connection_counter_zero_is_unlimited() -> None:
    counter = ConnectionCounter(0)
    assert all(counter.acquire("a") for _ in range(1000))


# --- JSON depth -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ("{}", 1),
        ('{"header": {"type": "event"}, "body": [1, [2, [3]]]}', 4),
        ('["[[[[[[", "{{{{"]', 1),  # brackets inside strings do not nest
        (r'["\"[[[[", 1]', 1),  # escaped quote does not end the string
        (r'["\\", [[1]]]', 3),  # escaped backslash does end it
        ("[[[", 3),  # unclosed: still counted (malformed input never hides depth)
        ("]]][[", 0),  # a parser stops at the first stray closer, so nothing after it nests
        ('"unterminated [[[[', 4),  # a stray quote swallows nothing
        ("", 0),
    ],
)
def test_json_depth_table(text: str, depth: int) -> None:
    assert json_depth(text) == depth
    assert json_depth(text.encode()) == depth


def _nest(depth: int) -> Any:
    value: Any = 0
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


def _reference_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300)
@given(json_values)
def test_json_depth_matches_structure(value: Any) -> None:
    assert json_depth(json.dumps(value)) == _reference_depth(value)
    assert json_depth(json.dumps(value, ensure_ascii=False)) == _reference_depth(value)
    assert json_depth(msgspec.json.encode(value)) == _reference_depth(value)


@pytest.mark.parametrize("depth", [1, 63, 64, 65, 1000, 10_000])
def test_json_depth_exceeds_at_the_limit(depth: int) -> None:
    text = json.dumps(_nest(depth)) if depth < 500 else "[" * depth + "]" * depth
    assert json_depth_exceeds(text, 64) == (depth > 64)
    assert json_depth_exceeds(text.encode(), 64) == (depth > 64)
    assert not json_depth_exceeds(text, 0)  # 0 = off


def test_depth_guard_runs_before_msgspec_would_blow_the_stack() -> None:
    """Why the guard exists: msgspec raises RecursionError (not a DecodeError) on deep input."""
    deep = "[" * 10_000 + "]" * 10_000
    with pytest.raises(RecursionError):
        msgspec.json.decode(deep)
    assert json_depth_exceeds(deep, DEFAULT_LIMITS.max_json_depth)


def test_many_brackets_but_shallow_is_not_flagged() -> None:
    wide = json.dumps({"body": [[i] for i in range(50_000)]})
    assert not json_depth_exceeds(wide, 64)
    assert json_depth(wide) == 3


def test_limits_defaults_are_documented_values() -> None:
    limits = Limits()
    assert limits == DEFAULT_LIMITS
    assert limits.max_message_size == 1 << 20
    assert limits.max_json_depth == 64
    # the depth limit must sit well below the ~1000 levels where msgspec recurses out
    assert limits.max_json_depth < 500


# --- connection guard -----------------------------------------------------------------------


def test_guard_combines_rate_depth_and_budget() -> None:
    guard = ConnectionGuard(
        Limits(message_rate=1, message_burst=2, error_budget=2, error_window=100, max_json_depth=3),
        now=0.0,
    )
    assert [guard.over_rate(0.0) for _ in range(3)] == [False, False, True]
    assert not guard.too_deep("[[[]]]")
    assert guard.too_deep("[[[[]]]]")
    assert guard.fault(0.0) and guard.fault(0.0)
    assert not guard.fault(0.0)
    assert guard.errors == 3


def test_guard_rate_zero_means_unlimited() -> None:
    guard = ConnectionGuard(Limits(message_rate=0, message_burst=0), now=0.0)
    assert not any(guard.over_rate(0.0) for _ in range(10_000))


@pytest.mark.parametrize(
    ("frame", "corr"),
    [
        ('{"header": {"messageID": "m1", "correlationID": "c1", "type": "request"}}', "c1"),
        ('{"header": {"type": "request", "correlationID": "c1", "messageID": "m1"}}', "c1"),
        ('{"header": {"messageID": "m1", "correlationID": "c1", "type": "event"}}', "m1"),
        ('{"header": {"messageID": "m1", "type": "request"}}', "m1"),
        ('{"header": {"messageID": "' + "x" * 200 + '"}}', None),
        ("[[[[", None),
        (b'{"header":{"messageID":"m2","type":"event"}}', "m2"),
    ],
)
def test_sniff_correlation(frame: str | bytes, corr: str | None) -> None:
    assert sniff_correlation(frame) == corr


# --- origin policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "norm"),
    [
        ("https://App.Example.COM", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://app.example.com:80", "http://app.example.com"),
        ("http://app.example.com:8080", "http://app.example.com:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("null", None),
        ("", None),
        ("https://app.example.com/", None),
        ("https://app.example.com/path", None),
        ("https://user@app.example.com", None),
        ("https://app.example.com?x=1", None),
        ("ftp://app.example.com", None),
        ("https://app.example.com:99999", None),
        ("file://", None),
    ],
)
def test_normalize_origin(origin: str, norm: str | None) -> None:
    assert normalize_origin(origin) == norm


SAME_ORIGIN_CASES = [
    (None, "127.0.0.1:8080", True),
    ("http://127.0.0.1:8080", "127.0.0.1:8080", True),
    ("https://127.0.0.1:8080", "127.0.0.1:8080", True),
    ("https://example.com", "example.com", True),
    ("http://example.com", "example.com", True),
    ("https://example.com", "EXAMPLE.com:443", True),
    ("https://example.com:8443", "example.com", False),
    ("http://127.0.0.1:8081", "127.0.0.1:8080", False),
    ("http://127.0.0.1", "127.0.0.1:8080", False),
    ("null", "127.0.0.1:8080", False),
    ("http://127.0.0.1.evil.com:8080", "127.0.0.1:8080", False),
    ("http://evil.com", "evil.com.example.com", False),
    ("http://example.com", None, False),
    ("http://example.com", "", False),
    ("http://example.com", "example.com:notaport", False),
    # loopback names are one host (the seed's pages open ws://localhost from 127.0.0.1)
    ("http://127.0.0.1:8080", "localhost:8080", True),
    ("http://localhost:8080", "127.0.0.1:8080", True),
    ("http://[::1]:8080", "localhost:8080", True),
    ("http://localhost:3000", "127.0.0.1:8080", False),  # another local app's port
    ("http://localhost.evil.com:8080", "localhost:8080", False),
    ("http://evil.com:8080", "localhost:8080", False),
]


@pytest.mark.parametrize(("origin", "host", "ok"), SAME_ORIGIN_CASES)
def test_origin_default_same_origin(origin: str | None, host: str | None, ok: bool) -> None:
    assert origin_allowed(origin, host, None) is ok


@pytest.mark.parametrize(
    ("origin", "allowed", "ok"),
    [
        ("https://app.example.com", ["https://app.example.com"], True),
        ("https://APP.example.com:443", ["https://app.example.com"], True),
        ("https://app.example.com", ["HTTPS://app.example.com:443"], True),
        (None, ["https://app.example.com"], False),
        (None, [None, "https://app.example.com"], True),
        ("null", ["https://app.example.com", None], False),
        ("null", ["null"], False),  # "null" is never an origin you can allow by name
        ("https://app.example.com.evil.com", ["https://app.example.com"], False),
        ("https://app.example.com:8443", ["https://app.example.com"], False),
        ("http://app.example.com", ["https://app.example.com"], False),
        ("https://anything", ["*"], True),
        (None, ["*"], True),
        ("https://app.example.com", [], False),
    ],
)
def test_origin_allow_list(origin: str | None, allowed: list[str | None], ok: bool) -> None:
    assert origin_allowed(origin, "broker.example.com", allowed) is ok


# --- log redaction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("< GET /ws?token=abc123secret HTTP/1.1", "abc123secret"),
        ("rejected ws://h:1/ws?access_token=abc123secret&x=1", "abc123secret"),
        ("< Authorization: Bearer abc123secret", "abc123secret"),
        ("> cookie: session=abc123secret", "abc123secret"),
        ("< Sec-WebSocket-Protocol: wsmq.v1, abc123secret", "abc123secret"),
        ("""< TEXT '{"body":{"auth":"abc123secret"}}' [33 bytes]""", "abc123secret"),
        ("> BINARY 61 62 63 31 32 33 73 65 63 72 65 74 [12 bytes]", "61 62 63"),
    ],
)
def test_redact(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned
    assert "<redacted>" in cleaned


def test_redact_leaves_ordinary_lines_alone() -> None:
    for line in (
        "client registered: c-123",
        "< Host: 127.0.0.1:8080",
        "> HTTP/1.1 101",
        "> CLOSE 1008 (policy violation) authentication failed [23 bytes]",
        "< PING '' [0 bytes]",
    ):
        assert redact(line) == line
    assert redact("< TEXT 'x' [1 bytes]") == "< TEXT <redacted> [1 bytes]"


def test_redacting_filter_rewrites_records() -> None:
    import logging

    record = logging.LogRecord(
        "x", logging.DEBUG, __file__, 1, "< GET %s HTTP/1.1", ("/ws?t=s3",), None
    )
    assert RedactingFilter().filter(record)
    assert "s3" not in record.getMessage()
