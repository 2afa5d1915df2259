/**
 * `WebSocketMQ`: the browser / Node client of wsmq/1 (docs/design.md).
 *
 * The API keeps the seed guide's JavaScript examples working as written: `new WebSocketMQ(url)`,
 * the `onOpen` / `onError` / `onClose` properties, `connect()`, `subscribe(topic, async handler)`
 * whose return value answers server→client requests, `request(topic, body, timeoutMs)` and
 * `publish(topic, body)`. Calls made before the connection is open are queued until it is (at
 * most `maxQueuedMessages`, default 1000; beyond that they fail at once with `RATE_LIMITED`).
 *
 * Connection lifecycle (one socket at a time; `status.state`):
 *
 *     idle ──connect()──▶ connecting ──socket open──▶ registering ──ack──▶ open
 *       ▲                     │  ▲                        │                 │
 *       │                     │  └──── reconnecting ◀─────┴─────────────────┘ socket lost,
 *       │                     │        (backoff+jitter)                       ping missed,
 *       │                     ▼                                               ack deadline
 *       └──connect()────── closed ◀── close(), reconnect off, attempts exhausted, close 1000/1008/4001/4009
 *
 * On every (re)open the client registers with `_client.register` (sending back the
 * `brokerClientID` + `resumeToken` of its last acknowledgement, so the broker can give it the same
 * ID), re-subscribes every pattern it holds, flushes its queue, then fires `onOpen`. When a socket
 * is lost every request already sent on it rejects at once with `DISCONNECTED`; requests still
 * queued wait for the next connection (or their own timeout).
 */
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { WsmqError } from './errors.js';
import {
  decodeEnvelope,
  ERROR_CODE_RE,
  isCancelNotice,
  isRegisteredBody,
  readErrorBody,
  SUBPROTOCOL,
  type ClientToBroker,
  type Envelope,
  type ErrorMessage,
  type MessageHeader,
  type RequestMessage,
  type ResponseMessage,
  type MessageType,
  type RegisterBody,
  type RegisteredBody,
} from './protocol.js';
import { topicMatches, topicProblem } from './topics.js';

// Method syntax makes handler parameters bivariant, so both the DOM WebSocket and the `ws`
// package (whose event types differ) fit this structural interface without casts.
type Listener<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** What the client needs of a WebSocket: the DOM API, which `ws` also implements. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  onopen: Listener<unknown> | null;
  onmessage: Listener<{ data: unknown }> | null;
  onclose: Listener<{ code: number; reason: string; wasClean?: boolean }> | null;
  onerror: Listener<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: the browser's global `WebSocket`, or `WebSocket` from `ws` in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

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

/** What a subscription handler gets besides the body. */
export interface MessageContext {
  /** The literal topic of this message (the handler may have subscribed with a pattern). */
  readonly topic: string;
  /** The pattern this handler subscribed with. */
  readonly pattern: string;
  /** `request` when the return value answers a server→client request, else `event`. */
  readonly type: Extract<MessageType, 'event' | 'request'>;
  readonly header: MessageHeader;
  readonly envelope: Envelope;
  /** The sending client's ID when a client sent it (set by the broker). */
  readonly source: string | undefined;
  /** Aborted when the broker cancels the request (`_internal.cancel`), its ttl passes, or the
   * connection is lost: a long handler should stop then, its answer would be discarded. */
  readonly signal: AbortSignal;
}

/**
 * A subscription handler. For server→client requests on the topic, its (awaited) return value
 * is the response body and a thrown error becomes an error answer (its `code` if it has a valid
 * one, else `HANDLER_ERROR`). For events the return value is ignored.
 */
export type MessageHandler<B = unknown> = (body: B, context: MessageContext) => unknown;

/** Returned by `subscribe`: call it to unsubscribe. */
export interface Unsubscribe {
  (): void;
  /** Settles when the broker confirmed the subscription (rejects with its error, e.g. FORBIDDEN). */
  readonly ready: Promise<void>;
}

export interface SubscribeOptions {
  /** Also receive the events this client publishes itself on matching topics. */
  echo?: boolean;
}

export interface RequestOptions {
  /** How long to wait for the answer, in ms (sent as the request's `ttl`). */
  timeoutMs?: number;
  /** Aborting it rejects the request with `CANCELLED` and tells the broker (`_client.cancel`). */
  signal?: AbortSignal;
}

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
  auth?: AuthOption | (() => AuthOption | Promise<AuthOption>);
  /**
   * Most publishes + requests held while not connected (default 1000). Beyond it `publish`
   * throws and `request` rejects at once with `RATE_LIMITED` (`details.reason:
   * "client-queue-full"`), so an app that keeps publishing during a long outage cannot grow
   * memory without bound.
   */
  maxQueuedMessages?: number;
}

/** The header fields this client sets on what it sends (§1). */
interface OutgoingHeader {
  messageID: string;
  type: MessageType;
  topic: string;
  timestamp: number;
  correlationID?: string;
  ttl?: number;
}

interface Pending {
  readonly correlationID: string;
  readonly topic: string;
  readonly frame: string;
  readonly resolve: (body: unknown) => void;
  readonly reject: (error: WsmqError) => void;
  /** The socket the request went out on; null while queued. */
  sentOn: WebSocketLike | null;
  timer: ReturnType<typeof setTimeout> | undefined;
  detachSignal: (() => void) | undefined;
}

interface HandlerEntry {
  readonly pattern: string;
  readonly handler: MessageHandler<never>;
}

interface PatternState {
  readonly pattern: string;
  echo: boolean;
  readonly entries: Set<HandlerEntry>;
  /** The unsubscribe function of each handler, so subscribing it again returns the same one. */
  readonly byHandler: Map<MessageHandler<never>, Unsubscribe>;
  /** Confirmed by the broker on the current socket. */
  subscribed: boolean;
  readonly ready: Promise<void>;
  settleReady: (error?: WsmqError) => void;
}

const OPEN = 1;
/**
 * Close codes after which the client does not reconnect by itself (spec §12.2): normal closure
 * (the broker ended the session on purpose; the application may call connect()), policy / auth
 * deadline (retrying cannot help) and superseded (it would steal the identity back).
 */
const NO_RECONNECT_CODES: ReadonlySet<number> = new Set([1000, 1008, 4001, 4009]);
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_QUEUED = 1000;
const TTL_GRACE_MS = 1_000;
/**
 * How long close() waits for the closing handshake before letting go of the socket: a broker
 * that never answers the close frame (a black-holed link) must not hold close() for the
 * WebSocket's own close timeout (30 s in `ws`).
 */
const CLOSE_TIMEOUT_MS = 2_000;
/** setTimeout's largest delay (~24.8 days): beyond it timers fire at once, so timeouts clamp. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** How many settled correlation IDs are remembered to recognize late answers (§8.7). */
const SETTLED_MEMORY = 1024;

function randomId(random: () => number): string {
  let id = '';
  for (let i = 0; i < 8; i++) id += Math.floor(random() * 36).toString(36);
  return id;
}

function errorCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ERROR_CODE_RE.test(code) ? code : 'HANDLER_ERROR';
}

function errorMessageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

export class WebSocketMQ {
  /** Called once registration is acknowledged, on the first connection and every reconnection. */
  onOpen: ((info: OpenInfo) => void) | null = null;
  /** Called with transport errors, broken frames, failed subscriptions and handler errors. */
  onError: ((error: WsmqError) => void) | null = null;
  /** Called when an open connection ends (`info.willReconnect` tells whether it comes back). */
  onClose: ((info: CloseInfo) => void) | null = null;

  readonly url: string;
  private readonly options: Required<
    Pick<WebSocketMQOptions, 'reconnect' | 'maxReconnectAttempts' | 'requestTimeoutMs' | 'connectTimeoutMs'>
  >;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private readonly protocols: string[];
  private readonly WebSocketImpl: WebSocketConstructor | undefined;
  private readonly pingOverride: number | undefined;
  private readonly pageSessionID: string | undefined;
  private readonly auth: WebSocketMQOptions['auth'];
  private readonly maxQueued: number;
  /** The `UNAUTHENTICATED` error the broker sent while we were registering, if any. */
  private authError: WsmqError | null = null;

  private currentStatus: ConnectionStatus = { state: 'idle' };
  private socket: WebSocketLike | null = null;
  private registration: RegisteredBody | null = null;
  private resume: { brokerClientID: string; resumeToken: string } | null = null;
  private attempt = 0;
  /** Registered connections in a row the broker closed with 4029: each adds a backoff step. */
  private penalty = 0;
  private closing = false;
  private idPrefix: string;
  private idCounter = 0;

  private readonly pending = new Map<string, Pending>();
  /** Recently settled correlation IDs, oldest first: their late answers are dropped silently. */
  private readonly settled = new Set<string>();
  private outbox: Array<{ frame: string; pending?: Pending }> = [];
  private readonly patterns = new Map<string, PatternState>();
  private readonly handlers: HandlerEntry[] = [];
  private readonly inflight = new Map<string, AbortController>();
  private readonly listeners: { [K in keyof WebSocketMQEvents]: Set<(e: WebSocketMQEvents[K]) => void> } =
    { open: new Set(), close: new Set(), error: new Set(), status: new Set() };

  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private registerTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setTimeout> | undefined;
  private connectWaiters: Array<{ resolve: () => void; reject: (e: WsmqError) => void }> = [];
  private closeWaiters: Array<() => void> = [];

  constructor(url: string, options: WebSocketMQOptions = {}) {
    this.url = url;
    this.options = {
      reconnect: options.reconnect ?? true,
      maxReconnectAttempts: options.maxReconnectAttempts ?? Number.POSITIVE_INFINITY,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    };
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
    this.protocols = options.protocols ?? [SUBPROTOCOL];
    this.WebSocketImpl = options.WebSocket;
    this.pingOverride = options.pingIntervalMs;
    this.pageSessionID = options.pageSessionID;
    this.auth = options.auth;
    this.maxQueued = options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED;
    this.idPrefix = randomId(Math.random);
    this.resolveImpl(); // fail here, not on every reconnect, when there is no WebSocket at all
  }

  /** The broker-assigned client ID of the current (or last) registration; null before the first. */
  get clientId(): string | null {
    return this.resume?.brokerClientID ?? null;
  }

  /** Current connection status. */
  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /** True when registered and ready to send. */
  get isOpen(): boolean {
    return this.currentStatus.state === 'open';
  }

  /** Listen to a lifecycle event; returns a function that removes the listener. */
  on<K extends keyof WebSocketMQEvents>(
    event: K,
    listener: (payload: WebSocketMQEvents[K]) => void,
  ): () => void {
    const set = this.listeners[event] as Set<(payload: WebSocketMQEvents[K]) => void>;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /**
   * Open the connection (and keep it open, reconnecting as needed). Resolves once registered;
   * rejects only if the client is closed before it ever opens. Calling it again while connecting
   * or open returns the same outcome without opening a second socket.
   */
  connect(): Promise<void> {
    const promise = new Promise<void>((resolve, reject) => {
      if (this.currentStatus.state === 'open') {
        resolve();
        return;
      }
      this.connectWaiters.push({ resolve, reject });
    });
    // The seed calls connect() without awaiting it: never let that become an unhandled rejection.
    promise.catch(() => undefined);
    const state = this.currentStatus.state;
    if (state === 'idle' || state === 'closed') {
      this.closing = false;
      this.attempt = 0;
      this.penalty = 0;
      this.openSocket();
    }
    return promise;
  }

  /**
   * Close for good: no reconnect; pending and queued requests reject with `DISCONNECTED`.
   * Resolves once the socket has closed, or after 2 s when the broker does not answer the close
   * handshake (the socket is then dropped). `connect()` may be called again later.
   */
  close(code = 1000, reason = 'client closed'): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const socket = this.socket;
    if (socket === null) {
      this.finishClosed({ code, reason });
      return Promise.resolve();
    }
    const closed = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    // Closing a socket that is still connecting "errors": we asked for it. A no-op listener, not
    // null: `ws` emits that error as an EventEmitter 'error', which Node throws without one.
    socket.onerror = () => undefined;
    try {
      socket.close(code, reason);
    } catch {
      this.handleSocketClosed(socket, { code, reason, wasClean: false });
      return closed;
    }
    const timer = setTimeout(() => {
      if (socket !== this.socket) return;
      socket.onopen = socket.onmessage = socket.onclose = null;
      (socket as { terminate?: () => void }).terminate?.(); // ws: drop the TCP connection now
      this.handleSocketClosed(socket, { code, reason, wasClean: false });
    }, CLOSE_TIMEOUT_MS);
    void closed.then(() => clearTimeout(timer));
    return closed;
  }

  /**
   * Publish an event (fire-and-forget). Queued until the connection is open.
   * Throws `BAD_TOPIC` for a wildcard or malformed topic, `BAD_MESSAGE` for a body JSON cannot
   * encode, `TOO_LARGE` above the broker's `maxMessageSize`, `DISCONNECTED` after `close()` and
   * `RATE_LIMITED` when not connected and `maxQueuedMessages` messages are already queued.
   */
  publish(topic: string, body: unknown = null): void {
    const problem = topicProblem(topic, false);
    if (problem !== null) throw new WsmqError('BAD_TOPIC', problem, { topic });
    if (this.currentStatus.state === 'closed') {
      throw new WsmqError('DISCONNECTED', 'client is closed; call connect() first', { topic });
    }
    const full = this.queueFull(topic);
    if (full !== null) throw full;
    let frame: string;
    try {
      frame = this.encode('event', topic, body);
    } catch (error) {
      throw this.wrap('BAD_MESSAGE', 'cannot encode body', error); // a BigInt, a cycle, …
    }
    this.checkSize(frame, topic);
    this.sendOrQueue(frame);
  }

  /**
   * Send a request and wait for its answer: resolves with the response body, rejects with a
   * {@link WsmqError} (`TIMEOUT`, `NO_HANDLER`, `DISCONNECTED`, the handler's own code, …);
   * at once with `RATE_LIMITED` when it would have to wait in a full queue (`maxQueuedMessages`).
   * `timeout` is milliseconds (the seed's third argument) or {@link RequestOptions}.
   */
  request<T = unknown>(
    topic: string,
    body: unknown = null,
    timeout?: number | RequestOptions,
  ): Promise<T> {
    const options: RequestOptions = typeof timeout === 'number' ? { timeoutMs: timeout } : (timeout ?? {});
    const problem = topicProblem(topic, false);
    if (problem !== null) return Promise.reject(new WsmqError('BAD_TOPIC', problem, { topic }));
    return this.sendRequest(topic, body, options) as Promise<T>;
  }

  /**
   * Handle messages on `pattern` (`*` = one token, `>` = the rest): events published on matching
   * topics, and server→client requests, which the handler answers with its return value.
   * Returns a function that unsubscribes (its `ready` promise settles on the broker's answer).
   *
   * Subscribing the same handler function to the same pattern again is a no-op that returns
   * the first call's unsubscribe function (with `echo: true` it also turns echo on), so code
   * that subscribes inside `onOpen` — which runs on every reconnect — does not stack handlers.
   * A different function (e.g. a new arrow function each time) is a second handler.
   */
  subscribe<B = unknown>(
    pattern: string,
    handler: MessageHandler<B>,
    options: SubscribeOptions = {},
  ): Unsubscribe {
    const problem = topicProblem(pattern, true);
    if (problem !== null) throw new WsmqError('BAD_TOPIC', problem, { topic: pattern });
    let state = this.patterns.get(pattern);
    // Idempotent: seed code subscribes inside onOpen, which runs again on every reconnect.
    const existing = state?.byHandler.get(handler as MessageHandler<never>);
    if (state !== undefined && existing !== undefined) {
      if (options.echo === true && !state.echo) {
        state.echo = true;
        if (this.isOpen) this.sendSubscribe(state);
      }
      return existing;
    }
    const entry: HandlerEntry = { pattern, handler: handler as MessageHandler<never> };
    this.handlers.push(entry);
    if (state === undefined) {
      state = this.newPatternState(pattern, options.echo ?? false);
      this.patterns.set(pattern, state);
      if (this.isOpen) this.sendSubscribe(state);
    } else if (options.echo === true && !state.echo) {
      state.echo = true;
      if (this.isOpen) this.sendSubscribe(state);
    }
    const ready = state.ready;
    let active = true;
    const unsubscribe = (): void => {
      if (!active) return;
      active = false;
      const index = this.handlers.indexOf(entry);
      if (index >= 0) this.handlers.splice(index, 1);
      const current = this.patterns.get(pattern);
      if (current === undefined) return;
      current.entries.delete(entry);
      current.byHandler.delete(entry.handler);
      if (current.entries.size > 0) return;
      this.patterns.delete(pattern);
      current.settleReady(new WsmqError('CANCELLED', 'unsubscribed', { topic: pattern }));
      if (this.isOpen && current.subscribed) {
        this.controlRequest('_client.unsubscribe', { topic: pattern }).catch(() => undefined);
      }
    };
    const result = Object.assign(unsubscribe, { ready });
    state.entries.add(entry);
    state.byHandler.set(entry.handler, result);
    return result;
  }

  // ---------------------------------------------------------------- connection lifecycle

  private setStatus(status: ConnectionStatus): void {
    this.currentStatus = status;
    this.emit('status', status);
  }

  private emit<K extends keyof WebSocketMQEvents>(event: K, payload: WebSocketMQEvents[K]): void {
    const property =
      event === 'open' ? this.onOpen : event === 'close' ? this.onClose : event === 'error' ? this.onError : null;
    const callbacks: Array<(payload: WebSocketMQEvents[K]) => void> = [
      ...(this.listeners[event] as Set<(payload: WebSocketMQEvents[K]) => void>),
    ];
    if (property !== null) callbacks.unshift(property as (payload: WebSocketMQEvents[K]) => void);
    for (const callback of callbacks) {
      try {
        callback(payload);
      } catch (error) {
        // A throwing application callback must not break the client's state machine.
        if (event !== 'error') this.emit('error', this.wrap('INTERNAL', 'listener threw', error));
      }
    }
  }

  private wrap(code: string, message: string, cause: unknown): WsmqError {
    return new WsmqError(code, `${message}: ${errorMessageOf(cause)}`, { cause });
  }

  /** The WebSocket constructor to use; throws when there is none (Node without `ws`). */
  private resolveImpl(): WebSocketConstructor {
    if (this.WebSocketImpl !== undefined) return this.WebSocketImpl;
    const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (global === undefined) {
      throw new WsmqError(
        'INTERNAL',
        "no global WebSocket here: pass one, e.g. new WebSocketMQ(url, { WebSocket }) with WebSocket from the 'ws' package",
      );
    }
    return global;
  }

  private openSocket(): void {
    this.attempt += 1;
    this.setStatus({ state: 'connecting', attempt: this.attempt });
    let socket: WebSocketLike;
    try {
      socket = new (this.resolveImpl())(this.url, this.protocols);
    } catch (error) {
      const wsmqError = error instanceof WsmqError ? error : this.wrap('DISCONNECTED', 'cannot open WebSocket', error);
      this.emit('error', wsmqError);
      this.afterConnectionLost(null, { code: 1006, reason: wsmqError.message, wasClean: false }, wsmqError);
      return;
    }
    this.socket = socket;
    this.registerTimer = setTimeout(() => {
      this.dropSocket(socket, 'no registration acknowledgement in time');
    }, this.options.connectTimeoutMs);
    this.authError = null;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.setStatus({ state: 'registering', attempt: this.attempt });
      void this.register(socket);
    };
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      if (typeof event.data !== 'string') {
        this.emit('error', new WsmqError('BAD_MESSAGE', 'binary frame received; wsmq/1 uses text frames'));
        return;
      }
      this.receive(socket, event.data);
    };
    socket.onerror = (event) => {
      if (socket !== this.socket) return;
      const detail = (event as { message?: unknown } | null)?.message;
      this.emit(
        'error',
        new WsmqError('DISCONNECTED', `WebSocket error${typeof detail === 'string' && detail ? `: ${detail}` : ''}`),
      );
    };
    socket.onclose = (event) => {
      this.handleSocketClosed(socket, {
        code: event.code,
        reason: event.reason,
        wasClean: event.wasClean ?? event.code === 1000,
      });
    };
  }

  /**
   * §4: register first, resuming the last identity if we have one, with the credential when
   * the broker authenticates by first message (spec §12.3). The credential is fetched here, per
   * connection, so a function can hand out a fresh token on every reconnect.
   */
  private async register(socket: WebSocketLike): Promise<void> {
    const body: RegisterBody = {};
    if (this.auth !== undefined) {
      let credential: unknown;
      try {
        credential = typeof this.auth === 'function' ? await (this.auth as () => unknown)() : this.auth;
      } catch (error) {
        if (socket !== this.socket) return;
        this.emit('error', this.wrap('UNAUTHENTICATED', 'the auth option failed', error));
        this.dropSocket(socket, 'no credential to register with'); // retried with backoff
        return;
      }
      if (socket !== this.socket) return; // closed or dropped while the token was fetched
      if (credential !== undefined) body.auth = credential;
    }
    if (this.pageSessionID !== undefined) body.pageSessionID = this.pageSessionID;
    if (this.resume !== null) {
      body.brokerClientID = this.resume.brokerClientID;
      body.resumeToken = this.resume.resumeToken;
    }
    this.rawSend(socket, this.encode('event', '_client.register', body));
  }

  /** Give up on a socket that looks dead (missed ping, no ack): don't wait for its close event. */
  private dropSocket(socket: WebSocketLike, reason: string): void {
    if (socket !== this.socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.onerror = () => undefined; // see close(): a listener-less 'error' would be thrown (ws)
    try {
      socket.close(4000, reason);
    } catch {
      // Already closing: nothing to do, we have let go of it.
    }
    this.emit('error', new WsmqError('DISCONNECTED', reason));
    this.handleSocketClosed(socket, { code: 1006, reason, wasClean: false });
  }

  private handleSocketClosed(
    socket: WebSocketLike,
    info: { code: number; reason: string; wasClean: boolean },
  ): void {
    if (socket !== this.socket) return;
    this.socket = null;
    clearTimeout(this.registerTimer);
    clearTimeout(this.pingTimer);
    const wasOpen = this.currentStatus.state === 'open';
    const lost = new WsmqError('DISCONNECTED', `connection closed (${info.code}${info.reason ? ` ${info.reason}` : ''})`);
    for (const pending of [...this.pending.values()]) {
      if (pending.sentOn === socket) this.settle(pending, lost);
    }
    for (const controller of this.inflight.values()) controller.abort(lost);
    this.inflight.clear();
    for (const state of this.patterns.values()) state.subscribed = false;
    this.afterConnectionLost(wasOpen ? info : null, info, lost);
  }

  private afterConnectionLost(
    openInfo: { code: number; reason: string; wasClean: boolean } | null,
    info: { code: number; reason: string; wasClean: boolean },
    error: WsmqError,
  ): void {
    const superseded = NO_RECONNECT_CODES.has(info.code);
    const exhausted = this.attempt >= this.options.maxReconnectAttempts + 1 && openInfo === null;
    // The status changes before onClose runs, so that onClose sees the link down (isOpen false)
    // and a connect() called from it really opens a new connection.
    if (this.closing || !this.options.reconnect || superseded || exhausted) {
      this.finishClosed(info);
      if (openInfo !== null) this.emit('close', { ...openInfo, willReconnect: false });
      return;
    }
    if (openInfo !== null) {
      // §12.2: after 4029 (too many protocol errors) reconnect with a longer backoff, growing
      // while the broker keeps refusing; any other loss of a registered link starts afresh.
      this.penalty = info.code === 4029 ? this.penalty + 1 : 0;
      this.attempt = 0;
    }
    const next = this.attempt + 1;
    const delayMs = backoffDelay(next + this.penalty, this.backoff, this.random);
    this.setStatus({ state: 'reconnecting', attempt: next, delayMs, error });
    if (openInfo !== null) this.emit('close', { ...openInfo, willReconnect: true });
    if (this.closing) return; // onClose may have called close()
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closing) this.openSocket();
    }, delayMs);
  }

  private finishClosed(info: { code: number; reason: string }): void {
    const error = new WsmqError('DISCONNECTED', 'client closed');
    for (const pending of [...this.pending.values()]) this.settle(pending, error);
    this.outbox = [];
    for (const state of this.patterns.values()) state.subscribed = false;
    const alreadyClosed = this.currentStatus.state === 'closed';
    if (!alreadyClosed) this.setStatus({ state: 'closed', code: info.code, reason: info.reason });
    // A broker that refused our credential said why: connect() rejects with that, not DISCONNECTED.
    const reason = this.authError ?? error;
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(reason);
    for (const waiter of this.closeWaiters.splice(0)) waiter();
  }

  private onRegistered(socket: WebSocketLike, ack: RegisteredBody): void {
    clearTimeout(this.registerTimer);
    this.registration = ack;
    this.resume = { brokerClientID: ack.brokerClientID, resumeToken: ack.resumeToken };
    this.attempt = 0;
    this.setStatus({ state: 'open', clientId: ack.brokerClientID, resumed: ack.resumed });
    for (const state of this.patterns.values()) this.sendSubscribe(state);
    const queued = this.outbox;
    this.outbox = [];
    for (const item of queued) {
      if (item.pending !== undefined) {
        if (!this.pending.has(item.pending.correlationID)) continue; // timed out while queued
        item.pending.sentOn = socket;
      }
      this.rawSend(socket, item.frame);
    }
    this.schedulePing(socket);
    for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
    this.emit('open', { clientId: ack.brokerClientID, resumed: ack.resumed, registration: ack });
  }

  /** Application keepalive (§4 `_client.ping`): browsers cannot send WebSocket pings. */
  private schedulePing(socket: WebSocketLike): void {
    const interval = this.pingOverride ?? this.registration?.pingInterval ?? 0;
    if (!(interval > 0) || socket !== this.socket) return; // never overwrite a newer link's timer
    this.pingTimer = setTimeout(() => {
      if (socket !== this.socket) return;
      this.controlRequest('_client.ping', {}, interval).then(
        () => this.schedulePing(socket),
        (error: unknown) => {
          if (error instanceof WsmqError && error.code === 'TIMEOUT') {
            this.dropSocket(socket, 'keepalive ping not answered');
          } else {
            this.schedulePing(socket); // an error answer (e.g. RATE_LIMITED) proves the link is alive
          }
        },
      );
    }, interval);
  }

  // ---------------------------------------------------------------- sending

  private nextId(): string {
    this.idCounter += 1;
    return `${this.idPrefix}-${this.idCounter}`;
  }

  private encode(type: MessageType, topic: string, body: unknown, extra: Partial<OutgoingHeader> = {}): string {
    const header: OutgoingHeader = { messageID: extra.messageID ?? this.nextId(), type, topic, timestamp: Date.now() };
    if (extra.correlationID !== undefined) header.correlationID = extra.correlationID;
    if (extra.ttl !== undefined) header.ttl = extra.ttl;
    return JSON.stringify({ header, body: body === undefined ? null : body });
  }

  private checkSize(frame: string, topic: string): void {
    const max = this.registration?.maxMessageSize;
    if (max !== undefined && max > 0 && frame.length > max / 4) {
      const size = new TextEncoder().encode(frame).length;
      if (size > max) throw new WsmqError('TOO_LARGE', `message is ${size} bytes, the broker accepts ${max}`, { topic });
    }
  }

  private rawSend(socket: WebSocketLike, frame: string): void {
    try {
      socket.send(frame);
    } catch (error) {
      this.emit('error', this.wrap('DISCONNECTED', 'send failed', error));
    }
  }

  private sendOrQueue(frame: string, pending?: Pending): void {
    const socket = this.socket;
    if (socket !== null && this.canSend) {
      if (pending !== undefined) pending.sentOn = socket;
      this.rawSend(socket, frame);
    } else {
      this.outbox.push(pending === undefined ? { frame } : { frame, pending });
    }
  }

  /** Can a frame go out now (else it would wait in the outbox)? */
  private get canSend(): boolean {
    return this.socket !== null && this.isOpen && this.socket.readyState === OPEN;
  }

  /** The `RATE_LIMITED` error when a message would have to wait in a full outbox, else null. */
  private queueFull(topic: string): WsmqError | null {
    if (this.canSend || this.outbox.length < this.maxQueued) return null;
    return new WsmqError('RATE_LIMITED', `not connected and ${this.maxQueued} messages already queued`, {
      topic,
      details: { reason: 'client-queue-full', limit: this.maxQueued },
    });
  }

  /** `bounded` is false for the client's own control requests (one per pattern, never flooding). */
  private sendRequest(topic: string, body: unknown, options: RequestOptions, bounded = true): Promise<unknown> {
    const requested = options.timeoutMs ?? this.options.requestTimeoutMs;
    const timeoutMs = Math.min(MAX_TIMEOUT_MS, Number.isNaN(requested) ? this.options.requestTimeoutMs : requested);
    if (this.currentStatus.state === 'closed') {
      return Promise.reject(new WsmqError('DISCONNECTED', 'client is closed; call connect() first', { topic }));
    }
    const full = bounded ? this.queueFull(topic) : null;
    if (full !== null) return Promise.reject(full);
    if (options.signal?.aborted === true) {
      return Promise.reject(new WsmqError('CANCELLED', 'request aborted before it was sent', { topic }));
    }
    const correlationID = this.nextId();
    let frame: string;
    try {
      frame = this.encode('request', topic, body, {
        messageID: correlationID,
        correlationID,
        ttl: Math.max(1, Math.round(timeoutMs)),
      });
      this.checkSize(frame, topic);
    } catch (error) {
      return Promise.reject(error instanceof WsmqError ? error : this.wrap('BAD_MESSAGE', 'cannot encode body', error));
    }
    return new Promise<unknown>((resolve, reject) => {
      const pending: Pending = {
        correlationID,
        topic,
        frame,
        resolve,
        reject,
        sentOn: null,
        timer: undefined,
        detachSignal: undefined,
      };
      pending.timer = setTimeout(() => {
        this.giveUp(pending, new WsmqError('TIMEOUT', `no answer to ${topic} within ${timeoutMs} ms`, { topic, correlationID }));
      }, timeoutMs);
      const signal = options.signal;
      if (signal !== undefined) {
        const onAbort = (): void =>
          this.giveUp(pending, new WsmqError('CANCELLED', `request ${topic} aborted`, { topic, correlationID }));
        signal.addEventListener('abort', onAbort, { once: true });
        pending.detachSignal = () => signal.removeEventListener('abort', onAbort);
      }
      this.pending.set(correlationID, pending);
      this.sendOrQueue(frame, pending);
    });
  }

  /** The caller stopped waiting: reject, and tell the broker so it can cancel the handler. */
  private giveUp(pending: Pending, error: WsmqError): void {
    if (!this.pending.has(pending.correlationID)) return;
    const socket = pending.sentOn;
    this.settle(pending, error);
    if (socket === null) {
      this.outbox = this.outbox.filter((item) => item.pending !== pending);
    } else if (socket === this.socket && this.isOpen) {
      this.rawSend(socket, this.encode('event', '_client.cancel', { correlationID: pending.correlationID }));
    }
  }

  private settle(pending: Pending, outcome: WsmqError | { body: unknown }): void {
    if (!this.pending.delete(pending.correlationID)) return;
    this.settled.add(pending.correlationID);
    if (this.settled.size > SETTLED_MEMORY) this.settled.delete(this.settled.values().next().value as string);
    clearTimeout(pending.timer);
    pending.detachSignal?.();
    if (outcome instanceof WsmqError) pending.reject(outcome);
    else pending.resolve(outcome.body);
  }

  private controlRequest<K extends '_client.subscribe' | '_client.unsubscribe' | '_client.ping'>(
    topic: K,
    body: ClientToBroker[K]['body'],
    timeoutMs?: number,
  ): Promise<ClientToBroker[K]['response']> {
    return this.sendRequest(topic, body, timeoutMs === undefined ? {} : { timeoutMs }, false) as Promise<
      ClientToBroker[K]['response']
    >;
  }

  private newPatternState(pattern: string, echo: boolean): PatternState {
    let settleReady: (error?: WsmqError) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      settleReady = (error) => (error === undefined ? resolve() : reject(error));
    });
    ready.catch(() => undefined); // observed through Unsubscribe.ready by those who care
    return { pattern, echo, entries: new Set(), byHandler: new Map(), subscribed: false, ready, settleReady };
  }

  private sendSubscribe(state: PatternState): void {
    const body: ClientToBroker['_client.subscribe']['body'] = { topic: state.pattern };
    if (state.echo) body.echo = true;
    this.controlRequest('_client.subscribe', body).then(
      () => {
        if (this.patterns.get(state.pattern) !== state) {
          // Unsubscribed while this was in flight (so no _client.unsubscribe went out then):
          // undo it at the broker now, unless the pattern was subscribed again meanwhile.
          if (!this.patterns.has(state.pattern) && this.isOpen) {
            this.controlRequest('_client.unsubscribe', { topic: state.pattern }).catch(() => undefined);
          }
          return;
        }
        state.subscribed = true;
        state.settleReady();
      },
      (error: unknown) => {
        if (this.patterns.get(state.pattern) !== state) return;
        const wsmqError = error instanceof WsmqError ? error : this.wrap('INTERNAL', 'subscribe failed', error);
        if (wsmqError.code === 'DISCONNECTED') return; // re-sent on the next connection
        state.settleReady(wsmqError);
        this.emit('error', new WsmqError(wsmqError.code, `subscribe ${state.pattern} failed: ${wsmqError.message}`, {
          topic: state.pattern,
          details: wsmqError.details,
          remote: wsmqError.remote,
        }));
      },
    );
  }

  // ---------------------------------------------------------------- receiving

  private receive(socket: WebSocketLike, data: string): void {
    const envelope = decodeEnvelope(data);
    if (typeof envelope === 'string') {
      this.emit('error', new WsmqError('BAD_MESSAGE', `bad frame from broker (${envelope})`));
      return;
    }
    const { header } = envelope;
    switch (header.type) {
      case 'response':
      case 'error':
        this.receiveAnswer(envelope as Envelope & (ResponseMessage | ErrorMessage));
        return;
      case 'event':
        if (header.topic === '_internal.client.registered') {
          if (isRegisteredBody(envelope.body)) this.onRegistered(socket, envelope.body);
          else this.emit('error', new WsmqError('BAD_MESSAGE', 'malformed registration acknowledgement'));
          return;
        }
        if (header.topic === '_internal.cancel') {
          if (isCancelNotice(envelope.body)) {
            const controller = this.inflight.get(envelope.body.correlationID);
            controller?.abort(new WsmqError('CANCELLED', `cancelled by the broker (${envelope.body.reason})`));
          }
          return;
        }
        this.dispatchEvent(envelope);
        return;
      case 'request':
        void this.answerRequest(socket, envelope as Envelope & RequestMessage);
        return;
    }
  }

  private receiveAnswer(envelope: Envelope & (ResponseMessage | ErrorMessage)): void {
    const correlationID = envelope.header.correlationID;
    const pending = this.pending.get(correlationID);
    if (pending === undefined && this.settled.has(correlationID)) return; // late or duplicate (§8.7)
    if (envelope.header.type === 'response') {
      if (pending !== undefined) this.settle(pending, { body: envelope.body });
      return; // late or duplicate answers are discarded silently (§2)
    }
    const { code, message, details } = readErrorBody(envelope.body);
    const error = new WsmqError(code, message, { details, correlationID, topic: pending?.topic, remote: true });
    if (code === 'UNAUTHENTICATED' && this.currentStatus.state === 'registering') this.authError = error;
    if (pending !== undefined) this.settle(pending, error);
    else this.emit('error', error); // e.g. an error about a publish we sent
  }

  private context(envelope: Envelope, pattern: string, signal: AbortSignal): MessageContext {
    return {
      topic: envelope.header.topic,
      pattern,
      type: envelope.header.type === 'request' ? 'request' : 'event',
      header: envelope.header,
      envelope,
      source: envelope.header.source,
      signal,
    };
  }

  private dispatchEvent(envelope: Envelope): void {
    const topic = envelope.header.topic;
    const signal = new AbortController().signal;
    for (const entry of [...this.handlers]) {
      if (!topicMatches(entry.pattern, topic)) continue;
      try {
        const result = entry.handler(envelope.body as never, this.context(envelope, entry.pattern, signal));
        if (result instanceof Promise) {
          result.catch((error: unknown) => this.emit('error', this.wrap('HANDLER_ERROR', `handler for ${topic} failed`, error)));
        }
      } catch (error) {
        this.emit('error', this.wrap('HANDLER_ERROR', `handler for ${topic} failed`, error));
      }
    }
  }

  /** Server→client RPC (§2): the first handler whose pattern matches answers. */
  private async answerRequest(socket: WebSocketLike, envelope: Envelope & RequestMessage): Promise<void> {
    const { topic, ttl, correlationID } = envelope.header;
    const answer = (type: 'response' | 'error', body: unknown): void => {
      if (socket !== this.socket) return; // the broker already failed it with DISCONNECTED
      let frame: string;
      try {
        frame = this.encode(type, correlationID, body, { correlationID });
        this.checkSize(frame, topic);
      } catch (error) {
        // An answer the broker would refuse (or that is not JSON) becomes an error answer.
        const code = error instanceof WsmqError ? error.code : 'HANDLER_ERROR';
        frame = this.encode('error', correlationID, {
          error: { code, message: `cannot send the answer: ${errorMessageOf(error)}` },
        }, { correlationID });
      }
      this.rawSend(socket, frame);
    };
    const entry = this.handlers.find((candidate) => topicMatches(candidate.pattern, topic));
    if (entry === undefined) {
      answer('error', { error: { code: 'NO_HANDLER', message: `no handler for ${topic} on this client` } });
      return;
    }
    const controller = new AbortController();
    this.inflight.set(correlationID, controller);
    // Fallback only: the broker's `_internal.cancel` normally arrives first; the grace keeps a
    // handler from being aborted by clock skew while the broker would still take its answer.
    const ttlTimer =
      ttl !== undefined
        ? setTimeout(
            () => controller.abort(new WsmqError('TIMEOUT', `request ${topic} outlived its ttl`)),
            ttl + TTL_GRACE_MS,
          )
        : undefined;
    try {
      const result: unknown = await entry.handler(
        envelope.body as never,
        this.context(envelope, entry.pattern, controller.signal),
      );
      if (!controller.signal.aborted) answer('response', result === undefined ? null : result);
    } catch (error) {
      if (!controller.signal.aborted) {
        const details = (error as { details?: unknown } | null)?.details;
        const errorBody: { code: string; message: string; details?: unknown } = {
          code: errorCodeOf(error),
          message: errorMessageOf(error),
        };
        if (details !== undefined) errorBody.details = details;
        answer('error', { error: errorBody });
      }
    } finally {
      clearTimeout(ttlTimer);
      if (this.inflight.get(correlationID) === controller) this.inflight.delete(correlationID);
    }
  }
}
