/**
 * Connection lifecycle: the status the application sees, and what follows the end of a socket
 * (spec/protocol.md §2.3, §12.2; docs/design.md).
 *
 *     idle ──connect()──▶ connecting ──socket open──▶ registering ──ack──▶ open
 *       ▲                     │  ▲                        │                 │
 *       │                     │  └──── reconnecting ◀─────┴─────────────────┘ socket lost,
 *       │                     │        (backoff+jitter)                       ping missed,
 *       │                     ▼                                               ack deadline
 *       └──connect()────── closed ◀── close(), reconnect off, attempts exhausted, close 1000/1008/4001/4009,
 *                                     a permanent failure before the first open (bad URL, HTTP 4xx)
 *
 * The rules for leaving a lost socket, in order (first match wins):
 *
 * | condition                                                   | next                        |
 * | ----------------------------------------------------------- | --------------------------- |
 * | `close()` was called, or `reconnect: false`                 | closed                      |
 * | close code in {@link NO_RECONNECT_CODES} (§12.2)            | closed                      |
 * | a permanent failure and no link has registered since connect() | closed (connect() rejects) |
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
import { describeError, WsmqError } from './errors.js';
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
  /** A link has registered since the last `connect()` (permanent failures are retried after). */
  everOpen = false;

  constructor(private readonly policy: ReconnectPolicy) {}

  /** `connect()` from idle or closed: a fresh start. */
  start(): void {
    this.closing = false;
    this.everOpen = false;
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
    this.everOpen = true;
  }

  /**
   * The table in the module docstring. `wasOpen`: the socket had registered; `failure`: why it
   * never opened, when known ({@link classifyFailure}).
   */
  afterLoss(end: SocketEnd, wasOpen: boolean, failure: ConnectFailure | null = null): NextStep {
    const exhausted = !wasOpen && this.attempt >= this.policy.maxReconnectAttempts + 1;
    // A bad URL or a 4xx answer to the upgrade will not fix itself: connect() rejects with it.
    // Once a link has registered the same answer may be a deploy in progress: retried.
    const permanent = failure?.permanent === true && !this.everOpen;
    if (this.closing || !this.policy.reconnect || NO_RECONNECT_CODES.has(end.code) || exhausted || permanent) {
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

/** Why a connection attempt failed (`details.reason` of its error, the same words as Python's). */
export type ConnectFailureReason = 'bad-url' | 'refused' | 'http-status' | 'not-wsmq' | 'timeout' | 'network';

/** A failed connection attempt: the error the application sees, and whether retrying can help. */
export interface ConnectFailure {
  readonly error: WsmqError;
  readonly permanent: boolean;
}

function failure(url: string, reason: ConnectFailureReason, message: string, permanent: boolean, extra: object = {}, cause?: unknown): ConnectFailure {
  return { error: new WsmqError('DISCONNECTED', message, { details: { url, reason, ...extra }, cause }), permanent };
}

/** What an HTTP status answering the upgrade means, in words that say what to check. */
function statusHint(status: number): string {
  if (status === 404) return 'check the path (the reference broker serves /ws)';
  if (status === 401 || status === 403) return 'the server refused this client: check its Origin allow-list and credentials';
  if (status === 429) return 'too many connections from this address (the broker\'s per-IP limit); retrying';
  if (status >= 500) return 'the server failed; retrying';
  return 'is this the URL of a wsmq broker?';
}

/**
 * Classify why a socket could not be opened (issue 19: permanent errors reject `connect()`,
 * transient ones are retried). `thrown`: what the WebSocket constructor threw (always a bad URL,
 * or no WebSocket at all); `event`: the socket's error event (`ws` puts the HTTP status or the
 * system error in its message; a browser tells nothing, so there every failure is transient).
 *
 * Permanent: an invalid URL, an HTTP 4xx answer to the upgrade except 408 and 429, and a server
 * that accepted the WebSocket without the wsmq subprotocol (not a wsmq broker). Transient:
 * refused or reset connections, 5xx, 408/429, timeouts and anything unrecognized.
 */
export function classifyFailure(url: string, thrown: unknown, event: unknown): ConnectFailure {
  if (thrown !== undefined) {
    if (thrown instanceof WsmqError) return { error: thrown, permanent: true };
    const why = describeError(thrown);
    return failure(url, 'bad-url', `invalid WebSocket URL ${JSON.stringify(url)}: ${why} (expected ws://host:port/path or wss://…)`, true, {}, thrown);
  }
  const { message, error } = (event ?? {}) as { message?: unknown; error?: unknown };
  const text = typeof message === 'string' ? message : error instanceof Error ? error.message : '';
  const status = /Unexpected server response: (\d{3})/.exec(text);
  if (status !== null) {
    const code = Number(status[1]);
    const permanent = code >= 400 && code < 500 && code !== 408 && code !== 429;
    return failure(url, 'http-status', `the server at ${url} answered HTTP ${code} to the WebSocket upgrade: ${statusHint(code)}`, permanent, { status: code }, error);
  }
  if (/no subprotocol|Invalid Sec-WebSocket-Protocol/i.test(text)) {
    return failure(url, 'not-wsmq', `the server at ${url} accepted the WebSocket but not the wsmq.v1 subprotocol: it is not a wsmq broker (${text})`, true, {}, error);
  }
  const sysCode = (error as { code?: unknown } | undefined)?.code;
  if (sysCode === 'ECONNREFUSED' || /ECONNREFUSED/.test(text)) {
    return failure(url, 'refused', `connection to ${url} refused: is the broker running, on that host and port?`, false, {}, error);
  }
  if (sysCode === 'ENOTFOUND' || sysCode === 'EAI_AGAIN') {
    return failure(url, 'network', `cannot resolve the host of ${url} (${String(sysCode)}): check the host name; retrying`, false, {}, error);
  }
  return failure(url, 'network', `WebSocket error${text ? `: ${text}` : ''} connecting to ${url}; retrying`, false, {}, error);
}
