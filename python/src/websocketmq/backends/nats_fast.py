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
import nats.protocol.parser as nats_parser

__all__ = ["DirectHandler", "FastClient", "FastParser", "supported"]

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
    parser = getattr(probe, "_ps", None)
    return (
        all(hasattr(probe, name) for name in _REQUIRED)
        and isinstance(parser, nats_parser.Parser)
        and all(hasattr(parser, name) for name in ("buf", "state", "reset"))
        and hasattr(nats_parser, "AWAITING_CONTROL_LINE")
    )


class FastParser(nats_parser.Parser):
    """nats-py's protocol parser with a fast path for the common case: whole ``MSG`` /
    ``HMSG`` / ``PING`` / ``PONG`` / ``+OK`` operations in the bytes just read.

    nats-py matches a regular expression per message and deletes each message from the front
    of a ``bytearray`` (a copy of the rest of the buffer per message); this walks the chunk
    with offsets and copies each payload once, and calls a direct subscription's handler
    itself (a plain call: no ``_process_msg`` coroutine per message). Anything else (INFO,
    -ERR, a payload split across reads left mid-way by the base parser) goes to the base
    class, which is the reference for every corner of the protocol.
    """

    async def parse(self, data: bytes = b"") -> None:
        if self.state != nats_parser.AWAITING_CONTROL_LINE:
            await super().parse(data)
            return
        if self.buf:
            self.buf.extend(data)
            data = bytes(self.buf)
        buf = self.buf = bytearray()
        nc = self.nc
        direct: dict[int, DirectHandler] = getattr(nc, "_direct", None) or {}
        pos = 0
        end_of_data = len(data)
        try:
            while pos < end_of_data:
                if data.startswith(b"MSG ", pos):
                    with_headers = False
                elif data.startswith(b"HMSG ", pos):
                    with_headers = True
                elif data.startswith(b"PING\r\n", pos):
                    pos += 6
                    await nc._process_ping()
                    if self.buf is not buf:
                        return  # reset (reconnect) meanwhile: the rest is stale
                    continue
                elif data.startswith(b"PONG\r\n", pos):
                    pos += 6
                    await nc._process_pong()
                    if self.buf is not buf:
                        return
                    continue
                elif data.startswith(b"+OK\r\n", pos):
                    pos += 5
                    continue
                else:
                    break
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    break
                args = data[pos + (5 if with_headers else 4) : eol].split()
                try:
                    if with_headers:
                        if len(args) == 5:
                            subject, sid, reply, hsize, size = args
                        else:
                            subject, sid, hsize, size = args
                            reply = b""
                        header_size = int(hsize)
                    else:
                        if len(args) == 4:
                            subject, sid, reply, size = args
                        else:
                            subject, sid, size = args
                            reply = b""
                        header_size = 0
                    total = int(size)
                    sid_int = int(sid)
                except ValueError as exc:  # wrong field count or not a number
                    raise nats_errors.ProtocolError("nats: malformed MSG") from exc
                start = eol + 2
                stop = start + total
                if stop + 2 > end_of_data:
                    break  # payload not all here yet: keep the op for the next read
                if header_size:
                    headers: bytes | None = data[start : start + header_size]
                    payload = data[start + header_size : stop]
                else:
                    headers = None
                    payload = data[start:stop]
                pos = stop + 2
                fn = direct.get(sid_int)
                if fn is not None:  # a direct subscription: a plain call, no coroutine
                    nc._call_direct(fn, subject, reply, payload, headers)
                    continue
                await nc._process_msg(sid_int, subject, reply, payload, headers)
                if self.buf is not buf:
                    return
        finally:
            if self.buf is buf and pos < end_of_data:
                buf.extend(data[pos:] if pos else data)
        if not buf:
            return
        if buf.startswith((b"MSG ", b"HMSG ")) and b"\r\n" in buf:
            return  # a message whose payload is still on its way
        await super().parse()  # another operation (INFO, -ERR…) or a partial line


class FastClient(nats.aio.client.Client):
    """nats-py ``Client`` plus direct (synchronous) subscriptions and :meth:`publish_nowait`."""

    def __init__(self) -> None:
        super().__init__()
        self._ps = FastParser(self)
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
        """A message the base parser (or, for other subscriptions, :class:`FastParser`)
        parsed: its direct handler if it has one, else nats-py's delivery."""
        fn = self._direct.get(sid)
        if fn is None:
            await super()._process_msg(sid, subject, reply, data, headers)  # type: ignore[arg-type]
            return
        self._call_direct(fn, subject, reply, data, headers)

    def _call_direct(
        self, fn: DirectHandler, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        """Deliver to a direct handler, counted as nats-py counts a message (both parsers)."""
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
