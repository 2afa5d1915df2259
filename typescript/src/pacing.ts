/**
 * Pacing: the token bucket that keeps this client under the broker's message rate
 * (docs/concepts.md "How our clients pace themselves"; the Python client follows the same rules
 * and constants).
 *
 * Why: the broker drops every event or request over its per-connection rate with `RATE_LIMITED`
 * (`details.reason: "message-rate"`) and charges each to the protocol-error budget, which closes
 * the connection with 4029 once spent (spec §12.1). A client with hundreds of requests in flight
 * overshoots by its whole window before the first refusal comes back, so reacting alone cannot
 * keep it connected: it paces itself below the rate the broker advertises in its registration
 * ack (`messageRate` / `messageBurst`, §6.2) from the start, and halves its rate when refused
 * anyway (a proxy with its own limit, a broker that advertises nothing, clock drift).
 *
 * No I/O and no clock of its own: every call takes `now` (ms, monotonic), so the client passes
 * `performance.now()` and tests pass plain numbers.
 */

/** The shared constants (docs/concepts.md), named once. */
export const PACING = {
  /** Pace at this share of the advertised rate: headroom for jitter between the two buckets. */
  rateShare: 0.9,
  /** Bank at most this share of the advertised burst. */
  burstShare: 0.5,
  /** What a broker that advertises nothing is assumed to allow (spec §12.1 reference defaults). */
  defaultRate: 200,
  defaultBurst: 400,
  /** The rate an unpaced client is assumed to have sent at when first refused (messages/s). */
  unpacedGuess: 10_000,
  /** Never slower than this (messages/s): the request deadlines settle the rest. */
  minRate: 1,
  /** Pause after a refusal; doubled for each refusal within `recoverAfterMs` of the last one. */
  minBackoffMs: 50,
  maxBackoffMs: 5_000,
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
  /** The send sequence number at the last decrease: refusals of messages sent up to it are old. */
  private decreasedAt = -1;

  /**
   * Start over at the limits of a registration ack (every (re)connection, §6.2): `rate` absent →
   * the reference defaults; `rate` 0 → unlimited.
   */
  configure(rate: number | undefined, burst: number | undefined, now: number): void {
    if (rate === undefined || !Number.isFinite(rate) || rate < 0) {
      rate = PACING.defaultRate;
      burst = PACING.defaultBurst;
    }
    if (rate > 0) {
      this.ceiling = rate * PACING.rateShare;
      this.ceilingBurst = Math.max(1, (burst !== undefined && burst > 0 ? burst : rate) * PACING.burstShare);
    } else {
      this.ceiling = this.ceilingBurst = Number.POSITIVE_INFINITY;
    }
    this.rate = this.ceiling;
    this.burst = this.tokens = this.ceilingBurst;
    this.unlimitedAbove = Number.POSITIVE_INFINITY;
    this.last = this.quietSince = now;
    this.resumeAt = Number.NEGATIVE_INFINITY;
    this.backoffMs = PACING.minBackoffMs;
  }

  /**
   * How long until one more message may go (0: now, and its token is taken). The caller sends
   * when 0, else waits that long and asks again.
   */
  take(now: number): number {
    this.recover(now);
    if (this.rate === Number.POSITIVE_INFINITY) return 0;
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
   * A `RATE_LIMITED` about the message rate arrived for the message sent as number `seq`
   * (`sent`: the sequence number of the last message sent so far). Halves the rate, empties the
   * bucket and pauses, unless that message went out before the last decrease (it was on the
   * wire before the client slowed down). True when it decreased.
   */
  limited(seq: number, sent: number, now: number): boolean {
    this.limitedCount += 1;
    if (seq <= this.decreasedAt) return false;
    if (now - this.quietSince < PACING.recoverAfterMs && this.decreasedAt >= 0) {
      this.backoffMs = Math.min(PACING.maxBackoffMs, this.backoffMs * 2);
    }
    const current = this.rate === Number.POSITIVE_INFINITY ? PACING.unpacedGuess : this.rate;
    this.rate = Math.max(PACING.minRate, current / 2);
    if (this.ceiling === Number.POSITIVE_INFINITY) this.unlimitedAbove = current * PACING.unlimitedFactor;
    this.burst = Math.max(1, Math.min(this.ceilingBurst, this.rate));
    this.tokens = Math.min(this.tokens, 0);
    this.last = this.quietSince = now;
    this.resumeAt = now + this.backoffMs;
    this.decreasedAt = sent;
    return true;
  }

  /** Every quiet `recoverAfterMs` the rate grows ×`growth` up to the ceiling; the backoff halves. */
  private recover(now: number): void {
    if (this.rate >= this.ceiling || now - this.quietSince < PACING.recoverAfterMs) return;
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
