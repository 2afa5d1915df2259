/**
 * The pending table: client→server requests waiting for their answer (spec/protocol.md §8).
 *
 * A request is keyed by its correlation ID from the moment it is made (queued or sent) until it
 * settles — by its answer, its timeout, its caller's abort signal or the loss of the socket it
 * went out on — and settles exactly once: every path goes through {@link PendingTable.settle},
 * which also clears its timer and abort listener. Settled IDs are remembered for a while so a
 * late or duplicate answer is recognized and dropped silently (§8.7) rather than reported.
 *
 * No I/O here: when a caller stops waiting the table tells its owner (`onGiveUp`), which drops
 * the queued frame or sends `_client.cancel`.
 */
import { WsmqError } from './errors.js';
import { readErrorBody, type Envelope, type ErrorMessage, type ResponseMessage } from './protocol.js';
import type { WebSocketLike } from './transport.js';

/** setTimeout's largest delay (~24.8 days): beyond it timers fire at once, so timeouts clamp. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** How many settled correlation IDs are remembered to recognize late answers (§8.7). */
const SETTLED_MEMORY = 1024;

/** A request's local timeout: the caller's, clamped to what setTimeout can wait; NaN = default. */
export function requestTimeout(requested: number | undefined, fallback: number): number {
  const value = requested === undefined || Number.isNaN(requested) ? fallback : requested;
  return Math.min(MAX_TIMEOUT_MS, value);
}

/** The wire `ttl` for a local timeout (§3.2: a positive integer of milliseconds). */
export function ttlFor(timeoutMs: number): number {
  return Math.max(1, Math.round(timeoutMs));
}

export interface Pending {
  readonly correlationID: string;
  readonly topic: string;
  /** The socket the request went out on; null while it waits in the outbox. */
  sentOn: WebSocketLike | null;
  /** The request frame, kept to re-send it when the broker drops it for the message rate. */
  frame: string;
}

interface Entry extends Pending {
  readonly resolve: (body: unknown) => void;
  readonly reject: (error: WsmqError) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  detachSignal: (() => void) | undefined;
}

/** What an answer frame did to the table. */
export type AnswerOutcome =
  /** It settled a waiting request (`error` is the error answer's, null for a response). */
  | { readonly kind: 'settled'; readonly error: WsmqError | null }
  /** A late or duplicate answer to a request already settled: dropped silently (§8.7). */
  | { readonly kind: 'late' }
  /** An answer to nothing we asked, e.g. an error about a publish this client sent. */
  | { readonly kind: 'unmatched'; readonly error: WsmqError | null };

export class PendingTable {
  private readonly entries = new Map<string, Entry>();
  /** Recently settled correlation IDs, oldest first. */
  private readonly settled = new Set<string>();

  /**
   * `onGiveUp` runs after a request settled because its caller stopped waiting (timeout or
   * abort), with the socket it had gone out on (null: still queued).
   */
  constructor(private readonly onGiveUp: (pending: Pending, sentOn: WebSocketLike | null) => void) {}

  get size(): number {
    return this.entries.size;
  }

  has(correlationID: string): boolean {
    return this.entries.has(correlationID);
  }

  /** The request waiting for `correlationID`, if any. */
  get(correlationID: string): Pending | undefined {
    return this.entries.get(correlationID);
  }

  /**
   * Wait for the answer to `correlationID`: the promise settles on the answer, on `TIMEOUT`
   * after `timeoutMs`, or on `CANCELLED` when `signal` aborts.
   */
  open(
    correlationID: string,
    topic: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): { pending: Pending; promise: Promise<unknown> } {
    let entry!: Entry;
    const promise = new Promise<unknown>((resolve, reject) => {
      entry = { correlationID, topic, sentOn: null, frame: '', resolve, reject, timer: undefined, detachSignal: undefined };
    });
    entry.timer = setTimeout(() => {
      this.giveUp(entry, new WsmqError('TIMEOUT', `no answer to ${topic} within ${timeoutMs} ms`, { topic, correlationID }));
    }, timeoutMs);
    if (signal !== undefined) {
      const onAbort = (): void =>
        this.giveUp(entry, new WsmqError('CANCELLED', `request ${topic} aborted`, { topic, correlationID }));
      signal.addEventListener('abort', onAbort, { once: true });
      entry.detachSignal = () => signal.removeEventListener('abort', onAbort);
    }
    this.entries.set(correlationID, entry);
    return { pending: entry, promise };
  }

  /** Settle a request once; false when it had already settled. */
  settle(pending: Pending, outcome: WsmqError | { body: unknown }): boolean {
    const entry = this.entries.get(pending.correlationID);
    if (entry === undefined) return false;
    this.entries.delete(pending.correlationID);
    this.settled.add(pending.correlationID);
    if (this.settled.size > SETTLED_MEMORY) this.settled.delete(this.settled.values().next().value as string);
    clearTimeout(entry.timer);
    entry.detachSignal?.();
    if (outcome instanceof WsmqError) entry.reject(outcome);
    else entry.resolve(outcome.body);
    return true;
  }

  /** Settle the request an answer envelope belongs to (§8.1: matched by `correlationID`). */
  receive(envelope: Envelope & (ResponseMessage | ErrorMessage)): AnswerOutcome {
    const correlationID = envelope.header.correlationID;
    const entry = this.entries.get(correlationID);
    if (entry === undefined && this.settled.has(correlationID)) return { kind: 'late' };
    let error: WsmqError | null = null;
    if (envelope.header.type === 'error') {
      const { code, message, details } = readErrorBody(envelope.body);
      error = new WsmqError(code, message, { details, correlationID, topic: entry?.topic, remote: true });
    }
    if (entry === undefined) return { kind: 'unmatched', error };
    this.settle(entry, error ?? { body: envelope.body });
    return { kind: 'settled', error };
  }

  /** The socket `socket` is gone: every request sent on it fails with `error` (§8.9). */
  failSentOn(socket: WebSocketLike, error: WsmqError): void {
    for (const entry of [...this.entries.values()]) {
      if (entry.sentOn === socket) this.settle(entry, error);
    }
  }

  /** The client closed for good: every request fails with `error`. */
  failAll(error: WsmqError): void {
    for (const entry of [...this.entries.values()]) this.settle(entry, error);
  }

  private giveUp(entry: Entry, error: WsmqError): void {
    const sentOn = entry.sentOn;
    if (this.settle(entry, error)) this.onGiveUp(entry, sentOn);
  }
}
