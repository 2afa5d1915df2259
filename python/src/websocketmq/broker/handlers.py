"""Server handlers: their registry, and the one place a handler is called and its reply made.

Every request a server handler answers — from a client on this node, from another node through
the backend, from server code — goes through :meth:`HandlerRegistry.invoke` (call the handler:
its reply, or the awaitable it returned) and :meth:`HandlerRegistry.finish` (await that within
the request's ttl). Both map failures the same way, in :meth:`HandlerRegistry.error_reply`:
a :class:`~websocketmq.errors.WsmqError` becomes its own error reply, any other exception
``HANDLER_ERROR`` (spec §11.3), a missed ttl ``TIMEOUT``. Events go to every matching handler
(:meth:`HandlerRegistry.deliver`); sync ones run inline, async ones as bounded tasks.

"Any other exception" includes ``SystemExit`` and the other ``BaseException`` subclasses
(argparse raises ``SystemExit`` on bad input): a handler's failure is its caller's, never the
process's. Only cancellation and ``KeyboardInterrupt`` propagate (:data:`PROPAGATE`). An async
handler runs inside :func:`_contained`, because asyncio re-raises a task's ``SystemExit`` out
of the event loop itself, before anyone awaits the task.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..errors import HandlerError, NoHandler, RequestTimeout, WsmqError, valid_code
from ..protocol.envelope import Message, decode, encode, new_error
from ..protocol.envelope import new_response as _new_response
from ..protocol.session import ServerSession
from ..protocol.topics import HandlerEntry, SubscriptionIndex
from .background import Background
from .options import BrokerOptions

__all__ = ["PROPAGATE", "Handler", "HandlerExit", "HandlerRegistry", "Subscription", "reply_frame"]

log = logging.getLogger("websocketmq.broker")

_PLAIN = frozenset({dict, list, str, int, float, bool, type(None)})
"""What a sync handler returns most often: never awaitable, so ``inspect.isawaitable`` (an
``Awaitable`` ABC check, slow for a value that is not one) is skipped for them."""

Handler = Callable[[Message, "str | None"], Any]
"""``(msg, client_id) -> body | Message | None`` (sync or async). ``client_id`` is the sender's
ID, None for messages from server code. For a request the return value is the response body
(or a full response built with ``new_response(msg, data)``)."""

Entry = HandlerEntry[Handler]

PROPAGATE = (asyncio.CancelledError, KeyboardInterrupt)
"""The only exceptions of a handler that are not its caller's HANDLER_ERROR (module docstring)."""


class HandlerExit(Exception):
    """A handler raised a ``BaseException`` that is not in :data:`PROPAGATE` (``SystemExit``,
    ``GeneratorExit``…), carried as an ordinary exception so that it cannot stop the event loop;
    ``original`` is what the handler raised."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(f"{type(original).__name__}: {original}")
        self.original = original


async def _contained(awaitable: Awaitable[Any]) -> Any:
    """Await a handler's awaitable so that no ``BaseException`` but cancellation and
    ``KeyboardInterrupt`` leaves it: the others become :class:`HandlerExit`."""
    try:
        return await awaitable
    except PROPAGATE:
        raise
    except Exception:
        raise
    except BaseException as exc:
        raise HandlerExit(exc) from exc


class Subscription:
    """A handler registration; ``unsubscribe()`` removes it. Awaitable: ``await`` it to be
    sure the backend (e.g. a NATS cluster) serves the pattern too."""

    def __init__(
        self,
        entry: Entry,
        remove: Callable[[Entry], None],
        ready: asyncio.Future[None] | None = None,
    ) -> None:
        self._entry = entry
        self._remove = remove
        self.pattern = entry.pattern
        self.handler = entry.fn
        self._ready = ready

    def unsubscribe(self) -> None:
        """Remove the handler at once (idempotent)."""
        self._remove(self._entry)

    def __await__(self) -> Any:
        if self._ready is not None:
            yield from self._ready.__await__()
        return self


class HandlerRegistry:
    """The server handlers of one node, by pattern, and how they are called."""

    def __init__(
        self,
        background: Background,
        options: BrokerOptions,
        *,
        default_ttl_ms: int,
    ) -> None:
        self._background = background
        self._options = options
        """Read at each use: ``detailed_errors`` and ``max_event_tasks`` may change live."""
        self._index: SubscriptionIndex[Entry] = SubscriptionIndex()
        self._patterns: dict[str, int] = {}
        self._seq = 0
        self._event_tasks = 0
        self._default_ttl_ms = default_ttl_ms

    # -- registrations ----------------------------------------------------------------------

    def add(self, pattern: str, fn: Handler) -> tuple[Entry, bool]:
        """Register ``fn``; returns its entry and whether ``pattern`` is newly served."""
        self._seq += 1
        entry = Entry(self._seq, pattern, fn)
        self._index.add(pattern, entry)
        count = self._patterns.get(pattern, 0)
        self._patterns[pattern] = count + 1
        return entry, count == 0

    def remove(self, entry: Entry) -> bool | None:
        """Unregister; None if it was not registered, else whether its pattern is now unserved."""
        if not self._index.remove(entry.pattern, entry):
            return None
        left = self._patterns[entry.pattern] - 1
        if left:
            self._patterns[entry.pattern] = left
            return False
        del self._patterns[entry.pattern]
        return True

    @property
    def patterns(self) -> Iterable[str]:
        """Every pattern some handler serves."""
        return self._patterns.keys()

    @property
    def count(self) -> int:
        """Handler registrations (a pattern with two handlers counts twice)."""
        return sum(self._patterns.values())

    def has(self, topic: str) -> bool:
        """Whether any handler matches ``topic``."""
        return bool(self._index.match(topic))

    def first(self, topic: str) -> Entry | None:
        """The handler that answers a request on ``topic``: the first registered match."""
        entries = self._index.match(topic)
        if not entries:
            return None
        return min(entries, key=_seq_of) if len(entries) > 1 else entries[0]

    # -- events -------------------------------------------------------------------------------

    def deliver(
        self, topic: str, frame: bytes, source: str | None, message: Message | None
    ) -> None:
        """Run every handler matching ``topic`` (decoding ``frame`` only if there is one and
        ``message`` is missing); failures are logged, never raised."""
        entries = self._index.match(topic)
        if not entries:
            return
        msg = message if message is not None else decode(frame)
        for entry in entries:
            self._run_event_handler(entry, msg, source)

    def matches(self, topic: str) -> bool:
        """Whether an event on ``topic`` has handlers to run."""
        return bool(self._index.match(topic))

    def _run_event_handler(self, entry: Entry, msg: Message, source: str | None) -> None:
        if entry.is_async:
            if self._event_tasks >= self._options.max_event_tasks:
                log.warning("dropping event %s for %s: too many handler tasks", msg.topic, entry.fn)
                return
            self._event_tasks += 1
            self._background.spawn(self._event_task(entry, msg, source))
            return
        try:
            result = entry.fn(msg, source)
            if type(result) not in _PLAIN and inspect.isawaitable(result):
                self._background.spawn(_logged(_contained(result), entry, msg))
        except PROPAGATE:
            raise
        except BaseException:
            log.exception(
                "event handler %r for %s raised", entry.fn, msg.topic, extra={"topic": msg.topic}
            )

    async def _event_task(self, entry: Entry, msg: Message, source: str | None) -> None:
        try:
            await _logged(_contained(entry.fn(msg, source)), entry, msg)
        finally:
            self._event_tasks -= 1

    # -- requests ------------------------------------------------------------------------------

    def invoke(self, entry: Entry, msg: Message) -> Message | Awaitable[Any]:
        """Call the handler: its reply (response or error), or the awaitable it returned, to
        pass to :meth:`finish`."""
        try:
            result = entry.fn(msg, msg.header.source)
        except PROPAGATE:
            raise
        except BaseException as exc:
            return self.error_reply(msg, exc)
        if type(result) not in _PLAIN and inspect.isawaitable(result):
            return result
        return _as_response(msg, result)

    async def finish(self, msg: Message, pending: Awaitable[Any]) -> Message:
        """Await what a handler returned, within the request's ttl; errors become replies."""
        topic = msg.header.topic
        ttl = (msg.header.ttl or self._default_ttl_ms) / 1000
        try:
            async with asyncio.timeout(ttl) as deadline:
                result = await _bounded(pending, ttl)
            if deadline.expired():
                raise TimeoutError  # the handler swallowed its cancellation: still TIMEOUT
        except TimeoutError:
            err = RequestTimeout(f"handler for {topic!r} took longer than {ttl:g} s")
            return new_error(msg.header.correlation_id, err)
        except Exception as exc:
            return self.error_reply(msg, exc)
        return _as_response(msg, result)

    def start(self, topic: str, msg: Message) -> Message | Awaitable[Message]:
        """Answer a request on ``topic``: the reply when it is ready at once (NO_HANDLER, a
        sync handler), else the awaitable of it."""
        entry = self.first(topic)
        if entry is None:
            return new_error(msg.header.correlation_id, NoHandler(f"no handler for {topic!r}"))
        reply = self.invoke(entry, msg)
        if isinstance(reply, Message):
            return reply
        return self.finish(msg, reply)

    def error_reply(self, msg: Message, exc: BaseException) -> Message:
        """The error reply for a handler's exception: a WsmqError is its own error reply, any
        other exception HANDLER_ERROR (spec §11.3; the full exception goes to the log, the
        caller sees its text only with ``detailed_errors`` on). A WsmqError whose ``code`` was
        changed after it was made into something the wire forbids is HANDLER_ERROR too: the
        broker never sends a code breaking ``^[A-Z][A-Z0-9_]{0,63}$`` (spec §11.3)."""
        corr = msg.header.correlation_id
        if isinstance(exc, HandlerExit):
            exc = exc.original
        if isinstance(exc, WsmqError) and valid_code(exc.code):
            return new_error(corr, exc)
        topic = msg.header.topic
        extra = {"topic": topic, "correlation_id": corr, "code": "HANDLER_ERROR"}
        log.warning("handler for %s raised", topic, exc_info=exc, extra=extra)
        if self._options.detailed_errors:
            err = HandlerError(f"handler for {topic!r} raised {type(exc).__name__}: {exc}")
        else:
            err = HandlerError(f"handler for {topic!r} failed")
        return new_error(corr, err)

    def internal_error(self, exc: BaseException) -> WsmqError:
        """INTERNAL for a routing failure (a bug); its text only with ``detailed_errors``."""
        if self._options.detailed_errors:
            return WsmqError("INTERNAL", f"{type(exc).__name__}: {exc}")
        return WsmqError("INTERNAL", "internal error while routing the request")


def _as_response(msg: Message, result: Any) -> Message:
    if isinstance(result, Message) and result.header.type in ("response", "error"):
        corr = msg.header.correlation_id
        result.header.correlation_id = corr
        result.header.topic = corr or result.header.topic
        return result
    return _new_response(msg, result)


async def _bounded(awaitable: Awaitable[Any], ttl: float) -> Any:
    """Await a handler, but never past ``ttl``: a handler that ignores its cancellation keeps
    running detached (its late result is discarded) instead of delaying the TIMEOUT answer."""
    task = asyncio.ensure_future(_contained(awaitable))
    try:
        done, _ = await asyncio.wait({task}, timeout=ttl)
    except asyncio.CancelledError:
        task.cancel()
        task.add_done_callback(_discard_result)
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_discard_result)
        raise TimeoutError
    return task.result()


def _discard_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("late handler failure discarded: %r", task.exception())


async def _logged(awaitable: Awaitable[Any], entry: Entry, msg: Message) -> None:
    """Run an async event handler; its failure is logged, never raised (nobody awaits it)."""
    try:
        await awaitable
    except HandlerExit as exc:
        log.error("event handler %r for %s raised", entry.fn, msg.topic, exc_info=exc.original)
    except Exception:
        log.exception("event handler %r for %s raised", entry.fn, msg.topic)


def reply_frame(request: Message, reply: Message) -> bytes:
    """Encode a handler's reply; a value JSON cannot carry (``object()``, a set, a nesting too
    deep or a cycle, which the encoder reports as RecursionError…) is the handler's failure:
    ``HANDLER_ERROR`` for that request only (spec §8.3 rule 2), never an exception in the
    requesting client's receive loop (which closed that client with 1011)."""
    try:
        return encode(reply)
    except Exception as exc:
        topic = request.header.topic
        log.warning("handler for %s returned an unencodable value: %s", topic, type(exc).__name__)
        err = HandlerError(f"handler for {topic!r} returned a value that is not JSON")
        return ServerSession.fail(request, err)


def _seq_of(entry: Entry) -> int:
    return entry.seq
