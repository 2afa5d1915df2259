/**
 * `WebSocketMQ.Client`: the seed Go library's browser client API (its "v2" JavaScript client,
 * which speaks the guide's header/body envelopes and `_client.register`, spec §1.3 and §17) on
 * top of {@link WebSocketMQ}, so pages written against `new WebSocketMQ.Client({url, ...})` keep
 * working against a wsmq/1 broker (issue 11). Only the browser bundle exposes it.
 *
 * The seed's options and callbacks, and what they become here:
 *
 * | seed                                   | here                                                  |
 * | -------------------------------------- | ----------------------------------------------------- |
 * | `url` (required)                       | the broker URL; missing → throws                      |
 * | `reconnect`, `reconnectInterval`, `maxReconnectInterval`, `reconnectMultiplier` | `reconnect` and the backoff (with jitter) |
 * | `pageSessionID`                        | sent in `_client.register`                            |
 * | `clientRegisterTopic`                  | only `_client.register` exists in wsmq/1; another value is ignored with a warning |
 * | `logger`                               | gets warnings and debug lines                         |
 * | `devMode`                              | not supported: its `_dev.*` topics are reserved (§5.3); a warning says so |
 * | `connect()`, `disconnect()`            | `connect()`, `close()`                                |
 * | `onConnect(cb)`, `onDisconnect(cb)`, `onError(cb)` | after registration is acknowledged; when an open link ends; every client error |
 * | `subscribe(topic, (body, message) => …)` | `subscribe`: the return value answers a server→client request |
 * | `publish(topic, body)`, `request(topic, body, timeoutMs = 5000)` | the same, with typed errors |
 *
 * Differences that only remove failures: calls made while connecting wait for the link instead
 * of throwing "Not connected", a handler that returns nothing answers `null` instead of leaving
 * the server to time out, and a thrown error reaches the server as `HANDLER_ERROR` with its
 * message.
 */
import { WebSocketMQ } from './client.js';
import { WsmqError } from './errors.js';
import type { CloseInfo } from './lifecycle.js';
import type { Envelope } from './protocol.js';
import type { WebSocketConstructor } from './transport.js';

/** A seed subscription handler: `(body, message)`, `message` being the whole envelope. */
export type SeedHandler = (body: unknown, message: Envelope) => unknown;

/** What the seed's `logger` option is expected to have (`console` by default). */
export interface SeedLogger {
  debug?: (...args: unknown[]) => void;
  info?: (...args: unknown[]) => void;
  warn?: (...args: unknown[]) => void;
  error?: (...args: unknown[]) => void;
}

/** The seed client's options (all but `url` optional, as in the seed). */
export interface SeedClientOptions {
  url?: string | null;
  reconnect?: boolean;
  reconnectInterval?: number;
  maxReconnectInterval?: number;
  reconnectMultiplier?: number;
  devMode?: boolean;
  logger?: SeedLogger;
  pageSessionID?: string | null;
  clientRegisterTopic?: string;
  /** Not a seed option: the WebSocket implementation, for Node (the browser has one). */
  WebSocket?: WebSocketConstructor;
}

type Resolved = Required<Omit<SeedClientOptions, 'WebSocket' | 'url' | 'pageSessionID'>> & {
  url: string;
  pageSessionID: string | null;
};

const SEED_DEFAULTS = {
  reconnect: true,
  reconnectInterval: 1000,
  maxReconnectInterval: 30000,
  reconnectMultiplier: 1.5,
  devMode: false,
  pageSessionID: null,
  clientRegisterTopic: '_client.register',
} as const;

export class SeedClient {
  readonly options: Resolved;
  readonly logger: SeedLogger;
  /** The client underneath, for code that wants the full API. */
  readonly client: WebSocketMQ;
  private readonly connectCallbacks = new Set<() => void>();
  private readonly disconnectCallbacks = new Set<(event: CloseInfo) => void>();
  private readonly errorCallbacks = new Set<(error: WsmqError) => void>();
  /** The unsubscribe function of each (topic, handler): seed pages subscribe in onConnect. */
  private readonly handlers = new Map<string, Map<SeedHandler, () => void>>();

  constructor(options: SeedClientOptions = {}) {
    const logger = options.logger ?? (globalThis as { console?: SeedLogger }).console ?? {};
    if (typeof options.url !== 'string' || options.url === '') {
      throw new WsmqError('DISCONNECTED', 'WebSocketMQ: URL is required (new WebSocketMQ.Client({ url: "ws://host/ws" }))', {
        details: { reason: 'bad-url' },
      });
    }
    this.options = { ...SEED_DEFAULTS, ...options, url: options.url, pageSessionID: options.pageSessionID ?? null, logger };
    this.logger = logger;
    if (this.options.clientRegisterTopic !== '_client.register') {
      logger.warn?.(`WebSocketMQ: clientRegisterTopic ${JSON.stringify(this.options.clientRegisterTopic)} ignored: wsmq/1 registers with _client.register`);
    }
    if (this.options.devMode) {
      logger.warn?.("WebSocketMQ: devMode is not supported: its _dev.* topics are reserved in wsmq/1 (topics starting with '_')");
    }
    const o = this.options;
    this.client = new WebSocketMQ(o.url, {
      ...(options.WebSocket !== undefined ? { WebSocket: options.WebSocket } : {}),
      ...(o.pageSessionID !== null ? { pageSessionID: o.pageSessionID } : {}),
      reconnect: o.reconnect,
      backoff: { initialDelayMs: o.reconnectInterval, maxDelayMs: o.maxReconnectInterval, factor: o.reconnectMultiplier },
    });
    this.client.on('open', () => this.each(this.connectCallbacks, (cb) => cb(), 'onConnect'));
    this.client.on('close', (info) => this.each(this.disconnectCallbacks, (cb) => cb(info), 'onDisconnect'));
    this.client.on('error', (error) => {
      logger.debug?.('WebSocketMQ: error', error.code, error.message);
      this.each(this.errorCallbacks, (cb) => cb(error), 'onError');
    });
  }

  /** True once registration is acknowledged, until the link ends. */
  get isConnected(): boolean {
    return this.client.isOpen;
  }

  /** True while a connection is being opened or re-opened. */
  get isConnecting(): boolean {
    const state = this.client.status.state;
    return state === 'connecting' || state === 'registering' || state === 'reconnecting';
  }

  /** Open the connection; a second call while connecting or connected does nothing. */
  connect(): void {
    if (this.isConnected || this.isConnecting) return;
    this.client.connect().catch(() => undefined); // failures reach onError
  }

  /** Close for good (no reconnect). */
  disconnect(): void {
    void this.client.close(1000, 'Client disconnected');
  }

  /** Publish an event; returns true, as the seed's did. */
  publish(topic: string, body: unknown): boolean {
    this.client.publish(topic, body);
    return true;
  }

  /**
   * Handle `topic`: events, and server→client requests, which the handler answers with its
   * (awaited) return value. The handler gets `(body, message)`, `message` being the envelope.
   * Returns a function that unsubscribes.
   */
  subscribe(topic: string, handler: SeedHandler): () => void {
    if (typeof handler !== 'function') throw new WsmqError('BAD_MESSAGE', 'WebSocketMQ: Handler must be a function');
    // The same function on the same topic again (onConnect runs on every reconnect) is a no-op
    // returning the first unsubscribe, as in the seed, whose handlers were a Set per topic.
    const byHandler = this.handlers.get(topic) ?? new Map<SeedHandler, () => void>();
    this.handlers.set(topic, byHandler);
    const existing = byHandler.get(handler);
    if (existing !== undefined) return existing;
    const off = this.client.subscribe(topic, (body, context) => handler(body, context.envelope));
    const unsubscribe = (): void => {
      byHandler.delete(handler);
      if (byHandler.size === 0) this.handlers.delete(topic);
      off();
    };
    byHandler.set(handler, unsubscribe);
    return unsubscribe;
  }

  /** Send a request; resolves with the response body, rejects with a `WsmqError`. */
  request(topic: string, body: unknown, timeoutMs = 5000): Promise<unknown> {
    return this.client.request(topic, body, timeoutMs);
  }

  /** Call `callback` after every registration (at once if connected now). */
  onConnect(callback: () => void): void {
    this.connectCallbacks.add(callback);
    if (this.isConnected) callback();
  }

  /** Call `callback` with `{code, reason, wasClean, willReconnect}` when an open link ends. */
  onDisconnect(callback: (event: CloseInfo) => void): void {
    this.disconnectCallbacks.add(callback);
  }

  /** Call `callback` with every `WsmqError` the client reports. */
  onError(callback: (error: WsmqError) => void): void {
    this.errorCallbacks.add(callback);
  }

  private each<T>(callbacks: Set<T>, call: (cb: T) => void, name: string): void {
    for (const callback of callbacks) {
      try {
        call(callback);
      } catch (error) {
        this.logger.error?.(`WebSocketMQ: Error in ${name} callback`, error);
      }
    }
  }
}
