"""The NATS subject scheme and message headers of :class:`~.nats.NatsBackend` (§9).

Pure functions and values, no I/O and no nats-py: what a subject a frame travels on looks like,
and how the two headers the backend uses are written and read (on the nats-py path as a dict,
on the direct path of :mod:`.nats_fast` as the raw ``NATS/1.0`` block)::

    wsmq.<ns>.t.<topic>              events (topic syntax = subject syntax)
    wsmq.<ns>.r.<topic>              requests to handlers (one queue group per cluster)
    wsmq.<ns>.c.<client_id>.<kind>   client-addressed: kind = req | msg | evict
    wsmq.<ns>.n.<node>.<kind>        a node's inbox: a.<token> (answers), ping, x (cancels)

    Wsmq-Node: <node>                on events: the publishing node (drops its own echo)
    Wsmq-Timeout: <seconds>          on server→client requests: the caller's timeout
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from ..errors import UnknownClient
from ..protocol.rules import TOKEN_RE

__all__ = [
    "NAME_RE",
    "NODE_HEADER",
    "TIMEOUT_HEADER",
    "Subjects",
    "build_headers",
    "node_mark",
    "raw_headers",
    "timeout_from_headers",
    "timeout_from_raw",
    "timeout_value",
]

NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""Namespaces and node IDs: one plain subject token."""
_TOKEN_RE = re.compile(TOKEN_RE)
"""One subject token, by the topic token grammar (spec §5.1, generated from the schema); a
regular expression instead of a per-character loop (client IDs are checked per request)."""

NODE_HEADER = "Wsmq-Node"
TIMEOUT_HEADER = "Wsmq-Timeout"
_RAW_TIMEOUT = b"\r\n" + TIMEOUT_HEADER.encode() + b": "
DEFAULT_TIMEOUT = 30.0


class Subjects:
    """The subjects of one namespace, as seen from one node."""

    __slots__ = ("answers", "clients", "events", "inbox", "nodes", "requests")

    def __init__(self, namespace: str, node_id: str) -> None:
        prefix = f"wsmq.{namespace}."
        self.events = prefix + "t."
        """Prefix of event subjects: ``events + topic``."""
        self.requests = prefix + "r."
        """Prefix of request subjects: ``requests + topic``."""
        self.clients = prefix + "c."
        """Prefix of client-addressed subjects (see :meth:`client`)."""
        self.nodes = prefix + "n."
        """Prefix of every node's inbox (see :meth:`node`)."""
        self.inbox = f"{self.nodes}{node_id}."
        """This node's inbox prefix (subscribed as ``inbox + ">"``)."""
        self.answers = self.inbox + "a."
        """Reply subjects of this node's requests: ``answers + token``."""

    def client(self, client_id: str, kind: str) -> str:
        """``wsmq.<ns>.c.<client_id>.<kind>``; an ID that is not one token is nobody's."""
        if not client_id or "." in client_id or _TOKEN_RE.fullmatch(client_id) is None:
            raise UnknownClient(f"invalid client ID {client_id!r}")
        return f"{self.clients}{client_id}.{kind}"

    def node(self, node_id: str, kind: str) -> str:
        """``wsmq.<ns>.n.<node>.<kind>``: another node's ping or cancel subject."""
        return f"{self.nodes}{node_id}.{kind}"


def build_headers(headers: Mapping[str, str]) -> bytes:
    """The raw ``NATS/1.0`` header block for ``headers`` (keys/values must be plain tokens)."""
    parts = [b"NATS/1.0\r\n"]
    for key, value in headers.items():
        parts.append(f"{key}: {value}\r\n".encode())
    parts.append(b"\r\n")
    return b"".join(parts)


def node_mark(node_id: str) -> bytes:
    """The ``Wsmq-Node`` line of ``node_id`` as it appears in a raw header block (every header
    line follows a CRLF, the first one the ``NATS/1.0`` line's): a block that contains it came
    from that node. One substring test per event on the direct path, no parsing."""
    return b"\r\n" + f"{NODE_HEADER}: {node_id}".encode() + b"\r\n"


def raw_headers(headers: Mapping[str, str]) -> bytes:
    """:func:`build_headers`, cached for the one header every server→client request has."""
    if len(headers) == 1 and TIMEOUT_HEADER in headers:
        return _timeout_block(headers[TIMEOUT_HEADER])
    return build_headers(headers)


@functools.lru_cache(maxsize=256)
def _timeout_block(value: str) -> bytes:
    return build_headers({TIMEOUT_HEADER: value})


def timeout_value(raw: str | bytes | float, default: float = DEFAULT_TIMEOUT) -> float:
    """A ``Wsmq-Timeout`` value in seconds; anything but a number in (0, 3600] is ``default``."""
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if 0 < value <= 3600 else default


def timeout_from_headers(headers: Mapping[str, Any] | None) -> float:
    """``Wsmq-Timeout`` from nats-py's parsed headers."""
    return timeout_value((headers or {}).get(TIMEOUT_HEADER, DEFAULT_TIMEOUT))


def timeout_from_raw(block: bytes | None) -> float:
    """``Wsmq-Timeout`` from a raw header block (the direct path of :mod:`.nats_fast`)."""
    if block is not None:
        at = block.find(_RAW_TIMEOUT)
        if at >= 0:
            start = at + len(_RAW_TIMEOUT)
            end = block.find(b"\r\n", start)
            return timeout_value(block[start : end if end >= 0 else None])
    return DEFAULT_TIMEOUT
