"""Python client bugs found by reading it against spec/protocol.md: each test failed before its fix.

Every test runs the real in-process broker over 127.0.0.1 (``run_broker(port=0)``).
"""

from __future__ import annotations

from typing import Any

import pytest
from websocketmq import connect
from websocketmq.testing import run_broker

__all__: list[str] = []


def _drop(live: Any, client_id: str | None) -> None:
    """Reset the client's TCP connection from the broker side (no close frame)."""
    conn = live.broker.get_client(client_id or "")
    assert conn is not None
    conn.transport._ws.transport.abort()


async def test_a_handler_result_that_cannot_be_encoded_is_answered_not_left_hanging() -> None:
    """§8.4.3 / §8.5: a server caller must never wait out its ttl for a client that got the
    request. Bug: the answer was encoded outside the handler's try, so an unencodable return
    value killed the task silently and the server request ran into TIMEOUT."""
    async with run_broker(port=0) as live, connect(live.url) as client:
        await client.subscribe("client.weird", lambda m: object())
        with pytest.raises(Exception) as info:
            await live.broker.request_to_client(client.client_id or "", "client.weird", None, 3)
        assert getattr(info.value, "code", None) == "HANDLER_ERROR"
