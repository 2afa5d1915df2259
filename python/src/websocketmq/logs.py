"""Log output for operators (docs/operations.md, "Logs"): text or JSON lines, and no floods.

``wsmq serve --log-format json`` writes one JSON object per line and event::

    {"ts": "2026-12-02T18:40:01.123Z", "level": "WARNING", "logger": "websocketmq.broker",
     "message": "client k3…: send queue full, closing (slow consumer)", "client_id": "k3…",
     "code": 4008}

Context travels as ``extra=`` fields of the logging call; the ones an operator filters on are
:data:`FIELDS` (client ID, topic, correlation ID, code). Every string is passed through
:func:`~websocketmq.limits.redact` first, as the text format's lines are (docs/security.md §6).

:class:`RepeatFilter` bounds repeated warnings: during a NATS outage every dropped publish
would log the same line; the filter lets ``burst`` records of one *call site* (logger, level and
format string, not the formatted text: the topic differs per line) through per ``interval``
seconds, then counts the rest and reports ``(N similar suppressed)`` on the next one it lets
through. The loggers that can flood (the NATS backend, the broker) carry it whatever the
application's logging setup; :func:`configure` adds it to the handler for everything else.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, Final, TextIO

from .limits import redact

__all__ = ["FIELDS", "JsonFormatter", "RepeatFilter", "configure", "rate_limit"]

FIELDS: Final = ("client_id", "topic", "correlation_id", "code")
"""``extra=`` fields copied into JSON lines (and the ones the broker sets)."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts`` (UTC, ms), ``level``, ``logger``, ``message``, the
    :data:`FIELDS` present, ``suppressed`` (from :class:`RepeatFilter`), ``exc`` (traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out: dict[str, Any] = {
            "ts": f"{ts}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in (*FIELDS, "suppressed"):
            value = record.__dict__.get(name)
            if value is not None:
                out[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = redact(record.exc_text)
        return json.dumps(out, ensure_ascii=False, default=str)


class RepeatFilter(logging.Filter):
    """Let at most ``burst`` records per call site through per ``interval`` s (WARNING and
    above; lower levels are left alone: they are off in production and wanted in debugging).

    The first record let through after a suppression carries ``suppressed=N`` and the text
    ``(N similar suppressed)``, so the log still says how bad it was.
    """

    def __init__(
        self, burst: int = 5, interval: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst = burst
        self.interval = interval
        self._clock = clock
        self._sites: dict[tuple[str, int, str], list[float | int]] = {}
        """site → [window start, records let through in it, records suppressed]"""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        site = self._sites.get(key)
        if site is None or now - site[0] >= self.interval:
            suppressed = int(site[2]) if site is not None else 0
            if len(self._sites) > 1000:  # call sites are finite, but be safe: forget old ones
                self._sites.clear()
            self._sites[key] = [now, 1, 0]
            if suppressed:
                _mark(record, suppressed)
            return True
        if site[1] < self.burst:
            site[1] += 1
            return True
        site[2] += 1
        return False


def _mark(record: logging.LogRecord, suppressed: int) -> None:
    record.suppressed = suppressed
    record.msg = f"{record.getMessage()} ({suppressed} similar suppressed)"
    record.args = None


def rate_limit(logger: logging.Logger) -> logging.Logger:
    """Give ``logger`` a :class:`RepeatFilter` (once); returns it."""
    if not any(isinstance(f, RepeatFilter) for f in logger.filters):
        logger.addFilter(RepeatFilter())
    return logger


def configure(level: str | int = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Set up the root logger for ``wsmq serve``: ``fmt`` is ``text`` (the default line
    format) or ``json`` (:class:`JsonFormatter`); repeated warnings are bounded."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif fmt == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        raise ValueError(f"log format must be 'text' or 'json', not {fmt!r}")
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
