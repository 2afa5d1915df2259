/**
 * Connection lifecycle: the status the application sees, and what follows the end of a socket
 * (spec/protocol.md §2.3, §12.2; docs/design.md).
 *
 *     idle ──connect()──▶ connecting ──socket open──▶ registering ──ack──▶ open
 *       ▲                     │  ▲                        │                 │
 *       │                     │  └──── reconnecting ◀─────┴─────────────────┘ socket lost,
 *       │                     │        (backoff+jitter)                       ping missed,
 *       │                     ▼                                               ack deadline
 *       └──connect()────── closed ◀── close(), reconnect off, attempts exhausted, close 1000/1008/4001/4009
 *
 * The rules for leaving a lost socket, in order (first match wins):
 *
 * | condition                                                   | next                        |
 * | ----------------------------------------------------------- | --------------------------- |
 * | `close()` was called, or `reconnect: false`                 | closed                      |
 * | close code in {@link NO_RECONNECT_CODES} (§12.2)            | closed                      |
 * | never registered and `maxReconnectAttempts` failed in a row | closed                      |
 * | the link had registered: close 4029                         | reconnecting, penalty + 1   |
 * | the link had registered: any other code                     | reconnecting, penalty reset |
 * | it never registered                                         | reconnecting, attempt + 1   |
 *
 * The delay is `backoffDelay(attempt + penalty)`: each 4029 in a row (too many protocol errors)
 * adds a backoff step, so a misbehaving client backs off further every time it is thrown out.
 * No I/O here: the client asks {@link Reconnection.afterLoss} and arms the timer it is told.
 */
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { WsmqError } from './errors.js';
import { NO_RECONNECT_CLOSE_CODES, type RegisteredBody } from './protocol.js';

/** Connection status, a discriminated union on `state`. */
export type ConnectionStatus =
  | { readonly state: 'idle' }
  | { readonly state: 'connecting'; readonly attempt: number }
  | { readonly state: 'registering'; readonly attempt: number }
  | { readonly state: 'open'; readonly clientId: string; readonly resumed: boolean }
  | {
      readonly state: 'reconnecting';
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: WsmqError;
    }
  | { readonly state: 'closed'; readonly code: number; readonly reason: string };

export type ConnectionState = ConnectionStatus['state'];

/** Passed to `onOpen` / `'open'` listeners once registration is acknowledged. */
export interface OpenInfo {
  readonly clientId: string;
  /** True when the broker gave back the previous client ID (identity resume). */
  readonly resumed: boolean;
  readonly registration: RegisteredBody;
}

/** Passed to `onClose` / `'close'` listeners when an open connection ends. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  /** True when the client will reconnect by itself. */
  readonly willReconnect: boolean;
}

/** Lifecycle events this client emits to the application (`client.on(name, listener)`). */
export interface WebSocketMQEvents {
  open: OpenInfo;
  close: CloseInfo;
  error: WsmqError;
  status: ConnectionStatus;
}

/** How a socket ended. */
export interface SocketEnd {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/**
 * Close codes after which the client does not reconnect by itself (spec §12.2): normal closure
 * (the broker ended the session on purpose; the application may call connect()), policy / auth
 * deadline (retrying cannot help) and superseded (it would steal the identity back). Generated
 * from spec/schema/close-codes.json, like the Python client's set.
 */
export const NO_RECONNECT_CODES: ReadonlySet<number> = new Set(NO_RECONNECT_CLOSE_CODES);

/** The reconnect options, resolved. */
export interface ReconnectPolicy {
  readonly reconnect: boolean;
  readonly maxReconnectAttempts: number;
  readonly backoff: BackoffOptions;
  readonly random: () => number;
}

/** What to do after a socket ended. */
export type NextStep =
  | { readonly kind: 'close' }
  | { readonly kind: 'reconnect'; readonly attempt: number; readonly delayMs: number };

/** The counters that carry from one socket to the next. */
export class Reconnection {
  /** Connection attempts since the last registered link (1 while the first one is under way). */
  attempt = 0;
  /** Registered links in a row the broker closed with 4029: each adds a backoff step. */
  private penalty = 0;
  /** `close()` was called: nothing reconnects until `connect()` again. */
  closing = false;

  constructor(private readonly policy: ReconnectPolicy) {}

  /** `connect()` from idle or closed: a fresh start. */
  start(): void {
    this.closing = false;
    this.attempt = 0;
    this.penalty = 0;
  }

  /** A socket is about to be opened; returns its attempt number. */
  nextAttempt(): number {
    this.attempt += 1;
    return this.attempt;
  }

  /** The broker acknowledged registration: the next loss starts counting afresh. */
  registered(): void {
    this.attempt = 0;
  }

  /** The table in the module docstring. `wasOpen`: the socket had registered. */
  afterLoss(end: SocketEnd, wasOpen: boolean): NextStep {
    const exhausted = !wasOpen && this.attempt >= this.policy.maxReconnectAttempts + 1;
    if (this.closing || !this.policy.reconnect || NO_RECONNECT_CODES.has(end.code) || exhausted) {
      return { kind: 'close' };
    }
    if (wasOpen) {
      this.penalty = end.code === 4029 ? this.penalty + 1 : 0;
      this.attempt = 0;
    }
    const attempt = this.attempt + 1;
    return { kind: 'reconnect', attempt, delayMs: backoffDelay(attempt + this.penalty, this.policy.backoff, this.policy.random) };
  }
}
