"""Client-side pacing: a token bucket that keeps a client under the broker's message rate.

Why: a broker drops every event or request over its per-connection message rate with
``RATE_LIMITED`` (``details.reason: "message-rate"``) and charges each to the protocol-error
budget, which closes the connection with 4029 once spent (spec §12.1). A client with hundreds of
requests in flight overshoots by its whole window before the first refusal comes back, so
reacting alone cannot keep it connected: it must stay under the rate to begin with.

So the bucket starts at the rate and burst the broker announces in its registration ack
(``messageRate``/``messageBurst``, spec §6.2; 0 or absent: unlimited) and mirrors the broker's
bucket from the client's side. When a ``RATE_LIMITED`` about the message rate still arrives (a
broker that announced nothing, a proxy with its own limit, clocks drifting) the rate is halved
(multiplicative decrease) and the client waits a backoff before sending again; every
``recover_after`` seconds without a refusal the rate grows by half again (up to the announced
ceiling; without a ceiling the bucket turns unlimited again once it has grown past the rate it
was last refused at, times ``2 ** 4``).

State as data, no clock of its own: every call takes ``now`` (seconds, monotonic), like
:mod:`websocketmq.limits`, so the tests drive it with plain numbers.
"""

from __future__ import annotations

import math

__all__ = ["Pacer"]

_MIN_RATE = 1.0
"""The slowest the pacer goes (messages per second): a broker that refuses even that is
refusing everything, and the request deadlines settle the rest."""


class Pacer:
    """Token bucket of one client connection; :meth:`delay` before every event or request."""

    __slots__ = (
        "_ceiling",
        "_ceiling_burst",
        "_last",
        "_quiet_since",
        "_resume_at",
        "_tokens",
        "_unlimited_above",
        "backoff",
        "burst",
        "limited_count",
        "rate",
        "recover_after",
    )

    def __init__(self, *, recover_after: float = 1.0, backoff: float = 0.05) -> None:
        self.recover_after = recover_after
        """Seconds without a refusal after which the rate grows again."""
        self.backoff = backoff
        """Seconds the client stops sending after a refusal (doubles on refusals in a row)."""
        self.limited_count = 0
        """``RATE_LIMITED`` (message rate) refusals seen on this connection (informational)."""
        self.rate = self.burst = self._ceiling = self._ceiling_burst = math.inf
        self._unlimited_above = self._tokens = math.inf
        self._last = self._quiet_since = 0.0
        self._resume_at = -math.inf

    def configure(self, rate: float | None, burst: float | None, *, now: float) -> None:
        """Start over at the broker's announced limits (every registration ack, spec §6.2);
        no rate, or ``rate <= 0``: the broker announced no limit, so the bucket is unlimited."""
        if rate is not None and rate > 0:
            self._ceiling = float(rate) * _MARGIN
            self._ceiling_burst = max(1.0, (float(burst) if burst else float(rate)) * _MARGIN)
        else:
            self._ceiling = self._ceiling_burst = math.inf
        self.rate, self.burst = self._ceiling, self._ceiling_burst
        self._unlimited_above = math.inf
        # the registration itself took one of the broker's tokens
        self._tokens = max(0.0, self.burst - 1.0)
        self._last = self._quiet_since = now
        self._resume_at = -math.inf

    @property
    def unlimited(self) -> bool:
        """True while nothing is paced (no announced limit and no refusal yet)."""
        return self.rate == math.inf

    def delay(self, now: float) -> float:
        """Take a token for one message; the seconds to wait before sending it (0: at once).

        Tokens may go negative: each caller reserves its slot, so concurrent senders queue
        behind each other in order instead of all waking at the same instant.
        """
        if self.rate == math.inf:
            return 0.0
        if now - self._quiet_since >= self.recover_after and self.rate < self._ceiling:
            self._recover(now)
            if self.rate == math.inf:
                return 0.0
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
        self._tokens -= 1.0
        wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        return max(wait, self._resume_at - now)

    def limited(self, now: float) -> None:
        """A ``RATE_LIMITED`` about the message rate arrived: halve the rate, drop the banked
        tokens and pause for the backoff (doubled when refused again within
        ``recover_after``)."""
        self.limited_count += 1
        if self.limited_count > 1 and now - self._quiet_since < _ONE_DECREASE:
            # the refusals of one overshoot arrive together (every message already sent when
            # the first came back): they are one signal, not one halving each
            return
        if self.limited_count > 1 and now - self._quiet_since < self.recover_after:
            self.backoff = min(self.backoff * 2, _MAX_BACKOFF)
        current = self.rate if self.rate != math.inf else _UNPACED_GUESS
        self.rate = max(_MIN_RATE, current / 2)
        if self._ceiling == math.inf:
            self._unlimited_above = current * 16
        self.burst = max(1.0, min(self._ceiling_burst, self.rate))
        self._tokens = min(self._tokens, 0.0)
        self._last = self._quiet_since = now
        self._resume_at = max(self._resume_at, now + self.backoff)

    def _recover(self, now: float) -> None:
        """Grow the rate by half per quiet ``recover_after`` (up to the announced ceiling, or
        back to unlimited well above the rate last refused) and halve the backoff."""
        steps = int((now - self._quiet_since) // self.recover_after)
        self._quiet_since += steps * self.recover_after
        self.backoff = max(_MIN_BACKOFF, self.backoff / 2**steps)
        grown = self.rate * 1.5 ** min(steps, 64)
        if grown >= self._unlimited_above:
            self.rate = self.burst = self._tokens = math.inf
            return
        self.rate = min(self._ceiling, grown)
        self.burst = max(self.burst, min(self._ceiling_burst, self.rate))


_MARGIN = 0.9
"""The share of the announced rate and burst the client uses: messages paced at the exact rate
can reach the broker bunched (the network, the event loop), and the broker's bucket must keep a
reserve to absorb that; at 90 % it regains a tenth of a burst every ``burst / rate`` seconds."""
_ONE_DECREASE = 0.25
"""Seconds after a decrease during which further refusals only count (one halving per round
trip, as TCP does)."""
_MIN_BACKOFF = 0.05
_MAX_BACKOFF = 5.0
_UNPACED_GUESS = 10_000.0
"""The rate an unpaced client is assumed to have been sending at when first refused (messages
per second; a Python client on one core does not send much faster): halving starts there."""
