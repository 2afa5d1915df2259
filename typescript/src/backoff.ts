/**
 * Reconnect delays: exponential backoff with jitter.
 *
 * Why jitter: when a broker restarts, every page reconnects at once; spreading each delay over
 * [delay/2, delay] keeps the herd from arriving in one burst while keeping the growth.
 */
export interface BackoffOptions {
  /** First delay in ms (default 250). */
  initialDelayMs: number;
  /** Cap in ms (default 10 000). */
  maxDelayMs: number;
  /** Growth factor per failed attempt (default 2). */
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2 };

/**
 * Delay before reconnect `attempt` (1-based): `min(max, initial * factor^(attempt-1))`, then
 * scaled into [0.5, 1] by `random()` ("equal jitter").
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const exp = Math.max(0, attempt - 1);
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** exp);
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(base / 2 + (base / 2) * r);
}
