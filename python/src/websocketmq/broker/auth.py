"""First-message authentication (docs/security.md §5): the first frame must authenticate.

For browsers that should not put a token in the URL: with ``authenticate_message`` set, the
first frame must be ``_client.register`` whose body carries ``"auth"``; the hook decides.
Nothing else is processed before it succeeds (no registration, no client ID in the registry, no
delivery): failure is ``UNAUTHENTICATED`` then close 1008, no frame within ``auth_timeout`` is
``UNAUTHENTICATED`` then close 4001, never a half-open session. The credential is removed before
the session sees the frame.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from ..protocol.session import Authenticate, State
from .connection import ClientConnection
from .options import BrokerOptions

__all__ = ["FirstMessageAuth"]

log = logging.getLogger("websocketmq.broker")


class FirstMessageAuth:
    """The ``authenticate_message`` hook applied to each new connection's first frame; the
    rules and the AUTH_PENDING state are the session's (``protocol/session.py`` rule 0)."""

    def __init__(self, options: BrokerOptions) -> None:
        self._options = options

    @property
    def enabled(self) -> bool:
        """Whether connections must authenticate with their first message."""
        return self._options.authenticate_message is not None

    def start(self, conn: ClientConnection) -> None:
        """``conn`` must authenticate within ``auth_timeout``."""
        loop = asyncio.get_running_loop()
        conn.await_auth(loop.call_later(self._options.auth_timeout, _expired, conn))

    async def authenticate(self, conn: ClientConnection, action: Authenticate) -> None:
        """Run the hook on the credential; pass the frame on to the session, or refuse."""
        hook = self._options.authenticate_message
        identity: Any = None
        if hook is not None:
            try:
                identity = hook(conn.identity, action.credential)
                if inspect.isawaitable(identity):
                    identity = await identity
            except Exception as exc:  # the type only: exception texts carry the credential
                log.info("first-message authentication failed: %s", type(exc).__name__)
                identity = None
        session = conn.session
        if identity is None:
            conn.end_auth()
            conn.output(session.auth_refused(action.message))
            return
        if session.state is State.AUTH_PENDING:  # else the deadline passed while the hook ran
            conn.end_auth()
            conn.identity = identity
        await conn.perform(session.authenticated(action.message))


def _expired(conn: ClientConnection) -> None:
    conn.end_auth()
    conn.output(conn.session.auth_expired())
