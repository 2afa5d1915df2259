"""A nats-py client with a synchronous hot path, for :class:`~.nats.NatsBackend`.

Why: with nats-py's public API every message a node receives goes parser → ``Msg`` object →
per-subscription ``asyncio.Queue`` → the subscription's task → a callback coroutine, and every
publish validates its subject, builds the command through an f-string and awaits a flush
hand-off. For cross-node RPC that is several µs of pure Python per message on each side, paid
twice per request (request and answer), and it was most of the cost that separated two nodes
from one (docs/deployment.md, "Performance").

:class:`FastClient` keeps nats-py for everything that is hard (connecting, TLS, auth, cluster
failover, reconnecting and re-subscribing, PING/PONG, status headers) and adds two shortcuts:

* **direct subscriptions**: :meth:`FastClient.set_direct` maps a subscription's ``sid`` to a
  plain function ``fn(subject, reply, data, headers)`` called straight from the parser loop
  (bytes as parsed, ``headers`` = the raw header block or ``None``). It must not block or raise
  (exceptions are logged, the read loop goes on).
* **publish_nowait**: appends a ready-made PUB/HPUB command to nats-py's pending buffer and kicks
  its flusher without awaiting. Returns False when the caller must use the ordinary
  ``await publish()`` instead (not connected, buffer over its bound, flusher gone), so back
  pressure and reconnect buffering keep nats-py's semantics.

Both rely on nats-py internals (``_process_msg``, ``_pending``, ``_flush_queue``, checked for
2.9 … 2.16); :func:`supported` tells whether the installed version has them, and the backend
falls back to the public API when it does not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import nats.aio.client
import nats.errors as nats_errors

__all__ = ["DirectHandler", "FastClient", "build_headers", "supported"]

log = logging.getLogger(__name__)

DirectHandler = Callable[[bytes, bytes, bytes, "bytes | None"], None]
"""``fn(subject, reply, data, raw_headers)`` called from the parser loop."""

_REQUIRED = (
    "_process_msg",
    "_remove_sub",
    "_pending",
    "_pending_data_size",
    "_flush_queue",
    "_flusher_task",
)


def supported() -> bool:
    """True if the installed nats-py has the internals :class:`FastClient` relies on."""
    probe = nats.aio.client.Client()
    return all(hasattr(probe, name) for name in _REQUIRED)


def build_headers(headers: dict[str, str]) -> bytes:
    """The raw ``NATS/1.0`` header block for ``headers`` (keys/values must be plain tokens)."""
    parts = [b"NATS/1.0\r\n"]
    for key, value in headers.items():
        parts.append(f"{key}: {value}\r\n".encode())
    parts.append(b"\r\n")
    return b"".join(parts)


class FastClient(nats.aio.client.Client):
    """nats-py ``Client`` plus direct (synchronous) subscriptions and :meth:`publish_nowait`."""

    def __init__(self) -> None:
        super().__init__()
        self._direct: dict[int, DirectHandler] = {}
        self._kick: asyncio.Future[None] | None = None

    def set_direct(self, sub: Any, fn: DirectHandler | None) -> None:
        """Deliver ``sub``'s messages to ``fn`` from the parser loop (None: back to its cb)."""
        sid = sub._id
        if fn is None:
            self._direct.pop(sid, None)
        else:
            self._direct[sid] = fn

    def _remove_sub(self, sid: int, max_msgs: int = 0) -> None:
        """nats-py drops a subscription (unsubscribe, drain): drop its direct handler too."""
        self._direct.pop(sid, None)
        super()._remove_sub(sid, max_msgs)

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        fn = self._direct.get(sid)
        if fn is None:
            await super()._process_msg(sid, subject, reply, data, headers)  # type: ignore[arg-type]
            return
        stats = self.stats
        stats["in_msgs"] += 1
        stats["in_bytes"] += len(data)
        try:
            fn(subject, reply, data, headers)
        except Exception:  # a handler bug must not stop the read loop (and with it the node)
            log.exception("direct NATS handler for %r failed", subject)

    def publish_nowait(
        self, subject: str, payload: bytes, reply: str = "", headers: bytes | None = None
    ) -> bool:
        """Queue a PUB (HPUB with the raw ``headers`` block) for the flusher, without awaiting.

        The subject and reply must be valid (the backend builds them from validated parts).
        Returns False, queueing nothing, when the caller must ``await publish()`` instead.
        Raises ``MaxPayloadError`` like ``publish`` for a payload over the server's limit.
        """
        if not self.is_connected:
            return False
        size = len(payload)
        if size > self._max_payload:
            raise nats_errors.MaxPayloadError
        if headers is None:
            cmd = b"PUB %s %s %d\r\n%s\r\n" % (subject.encode(), reply.encode(), size, payload)
        else:
            hl = len(headers)
            cmd = b"HPUB %s %s %d %d\r\n%s%s\r\n" % (
                subject.encode(),
                reply.encode(),
                hl,
                hl + size,
                headers,
                payload,
            )
        pending_size = self._pending_data_size + len(cmd)
        if self._max_pending_size > 0 and pending_size > self._max_pending_size:
            return False  # let nats-py apply its back pressure
        flusher = self._flusher_task
        queue = self._flush_queue
        if flusher is None or flusher.done() or queue is None:
            return False
        self._pending.append(cmd)
        self._pending_data_size = pending_size
        stats = self.stats
        stats["out_msgs"] += 1
        stats["out_bytes"] += size
        if queue.empty():
            kick = self._kick
            if kick is None:
                # the flusher only sets a result on futures that are not done: one finished
                # future serves as the wake-up token for ever
                kick = self._kick = asyncio.get_running_loop().create_future()
                kick.set_result(None)
            queue.put_nowait(kick)
        return True
