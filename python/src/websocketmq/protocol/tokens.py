"""Resume tokens (design.md §4): an HMAC over the client ID and an expiry.

Stateless, so any node that shares the secret can verify a token issued by another node: this
is what makes identity resume work across a cluster. The caller passes ``now`` (seconds since the
epoch): no clock reads here.

Two consequences, decided and documented (spec §6.4, docs/security.md §6):

* An expiry further ahead than the verifier's own token lifetime (plus :data:`CLOCK_SKEW` for
  nodes whose clocks differ) is refused even when its MAC is right: a token issued under a longer
  ``resume_token_ttl`` (an old configuration, another node) does not outlive the lifetime in force.
* A newer token does not revoke an older one: every token issued for an ID stays valid until its
  own expiry. Revoking would need state shared by every node (a generation per ID), which the
  stateless design avoids; the lifetime cap is what bounds an older token's use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["CLOCK_SKEW", "issue_token", "verify_token"]

CLOCK_SKEW = 60.0
"""Seconds an expiry may lie beyond ``now + lifetime``: the clocks of cluster nodes differ."""


def _mac(secret: bytes, client_id: str, expiry: int) -> str:
    digest = hmac.new(secret, f"{client_id}\n{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def issue_token(secret: bytes, client_id: str, now: float, ttl: float) -> str:
    """A token that lets ``client_id`` be resumed until ``now + ttl``."""
    expiry = int(now + ttl)
    return f"{expiry}.{_mac(secret, client_id, expiry)}"


def verify_token(
    secret: bytes, client_id: str, token: str, now: float, lifetime: float | None = None
) -> bool:
    """Whether ``token`` was issued for ``client_id`` with ``secret`` and has not expired; with
    ``lifetime``, also whether its expiry lies within ``now + lifetime + CLOCK_SKEW``."""
    expiry_text, _, mac = token.partition(".")
    # isascii(): str.isdigit() accepts "²", which int() refuses (an exception, not a verdict)
    if not (expiry_text.isascii() and expiry_text.isdigit()) or len(expiry_text) > 12:
        return False
    expiry = int(expiry_text)
    if expiry < now or (lifetime is not None and expiry > now + lifetime + CLOCK_SKEW):
        return False
    return hmac.compare_digest(mac, _mac(secret, client_id, expiry))
