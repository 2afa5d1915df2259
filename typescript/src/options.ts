/**
 * The client's options, documented once, and their defaults resolved in one place.
 */
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import type { ReconnectPolicy } from './lifecycle.js';
import { SUBPROTOCOL } from './protocol.js';
import type { WebSocketConstructor } from './transport.js';

/**
 * A first-message credential (`"auth"` in `_client.register`, spec §12.3): any JSON value. A
 * function is called on every (re)connection, so it can fetch a fresh token each time.
 */
export type AuthOption = unknown;

export interface WebSocketMQOptions {
  /** WebSocket implementation; required where there is no global one (Node 20: the `ws` package). */
  WebSocket?: WebSocketConstructor;
  /** Reconnect after a lost connection (default true). */
  reconnect?: boolean;
  /** Give up after this many failed reconnect attempts in a row (default: never). */
  maxReconnectAttempts?: number;
  /** Backoff shape; delays are jittered into [delay/2, delay]. */
  backoff?: Partial<BackoffOptions>;
  /** Default request timeout in ms (default 30 000). */
  requestTimeoutMs?: number;
  /** How long a new socket may take to open and be registered, in ms (default 10 000). */
  connectTimeoutMs?: number;
  /** Override the broker's `pingInterval` (ms); 0 disables the application keepalive. */
  pingIntervalMs?: number;
  /** Sent in `_client.register`; identifies this page across reconnects. */
  pageSessionID?: string;
  /** Subprotocols offered in the handshake (default `['wsmq.v1']`). */
  protocols?: string[];
  /** Random source for jitter (tests make it deterministic). */
  random?: () => number;
  /**
   * Credential for brokers that authenticate by first message (`authenticate_message`): sent as
   * `"auth"` in every `_client.register`. A value, or a function returning one (or a promise of
   * one), called once per connection attempt so each reconnect can send a fresh token. A refusal
   * (`UNAUTHENTICATED`, close 1008/4001) ends the client: `connect()` rejects with that error.
   */
  // The union is documentation (a value, or a function giving one): AuthOption is `unknown`.
  // eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents
  auth?: AuthOption | (() => AuthOption | Promise<AuthOption>);
  /**
   * Most publishes + requests held while not connected (default 1000). Beyond it `publish`
   * throws and `request` rejects at once with `RATE_LIMITED` (`details.reason:
   * "client-queue-full"`), so an app that keeps publishing during a long outage cannot grow
   * memory without bound.
   */
  maxQueuedMessages?: number;
  /**
   * Returns the W3C `traceparent` of the caller's current span (e.g. from `@opentelemetry/api`),
   * sent in the header of every event and request (spec §3.2) so the broker continues the trace.
   */
  traceparent?: () => string | undefined;
}

/** The options with every default filled in. */
export interface Settings extends ReconnectPolicy {
  readonly WebSocket: WebSocketConstructor | undefined;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly pingIntervalMs: number | undefined;
  readonly pageSessionID: string | undefined;
  readonly protocols: string[];
  readonly auth: WebSocketMQOptions['auth'];
  readonly maxQueuedMessages: number;
}

export function resolveOptions(options: WebSocketMQOptions): Settings {
  return {
    WebSocket: options.WebSocket,
    reconnect: options.reconnect ?? true,
    maxReconnectAttempts: options.maxReconnectAttempts ?? Number.POSITIVE_INFINITY,
    backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    random: options.random ?? Math.random,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    pingIntervalMs: options.pingIntervalMs,
    pageSessionID: options.pageSessionID,
    protocols: options.protocols ?? [SUBPROTOCOL],
    auth: options.auth,
    maxQueuedMessages: options.maxQueuedMessages ?? 1000,
  };
}
