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
import contextlib
import inspect
import logging
from typing import Any

from ..errors import Unauthenticated, WsmqError
from ..limits import json_depth_exceeds
from ..protocol.envelope import INVALID_CORRELATION, Message, decode, encode, new_error
from .connection import ClientConnection
from .options import BrokerOptions

__all__ = ["FirstMessageAuth"]

log = logging.getLogger("websocketmq.broker")


class FirstMessageAuth:
    """The ``authenticate_message`` hook applied to each new connection's first frame."""

    def __init__(self, options: BrokerOptions) -> None:
        self._options = options

    @property
    def enabled(self) -> bool:
        """Whether connections must authenticate with their first message."""
        return self._options.authenticate_message is not None

    def start(self, conn: ClientConnection) -> None:
        """``conn`` must authenticate within ``auth_timeout``."""
        loop = asyncio.get_running_loop()
        conn.await_auth(loop.call_later(self._options.auth_timeout, self._expired, conn))

    async def authenticate(self, conn: ClientConnection, frame: str | bytes) -> None:
        """Judge the first frame: pass it on to the session without its credential, or refuse."""
        opts = self._options
        hook = opts.authenticate_message
        msg: Message | None = None
        if (
            isinstance(frame, str)
            and len(frame) <= opts.max_message_size
            and not json_depth_exceeds(frame, opts.max_json_depth)
        ):
            with contextlib.suppress(WsmqError):
                msg = decode(frame)
        identity: Any = None
        body = msg.body if msg is not None else None
        if (
            hook is not None
            and msg is not None
            and msg.header.type == "event"
            and msg.header.topic == opts.registration_topic
            and isinstance(body, dict)
            and "auth" in body
        ):
            try:
                identity = hook(conn.identity, body.pop("auth"))
                if inspect.isawaitable(identity):
                    identity = await identity
            except Exception as exc:  # the type only: exception texts carry the credential
                log.info("first-message authentication failed: %s", type(exc).__name__)
                identity = None
        if not conn.auth_pending:  # the deadline passed while the hook ran
            return
        if identity is None:
            corr = msg.header.message_id if msg is not None else INVALID_CORRELATION
            err = Unauthenticated("authentication failed", None, corr)
            conn.send(encode(new_error(corr, err)))
            conn.end_auth()
            conn.abort(1008, "authentication failed")
            return
        conn.end_auth()
        conn.identity = identity
        assert msg is not None
        await conn.receive(encode(msg).decode())

    def _expired(self, conn: ClientConnection) -> None:
        if not conn.auth_pending:
            return
        conn.end_auth()
        err = Unauthenticated("authentication deadline passed", None, INVALID_CORRELATION)
        conn.send(encode(new_error(INVALID_CORRELATION, err)))
        conn.abort(4001, "authentication deadline")
