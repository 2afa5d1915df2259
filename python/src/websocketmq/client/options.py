"""Every setting of the Python client in one dataclass (issue 12: one place, not 13 keyword
arguments repeated in ``Client.__init__`` and ``connect()``).

``connect(url, request_timeout=5)`` and ``connect(url, options=ClientOptions(request_timeout=5))``
are the same: keyword arguments override the fields of ``options`` (or of the defaults), and an
unknown keyword is a ``TypeError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client

__all__ = ["ClientOptions"]


@dataclass(slots=True)
class ClientOptions:
    """How a :class:`~websocketmq.client.Client` connects, reconnects, times out and paces."""

    auto_reconnect: bool = True
    """Reconnect after a lost connection (not after the first attempt fails, and not after a
    close code that forbids it: 1000, 1008, 4001, 4009, spec §12.2)."""
    reconnect_min: float = 0.1
    """Seconds: the first step of the jittered exponential reconnect backoff."""
    reconnect_max: float = 10.0
    """Seconds: the cap of the reconnect backoff."""
    request_timeout: float = 30.0
    """Default ttl of requests, seconds (``request(..., timeout=)`` overrides it)."""
    connect_timeout: float = 10.0
    """Seconds for the WebSocket upgrade, and again for the registration ack (a server that
    accepts the upgrade but never acknowledges is not a wsmq/1 broker: ``ConnectFailed``)."""
    page_session_id: str | None = None
    """Opaque label sent in the registration and echoed in the ack (spec §6.2)."""
    on_connect: Callable[[Client], Any] | None = None
    """Called (sync or async) after every (re)registration."""
    on_disconnect: Callable[[Client, BaseException | None], Any] | None = None
    """Called (sync or async) after every loss, with the error if there was one."""
    subprotocols: list[str] | None = None
    """WebSocket subprotocols offered; None: ``["wsmq.v1"]``; ``[]``: none."""
    max_concurrent_handlers: int = 256
    """Server→client requests served at once; more are answered ``RATE_LIMITED``."""
    ws_options: dict[str, Any] | None = None
    """Passed to ``websockets.asyncio.client.connect`` (``close_timeout`` defaults to 2 s)."""
    auth: Any = None
    """Sent as ``"auth"`` in every ``_client.register`` (first-message authentication,
    docs/security.md §5); a callable (sync or async) is called on every (re)connection for a
    fresh credential."""
    pace: bool = True
    """Stay under the broker's message rate (spec §12.1): a token bucket at the rate the ack
    announces, halved on every ``RATE_LIMITED`` about the rate and recovering after quiet
    seconds; a request the broker dropped over the rate is sent again after the backoff,
    within its deadline (``websocketmq.protocol.pacing``). False: send at once, always."""
