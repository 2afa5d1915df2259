"""Cheap unique IDs for messages, correlations and clients.

A random per-process prefix plus a counter: unique enough across processes (the prefix has 64 bits
of entropy) and much cheaper than ``uuid4()`` on the hot path. Client IDs are fully random because
they are visible to other clients and must not be guessable in sequence.
"""

from __future__ import annotations

import itertools
import secrets

__all__ = ["new_client_id", "next_id"]

_PREFIX = secrets.token_hex(8)
_counter = itertools.count(1)


def next_id() -> str:
    """A message or correlation ID unique within this process and very likely across them."""
    return f"{_PREFIX}-{next(_counter):x}"


def new_client_id() -> str:
    """A fresh, unguessable client ID (design.md §4)."""
    return "c-" + secrets.token_urlsafe(16)  # 128 random bits: unique across cluster nodes
