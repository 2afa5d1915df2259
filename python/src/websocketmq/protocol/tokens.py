"""Resume tokens (design.md §4): an HMAC over the client ID and an expiry.

Stateless, so any node that shares the secret can verify a token issued by another node: this
is what makes identity resume work across a cluster. The caller passes ``now`` (seconds since the
epoch): no clock reads here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["issue_token", "verify_token"]


def _mac(secret: bytes, client_id: str, expiry: int) -> str:
    digest = hmac.new(secret, f"{client_id}\n{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def issue_token(secret: bytes, client_id: str, now: float, ttl: float) -> str:
    """A token that lets ``client_id`` be resumed until ``now + ttl``."""
    expiry = int(now + ttl)
    return f"{expiry}.{_mac(secret, client_id, expiry)}"


def verify_token(secret: bytes, client_id: str, token: str, now: float) -> bool:
    """Whether ``token`` was issued for ``client_id`` with ``secret`` and has not expired."""
    expiry_text, _, mac = token.partition(".")
    # isascii(): str.isdigit() accepts "²", which int() refuses (an exception, not a verdict)
    if not (expiry_text.isascii() and expiry_text.isdigit()) or len(expiry_text) > 12:
        return False
    expiry = int(expiry_text)
    if expiry < now:
        return False
    return hmac.compare_digest(mac, _mac(secret, client_id, expiry))
