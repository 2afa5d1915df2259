/**
 * Pacing: the token bucket that keeps this client under the broker's message rate
 * (docs/concepts.md "How our clients pace themselves"; the Python client follows the same rules
 * and constants).
 *
 * Why: the broker drops every event or request over its per-connection rate with `RATE_LIMITED`
 * (`details.reason: "message-rate"`) and charges each to the protocol-error budget, which closes
 * the connection with 4029 once spent (spec §12.1). A client with hundreds of requests in flight
 * overshoots by its whole window before the first refusal comes back, so reacting alone cannot
 * keep it connected: it paces itself below the rate the broker announces in its registration
 * ack (`messageRate` / `messageBurst`, §6.2) from the start, and halves its rate when refused
 * anyway (a proxy with its own limit, a broker that announces nothing, clock drift). The rules
 * and constants are the Python client's (`websocketmq.protocol.pacing`), so both behave alike.
 *
 * No I/O and no clock of its own: every call takes `now` (ms, monotonic), so the client passes
 * `performance.now()` and tests pass plain numbers.
 */

/** The shared constants (docs/concepts.md; the same in `websocketmq.protocol.pacing`). */
export const PACING = {
  /** Share of the announced rate and burst used: the margin absorbs frames arriving bunched. */
  margin: 0.9,
  /** The rate an unpaced client is assumed to have sent at when first refused (messages/s). */
  unpacedGuess: 10_000,
  /** Never slower than this (messages/s): the request deadlines settle the rest. */
  minRate: 1,
  /** Pause after a refusal; doubled when refused again within `recoverAfterMs`. */
  minBackoffMs: 50,
  maxBackoffMs: 5_000,
  /** Refusals within this long after a decrease are the same overshoot: no second halving. */
  oneDecreaseMs: 250,
  /** Quiet time after which the rate grows by `growth` (and the backoff halves). */
  recoverAfterMs: 1_000,
  growth: 1.5,
  /** Without a ceiling, the bucket is unlimited again past this many times the refused rate. */
  unlimitedFactor: 16,
} as const;

export class Pacer {
  /** Messages per second now (Infinity: unpaced). */
  rate = Number.POSITIVE_INFINITY;
  /** Tokens the bucket may bank now. */
  burst = Number.POSITIVE_INFINITY;
  /** `RATE_LIMITED` (message rate) refusals seen on this connection (informational). */
  limitedCount = 0;
  private ceiling = Number.POSITIVE_INFINITY;
  private ceilingBurst = Number.POSITIVE_INFINITY;
  private unlimitedAbove = Number.POSITIVE_INFINITY;
  private tokens = Number.POSITIVE_INFINITY;
  private last = 0;
  private quietSince = 0;
  private resumeAt = Number.NEGATIVE_INFINITY;
  private backoffMs: number = PACING.minBackoffMs;

  /**
   * Start over at the limits of a registration ack (every (re)connection, §6.2); no rate, or 0:
   * the broker announced no limit, so nothing is paced until a refusal.
   */
  configure(rate: number | undefined, burst: number | undefined, now: number): void {
    if (rate !== undefined && Number.isFinite(rate) && rate > 0) {
      this.ceiling = rate * PACING.margin;
      this.ceilingBurst = Math.max(1, (burst !== undefined && burst > 0 ? burst : rate) * PACING.margin);
    } else {
      this.ceiling = this.ceilingBurst = Number.POSITIVE_INFINITY;
    }
    this.rate = this.ceiling;
    this.burst = this.ceilingBurst;
    this.tokens = Math.max(0, this.burst - 1); // the registration took one of the broker's tokens
    this.unlimitedAbove = Number.POSITIVE_INFINITY;
    this.last = this.quietSince = now;
    this.resumeAt = Number.NEGATIVE_INFINITY;
  }

  /**
   * How long until one more message may go (0: now, and its token is taken). The caller sends
   * when 0, else waits that long and asks again.
   */
  take(now: number): number {
    if (this.rate === Number.POSITIVE_INFINITY) return 0;
    if (now - this.quietSince >= PACING.recoverAfterMs && this.rate < this.ceiling) {
      this.recover(now);
      if (this.rate === Number.POSITIVE_INFINITY) return 0;
    }
    if (now < this.resumeAt) return this.resumeAt - now;
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, ((1 - this.tokens) / this.rate) * 1000);
  }

  /** A message that cannot wait (a cancel notice) spends a token anyway, going into debt. */
  spend(now: number): void {
    if (this.rate === Number.POSITIVE_INFINITY) return;
    this.refill(now);
    this.tokens -= 1;
  }

  /**
   * A `RATE_LIMITED` about the message rate arrived: halve the rate, empty the bucket and pause
   * for the backoff; refusals within `oneDecreaseMs` of the last decrease only count (one
   * overshoot). True when it decreased.
   */
  limited(now: number): boolean {
    this.limitedCount += 1;
    if (this.limitedCount > 1 && now - this.quietSince < PACING.oneDecreaseMs) return false;
    if (this.limitedCount > 1 && now - this.quietSince < PACING.recoverAfterMs) {
      this.backoffMs = Math.min(PACING.maxBackoffMs, this.backoffMs * 2);
    }
    const current = this.rate === Number.POSITIVE_INFINITY ? PACING.unpacedGuess : this.rate;
    this.rate = Math.max(PACING.minRate, current / 2);
    if (this.ceiling === Number.POSITIVE_INFINITY) this.unlimitedAbove = current * PACING.unlimitedFactor;
    this.burst = Math.max(1, Math.min(this.ceilingBurst, this.rate));
    this.tokens = Math.min(this.tokens, 0);
    this.last = this.quietSince = now;
    this.resumeAt = Math.max(this.resumeAt, now + this.backoffMs);
    return true;
  }

  /** Every quiet `recoverAfterMs` the rate grows ×`growth` up to the ceiling; the backoff halves. */
  private recover(now: number): void {
    const steps = Math.floor((now - this.quietSince) / PACING.recoverAfterMs);
    this.quietSince += steps * PACING.recoverAfterMs;
    this.backoffMs = Math.max(PACING.minBackoffMs, this.backoffMs / 2 ** steps);
    const grown = this.rate * PACING.growth ** Math.min(steps, 64);
    if (grown >= this.unlimitedAbove) {
      this.rate = this.burst = this.tokens = Number.POSITIVE_INFINITY;
      return;
    }
    this.refill(now);
    this.rate = Math.min(this.ceiling, grown);
    this.burst = Math.max(this.burst, Math.min(this.ceilingBurst, this.rate));
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
    }
  }
}
