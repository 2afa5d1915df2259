"""Python side of typescript/test/auth.test.mjs: a real broker that authenticates by first message.

Why a script of its own rather than ``wsmq serve``: first-message authentication needs a Python
hook (``BrokerOptions.authenticate_message``), which the CLI has no flag for. The broker accepts
``{"token": "good-…"}`` (the identity is that token) and refuses anything else; the request
handler ``auth.whoami`` answers the caller's identity so the test can see which credential the
broker took on each connection.

Protocol with the test (stdout): the readiness line ``wsmq: listening on ws://HOST:PORT/PATH``.
The script runs until its stdin closes (the test closes it, or dies), then stops the broker.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from websocketmq import Message
from websocketmq.testing import run_broker

__all__ = ["main"]


def authenticate(_upgrade_identity: Any, auth: Any) -> Any:
    """Accept ``{"token": "good-…"}``; the identity is the token itself."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if isinstance(token, str) and token.startswith("good-"):
        return {"token": token}
    raise PermissionError("bad credential")


async def main() -> None:
    """Serve until stdin closes."""
    async with run_broker(0, authenticate_message=authenticate, auth_timeout=5.0) as running:
        broker = running.broker

        @broker.subscribe("auth.whoami")
        async def whoami(_msg: Message, client_id: str | None) -> Any:
            conn = broker.get_client(client_id or "")
            return {"client": client_id, "identity": conn.identity if conn else None}

        print(f"wsmq: listening on {running.url}", flush=True)
        await asyncio.to_thread(sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
