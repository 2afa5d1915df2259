"""Sans-I/O guards the broker applies to every connection (docs/security.md, design §6 and §9).

Nothing here does I/O or reads a clock on its own: every time-dependent call takes ``now``
(seconds, any monotonic origin) so the broker passes ``loop.time()`` and the tests pass plain
numbers. The broker maps each refusal to its documented wire outcome:

=============================  ==============================  =============================
guard                          refusal                         wire outcome
=============================  ==============================  =============================
:func:`json_depth_exceeds`     nesting deeper than the limit   ``BAD_MESSAGE`` error, counts
                                                               against the error budget
:class:`TokenBucket`           message rate over the limit     ``RATE_LIMITED`` error, message
                                                               dropped, counts as an error
:class:`ErrorBudget`           too many protocol errors        close 4029
:class:`ConnectionCounter`     too many connections per IP     HTTP 429 at the upgrade
:class:`SendBudget`            queued bytes over the global    ``RATE_LIMITED`` then close
                               cap                             4008 (slow consumer)
=============================  ==============================  =============================

Why a depth scan of our own: msgspec (like ``json``) recurses per nesting level and raises
``RecursionError`` somewhere near Python's recursion limit (about 1 000 levels, less when the
stack is already deep). That is neither a documented error nor a stable limit, so the broker
runs :func:`json_depth_exceeds` on the raw frame *before* decoding. Its fast path is two
``str.count`` calls (C speed, no allocation); only frames with more opening brackets than the
limit pay for a precise scan, which is bounded by the message size limit.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_LIMITS",
    "ConnectionCounter",
    "ConnectionGuard",
    "ErrorBudget",
    "Limits",
    "RedactingFilter",
    "SendBudget",
    "SlowConsumer",
    "TokenBucket",
    "json_depth",
    "json_depth_exceeds",
    "normalize_origin",
    "origin_allowed",
    "redact",
    "sniff_correlation",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """The per-connection limits and their defaults (documented in docs/security.md).

    Defaults are chosen for a broker on the open internet serving browsers: generous for an
    interactive page, tight enough that one client cannot starve the others. ``None`` or ``0``
    turns a limit off where noted.
    """

    max_message_size: int = 1 << 20
    """Largest frame (after permessage-deflate decompression) in bytes → ``TOO_LARGE``, 1009."""
    max_json_depth: int = 64
    """Deepest JSON nesting of one envelope (header object = depth 2) → ``BAD_MESSAGE``."""
    message_rate: float = 200.0
    """Sustained messages per second per connection; 0 = unlimited → ``RATE_LIMITED``."""
    message_burst: float = 400.0
    """Messages a connection may send at once before the rate applies."""
    error_budget: int = 20
    """Protocol errors (bad frames, rate-limited messages…) tolerated per window → 4029."""
    error_window: float = 10.0
    """Seconds over which the error budget refills completely."""
    max_connections_per_ip: int = 256
    """Concurrent connections from one remote address; 0 = unlimited → HTTP 429."""
    handshake_timeout: float = 10.0
    """Seconds from TCP accept to a completed WebSocket upgrade (slowloris) → connection dropped."""


DEFAULT_LIMITS = Limits()


class TokenBucket:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` banked.

    Used per connection for the message rate. A bucket with ``rate <= 0`` never refuses, so
    "unlimited" needs no special case at the call site. Time only moves forward: a ``now``
    earlier than the last one is treated as no time passing (clock skew never mints tokens).
    """

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, *, now: float = 0.0) -> None:
        if burst < 1 and rate > 0:
            raise ValueError("burst must be >= 1 so that at least one message can pass")
        self.rate = float(rate)
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last = now

    @property
    def unlimited(self) -> bool:
        """True when this bucket never refuses (``rate <= 0``)."""
        return self.rate <= 0

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def take(self, now: float, n: float = 1.0) -> bool:
        """Spend ``n`` tokens if available; False means "over the limit, refuse this one"."""
        if self.unlimited:
            return True
        self._refill(now)
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def available(self, now: float) -> float:
        """Tokens that could be spent at ``now`` (for diagnostics and tests)."""
        if self.unlimited:
            return float("inf")
        self._refill(now)
        return self._tokens


class ErrorBudget:
    """Counts protocol errors of one connection; exhausted → the broker closes with 4029.

    A client with a bug sends the odd bad frame and should get an error it can log, not a
    disconnect; a hostile or runaway client sends them in a loop and should lose the
    connection before it costs the broker more than the ``budget`` error replies. The budget
    refills linearly over ``window`` seconds.
    """

    __slots__ = ("_bucket", "errors")

    def __init__(self, budget: int, window: float, *, now: float = 0.0) -> None:
        if budget < 1 or window <= 0:
            raise ValueError("budget must be >= 1 and window > 0")
        self._bucket = TokenBucket(budget / window, budget, now=now)
        self.errors = 0
        """Total errors recorded on this connection (informational)."""

    def record(self, now: float) -> bool:
        """Record one protocol error; False means the budget is spent: close with 4029."""
        self.errors += 1
        return self._bucket.take(now)


class ConnectionCounter:
    """Concurrent connections per remote address, for the connections-per-IP limit.

    The server calls :meth:`acquire` before accepting the upgrade (refusal → HTTP 429) and
    :meth:`release` exactly once when an acquired connection ends, in a ``finally``. Keys with
    a zero count are deleted, so the table only holds addresses that are connected now.
    """

    __slots__ = ("_counts", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[str, int] = {}

    def acquire(self, address: str) -> bool:
        """Count one more connection from ``address``; False (and nothing counted) if full."""
        current = self._counts.get(address, 0)
        if self.limit > 0 and current >= self.limit:
            return False
        self._counts[address] = current + 1
        return True

    def release(self, address: str) -> None:
        """Forget one connection from ``address``; releasing an unknown address is a no-op."""
        current = self._counts.get(address, 0)
        if current <= 1:
            self._counts.pop(address, None)
        else:
            self._counts[address] = current - 1

    def count(self, address: str) -> int:
        """Connections from ``address`` now."""
        return self._counts.get(address, 0)

    def __len__(self) -> int:
        """Distinct addresses connected now."""
        return len(self._counts)


class SlowConsumer(Protocol):
    """What :meth:`SendBudget.admit` needs of a transport it may evict to make room."""

    def overflow(self) -> None:
        """Close this connection as a slow consumer (4008) and give its queued bytes back."""
        ...


class SendBudget:
    """The send-queue policy every transport applies (docs/security.md §4): each connection's
    queue bounded in frames and bytes (``BrokerOptions.send_queue_size``, ``send_queue_bytes``)
    and the bytes queued for slow sockets across all of one broker's connections against a cap
    (``max_queued_bytes``). The broker owns one (``Broker.send_budget``) and every transport
    (``server.py``, ``transport.py`` for ASGI and aiohttp) asks it through :meth:`admit`, so no
    transport can bound frames only.

    A transport calls :meth:`admit` before queuing a frame and :meth:`give` once the frame is
    written or dropped. When the cap would be passed, the slowest consumer is the one holding
    the most bytes (:meth:`largest`): it is closed 4008, not whichever connection happened to
    queue the next frame (a fast subscriber briefly backed up keeps its place).
    ``peak`` is the highest total seen (for tests and the soak).
    """

    __slots__ = ("_held", "byte_limit", "cap", "frame_limit", "peak", "total")

    def __init__(self, cap: int, *, frame_limit: int = 0, byte_limit: int = 0) -> None:
        self.cap = cap
        """Most bytes queued at once (0: no global cap)."""
        self.frame_limit = frame_limit
        """Most frames in one connection's queue (0: no bound)."""
        self.byte_limit = byte_limit
        """Most bytes in one connection's queue (0: no bound)."""
        self.total = 0
        self.peak = 0
        self._held: dict[SlowConsumer, int] = {}
        """Bytes queued per owner (a transport), only while it holds some."""

    def admit(self, owner: SlowConsumer, frames: int, queued: int, size: int) -> bool:
        """Whether ``owner``, holding ``frames`` frames of ``queued`` bytes, may queue one more
        of ``size`` bytes; if so they are counted (:meth:`take`). False means: close ``owner``
        4008. An empty queue takes any one frame (the socket merely backed up). Past the
        server-wide cap, the biggest holders are evicted until it fits, or ``owner`` is one."""
        if frames and (
            (self.frame_limit and frames >= self.frame_limit)
            or (self.byte_limit and queued + size > self.byte_limit)
        ):
            return False
        while not self.take(owner, size):
            victim = self.largest()
            if victim is None or victim is owner:
                return False
            victim.overflow()
            if self._held.get(victim):  # it kept its bytes: never loop on it
                return False
        return True

    def take(self, owner: SlowConsumer, size: int, *, force: bool = False) -> bool:
        """Count ``size`` more bytes for ``owner``; False (nothing counted) past the cap,
        unless ``force`` (a connection's last frame before its close)."""
        total = self.total + size
        if self.cap > 0 and total > self.cap and not force:
            return False
        self.total = total
        if total > self.peak:
            self.peak = total
        held = self._held
        held[owner] = held.get(owner, 0) + size
        return True

    def give(self, owner: SlowConsumer, size: int) -> None:
        """``size`` of ``owner``'s bytes are no longer queued (written, or dropped)."""
        if size <= 0:
            return
        self.total -= size
        held = self._held
        left = held.get(owner, 0) - size
        if left > 0:
            held[owner] = left
        else:
            held.pop(owner, None)

    def largest(self) -> SlowConsumer | None:
        """The owner holding the most bytes (the slowest consumer), None when nobody holds."""
        held = self._held
        return max(held, key=held.__getitem__) if held else None


# A JSON string literal, unrolled-loop form (fast in ``re``): brackets inside strings do not nest.
# Applied to UTF-8 bytes: multi-byte sequences never contain an ASCII byte, so this is exact.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Openers become byte 0x01 (+1), closers 0xff (-1 once the buffer is viewed as signed char);
# every other byte is deleted by the same C-level ``bytes.translate`` call.
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _as_bytes(text: str | bytes | bytearray | memoryview) -> bytes:
    if isinstance(text, str):
        return text.encode("utf-8", "surrogatepass")
    return bytes(text)


def json_depth(text: str | bytes | bytearray | memoryview) -> int:
    """The deepest bracket nesting of a JSON text, ignoring brackets inside strings.

    Works on malformed input too (it never raises): an unclosed ``[[[`` counts 3, and a stray
    quote with no closing quote swallows nothing. Closers before their openers lower the
    running count, which is safe because a parser stops at the first stray closer.
    """
    raw = _as_bytes(text)
    if b'"' in raw:
        raw = _STRING.sub(b"", raw)
    signs = raw.translate(_SIGNS, _NOT_BRACKETS)
    if not signs:
        return 0
    return max(0, max(itertools.accumulate(memoryview(signs).cast("b"))))


def json_depth_exceeds(text: str | bytes | bytearray, max_depth: int) -> bool:
    """True if ``text`` nests JSON arrays/objects deeper than ``max_depth`` (0 = no limit).

    Run it on the raw frame before decoding (module docstring says why). The fast path —
    fewer opening brackets than the limit — is two ``count`` calls and covers every ordinary
    envelope, whose depth is small but whose bracket *count* may be large only when the body is.
    """
    if max_depth <= 0:
        return False
    if isinstance(text, str):
        if text.count("[") + text.count("{") <= max_depth:
            return False
    elif text.count(b"[") + text.count(b"{") <= max_depth:
        return False
    return json_depth(text) > max_depth


# --- per-connection guard (what the session calls) -----------------------------------------


class ConnectionGuard:
    """The per-connection limit state the protocol session consults for every frame.

    One object per connection so the session needs three calls: :meth:`too_deep` on the raw
    frame before decoding, :meth:`over_rate` for each decoded event/request (answers are not
    rate-limited: they are bounded by the requests the broker sent, and an error must never
    answer an answer), and :meth:`fault` for every error the client caused; when
    :meth:`fault` returns False the session sends ``RATE_LIMITED`` and closes with 4029.
    """

    __slots__ = ("_bucket", "_budget", "limits")

    def __init__(self, limits: Limits, now: float) -> None:
        self.limits = limits
        self._bucket = TokenBucket(limits.message_rate, limits.message_burst, now=now)
        self._budget = ErrorBudget(limits.error_budget, limits.error_window, now=now)

    def too_deep(self, frame: str | bytes) -> bool:
        """True if the frame nests deeper than ``max_json_depth`` (check before decoding)."""
        return json_depth_exceeds(frame, self.limits.max_json_depth)

    def over_rate(self, now: float) -> bool:
        """True if this message exceeds the connection's message rate (refuse it)."""
        return not self._bucket.take(now)

    def fault(self, now: float) -> bool:
        """Record one client-caused error; False means the budget is spent (close 4029)."""
        return self._budget.record(now)

    @property
    def errors(self) -> int:
        """Client-caused errors on this connection so far."""
        return self._budget.errors


_SNIFF = {
    key: re.compile(rf'"{key}"\s*:\s*"([^"\\\x00-\x1f]{{1,128}})"')
    for key in ("messageID", "correlationID", "type")
}


def sniff_correlation(frame: str | bytes) -> str | None:
    """Best-effort correlation ID of a frame we refuse to parse (too deep), by regex.

    Design §2: an error about a request carries its correlationID, about anything else its
    messageID, else ``"_invalid"`` (returned here as None). A regex cannot be fooled into
    anything worse than addressing the error to an ID the sender itself wrote.
    """
    text = frame if isinstance(frame, str) else bytes(frame).decode("utf-8", "replace")
    head = text[:4096]  # the header comes first in every encoder we know; bound the work
    kind = _SNIFF["type"].search(head)
    if kind is not None and kind.group(1) == "request":
        corr = _SNIFF["correlationID"].search(head)
        if corr is not None:
            return corr.group(1)
    mid = _SNIFF["messageID"].search(head)
    return mid.group(1) if mid is not None else None


# --- Origin policy (Cross-Site WebSocket Hijacking) ------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normalize_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` lowercased with the default port dropped, or None if ``origin``
    is not a serialized origin (``null``, a path, credentials, a query…) — those never match."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if (
        scheme not in _DEFAULT_PORTS
        or not host
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or origin.strip().endswith("/")
    ):
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _split(origin: str) -> tuple[str, str, int]:
    """(scheme, host, port with the default made explicit) of a normalized origin."""
    parts = urlsplit(origin)
    scheme = parts.scheme
    return scheme, parts.hostname or "", parts.port or _DEFAULT_PORTS[scheme]


# Names of this machine's loopback interface. A page on one of them may connect to the same port
# under another ("http://127.0.0.1:8080" opening "ws://localhost:8080/ws", as the seed's examples
# do): both are this machine, and a foreign or rebound page never has a loopback Origin.
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def origin_allowed(
    origin: str | None, host: str | None, allowed: Sequence[str | None] | None
) -> bool:
    """The Origin policy of docs/security.md §3, decided at the WebSocket upgrade.

    - ``allowed is None`` (default, *same-origin*): no ``Origin`` header (a non-browser
      client, which carries no victim's cookies) passes; a browser's ``Origin`` must name the
      host and port the request was sent to, i.e. its ``Host`` header (scheme not compared: a
      TLS proxy may sit in front; a ``Host`` without a port matches the default ports). The
      loopback names ``localhost``, ``127.0.0.1`` and ``[::1]`` count as one host.
    - a list: ``Origin`` must equal one of its entries after normalization (case of scheme and
      host, default port); ``None`` in the list admits clients that send no ``Origin``;
      ``"*"`` admits everything.
    """
    if allowed is None:
        if origin is None:
            return True
        norm = normalize_origin(origin)
        if norm is None or not host:
            return False
        _, o_host, o_port = _split(norm)
        try:
            target = urlsplit(f"//{host.strip()}")
            t_host, t_port = (target.hostname or "").lower(), target.port
        except ValueError:
            return False
        if not t_host:
            return False
        if o_host != t_host and not (o_host in _LOOPBACK and t_host in _LOOPBACK):
            return False
        return o_port == t_port if t_port is not None else o_port in (80, 443)
    if "*" in allowed:
        return True
    if origin is None:
        return None in allowed
    norm = normalize_origin(origin)
    if norm is None:
        return False
    return any(a is not None and a != "*" and normalize_origin(a) == norm for a in allowed)


# --- log redaction -----------------------------------------------------------------------------

_QUERY = re.compile(r"(\?)[^\s\"']+")
_SECRET_HEADER = re.compile(
    r"^([<>] )?(authorization|proxy-authorization|cookie|set-cookie|sec-websocket-protocol"
    r"|x-api-key|x-auth-token)(:\s*).*$",
    re.IGNORECASE,
)


_FRAME_DUMP = re.compile(r"^([<>] (?:TEXT|BINARY|CONT)) .*?((?: \[\d+ bytes\])?)$", re.DOTALL)


def redact(text: str) -> str:
    """Remove what must never reach a log: query strings (tokens travel there), the values of
    credential headers in websockets' ``> Header: value`` debug lines, and the payload of its
    ``< TEXT '…' [n bytes]`` frame dumps (bodies carry credentials and resume tokens)."""
    if text.startswith(("< ", "> ")):
        text = _FRAME_DUMP.sub(r"\1 <redacted>\2", text)
    text = _SECRET_HEADER.sub(r"\1\2\3<redacted>", text)
    if "?" in text:
        text = _QUERY.sub(r"\1<redacted>", text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter applying :func:`redact` to every record (attach it to the logger the
    server hands to ``websockets``, whose debug output includes request lines and headers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
