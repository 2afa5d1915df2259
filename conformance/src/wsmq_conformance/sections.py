"""Where each rule lives in spec/protocol.md: one table, so citations change in one place.

Cases cite these constants rather than literal strings.  Section numbers of spec/protocol.md are
stable by the spec's own rule, so a citation stays valid as the text grows.
"""

from __future__ import annotations

__all__ = [
    "CANCEL",
    "CLOSE_CODES",
    "CONTROL",
    "ENVELOPE",
    "ERRORS",
    "ERROR_BODY",
    "EVENT",
    "FIXTURE",
    "FRAMES",
    "KEEPALIVE",
    "LIMITS",
    "NO_HANDLER",
    "ORDERING",
    "REGISTER",
    "RESERVED",
    "RESUME",
    "RPC_C2S",
    "RPC_S2C",
    "SETTLE",
    "SUBSCRIBE",
    "TOPICS",
    "TTL",
    "WILDCARDS",
]

FRAMES = "§2.2"
ENVELOPE = "§3.2"
ERRORS = "§3.5"
ERROR_BODY = "§11.1"
EVENT = "§7.3, §7.4"
RPC_C2S = "§8.3"
TTL = "§8.2 item 1; §12.1"
RPC_S2C = "§8.4"
NO_HANDLER = "§8.5"
SETTLE = "§8.6, §8.7"
CANCEL = "§8.8"
TOPICS = "§5.1"
WILDCARDS = "§5.2"
RESERVED = "§5.3"
CONTROL = "§10"
REGISTER = "§6.2, §6.3"
RESUME = "§6.4"
SUBSCRIBE = "§7.1 items 1-4, §7.2"
KEEPALIVE = "§9"
CLOSE_CODES = "§12.2"
LIMITS = "§12.1"
ORDERING = "§2.3, §7.4"
FIXTURE = "§14"
