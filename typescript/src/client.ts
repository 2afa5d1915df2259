/**
 * `WebSocketMQ`: the browser / Node client of wsmq/1 (docs/design.md), the facade over the
 * modules that hold its rules.
 *
 * The API keeps the seed guide's JavaScript examples working as written: `new WebSocketMQ(url)`,
 * the `onOpen` / `onError` / `onClose` properties, `connect()`, `subscribe(topic, async handler)`
 * whose return value answers server→client requests, `request(topic, body, timeoutMs)` and
 * `publish(topic, body)`. Calls made while connecting or reconnecting are queued until the link
 * is open (at most `maxQueuedMessages`, default 1000; beyond that they fail at once with
 * `RATE_LIMITED`); calls made before `connect()` or after `close()` fail at once with
 * `DISCONNECTED` (`details.reason: "not-connected"`): nothing would ever send them.
 *
 * Where each rule lives: `lifecycle.ts` (status, reconnect decisions and backoff),
 * `requests.ts` (the pending table: correlation, timeouts, cancel), `outbox.ts` (frames waiting
 * for a link), `subscriptions.ts` (patterns and their handlers), `dispatch.ts` (what an inbound
 * frame is), `handlers.ts` (handler calls and server→client answers), `frames.ts` (outgoing
 * envelopes), `transport.ts` (the WebSocket seam). This file owns the one socket and wires them.
 *
 * On every (re)open the client registers with `_client.register` (sending back the
 * `brokerClientID` + `resumeToken` of its last acknowledgement, so the broker can give it the same
 * ID, spec/protocol.md §6.4), re-subscribes every pattern it holds, flushes its queue, then fires
 * `onOpen`. When a socket is lost every request already sent on it rejects at once with
 * `DISCONNECTED` (§8.9); requests still queued wait for the next connection (or their timeout).
 */
import { WsmqError, wrapError } from './errors.js';
import { classify } from './dispatch.js';
import { Emitter } from './events.js';
import { FrameEncoder } from './frames.js';
import { HandlerRunner, type MessageHandler } from './handlers.js';
import {
  classifyFailure,
  Reconnection,
  type ConnectFailure,
  type ConnectionStatus,
  type SocketEnd,
  type WebSocketMQEvents,
} from './lifecycle.js';
import { resolveOptions, type Settings, type WebSocketMQOptions } from './options.js';
import { Outbox, type QueuedFrame } from './outbox.js';
import { Pacer } from './pacing.js';
import { readErrorBody, type ClientToBroker, type Envelope, type RegisterBody, type RegisteredBody } from './protocol.js';
import { PendingTable, requestTimeout, ttlFor, type Pending } from './requests.js';
import { Subscriptions, type SubscribeOptions, type Unsubscribe } from './subscriptions.js';
import { topicProblem } from './topics.js';
import { abandonSocket, OPEN, resolveWebSocket, type WebSocketLike } from './transport.js';

// The facade's public types, also importable from here (index.ts is the package's surface).
export type { AuthOption, WebSocketMQOptions } from './options.js';
export type { CloseInfo, ConnectionState, ConnectionStatus, OpenInfo, WebSocketMQEvents } from './lifecycle.js';
export type { MessageContext, MessageHandler } from './handlers.js';
export type { SubscribeOptions, Unsubscribe } from './subscriptions.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';

export interface RequestOptions {
  /** How long to wait for the answer, in ms (sent as the request's `ttl`). */
  timeoutMs?: number;
  /** Aborting it rejects the request with `CANCELLED` and tells the broker (`_client.cancel`). */
  signal?: AbortSignal;
}

/**
 * How long close() waits for the closing handshake before letting go of the socket: a broker
 * that never answers the close frame (a black-holed link) must not hold close() for the
 * WebSocket's own close timeout (30 s in `ws`).
 */
const CLOSE_TIMEOUT_MS = 2_000;

const now = (): number => globalThis.performance.now();

export class WebSocketMQ {
  /** Called once registration is acknowledged, on the first connection and every reconnection. */
  onOpen: ((info: WebSocketMQEvents['open']) => void) | null = null;
  /** Called with transport errors, broken frames, failed subscriptions and handler errors. */
  onError: ((error: WsmqError) => void) | null = null;
  /** Called when an open connection ends (`info.willReconnect` tells whether it comes back). */
  onClose: ((info: WebSocketMQEvents['close']) => void) | null = null;

  readonly url: string;
  private readonly settings: Settings;
  private readonly lifecycle: Reconnection;
  private readonly encoder = new FrameEncoder();
  private readonly pending: PendingTable;
  private readonly outbox: Outbox;
  private readonly subscriptions: Subscriptions;
  private readonly runner: HandlerRunner;
  private readonly emitter = new Emitter<WebSocketMQEvents>();
  /** Paces events and requests below the broker's announced rate (docs/concepts.md). */
  private readonly pacer = new Pacer();
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;

  private currentStatus: ConnectionStatus = { state: 'idle' };
  private socket: WebSocketLike | null = null;
  private registration: RegisteredBody | null = null;
  private resume: { brokerClientID: string; resumeToken: string } | null = null;
  /** The `UNAUTHENTICATED` error the broker sent while we were registering, if any. */
  private authError: WsmqError | null = null;
  /** Why the current socket failed to open (its error event), if it did. */
  private attemptFailure: ConnectFailure | null = null;
  /** The last failed attempt's error: what connect() rejects with when the client gives up. */
  private lastFailure: WsmqError | null = null;

  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private registerTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setTimeout> | undefined;
  private connectWaiters: Array<{ resolve: () => void; reject: (e: WsmqError) => void }> = [];
  private closeWaiters: Array<() => void> = [];

  constructor(url: string, options: WebSocketMQOptions = {}) {
    this.url = url;
    this.settings = resolveOptions(options);
    this.encoder.traceparent = options.traceparent;
    this.lifecycle = new Reconnection(this.settings);
    this.outbox = new Outbox(this.settings.maxQueuedMessages);
    this.pending = new PendingTable((pending, sentOn) => this.gaveUp(pending, sentOn));
    this.subscriptions = new Subscriptions({
      isOpen: () => this.isOpen,
      control: (topic, body) => this.control(topic, body),
      report: (error) => this.emit('error', error),
    });
    this.runner = new HandlerRunner(this.subscriptions, this.encoder, (error) => this.emit('error', error));
    resolveWebSocket(this.settings.WebSocket); // fail here, not on every reconnect, when there is none
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
  on<K extends keyof WebSocketMQEvents>(event: K, listener: (payload: WebSocketMQEvents[K]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /**
   * Open the connection (and keep it open, reconnecting as needed). Resolves once registered.
   * Rejects with a {@link WsmqError} (`DISCONNECTED`, `details.reason` saying why) at once on a
   * permanent failure — an invalid URL (`bad-url`), an HTTP 4xx answer to the upgrade
   * (`http-status`, e.g. 404: wrong path; 403: Origin refused), a server without the wsmq
   * subprotocol (`not-wsmq`) — and when the client is closed or gives up
   * (`maxReconnectAttempts`) before it ever opens. Transient failures (connection refused, 5xx,
   * 429, network errors, no registration ack in time) are retried with backoff and reported to
   * `onError`. Browsers do not expose the HTTP status of a failed upgrade, so there every failure
   * is transient. Calling it again while connecting or open returns the same outcome without
   * opening a second socket.
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
      this.lastFailure = null;
      this.lifecycle.start();
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
    this.lifecycle.closing = true;
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
      this.socketEnded(socket, { code, reason, wasClean: false });
      return closed;
    }
    const timer = setTimeout(() => {
      if (socket !== this.socket) return;
      socket.onopen = socket.onmessage = socket.onclose = null;
      (socket as { terminate?: () => void }).terminate?.(); // ws: drop the TCP connection now
      this.socketEnded(socket, { code, reason, wasClean: false });
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
    const refused = this.refusal(topic, true);
    if (refused !== null) throw refused;
    let frame: string;
    try {
      frame = this.encoder.encode('event', topic, body);
    } catch (error) {
      throw wrapError('BAD_MESSAGE', 'cannot encode body', error); // a BigInt, a cycle, …
    }
    this.encoder.checkSize(frame, topic);
    this.sendOrQueue({ frame });
  }

  /**
   * Send a request and wait for its answer: resolves with the response body, rejects with a
   * {@link WsmqError} (`TIMEOUT`, `NO_HANDLER`, `DISCONNECTED`, the handler's own code, …);
   * at once with `RATE_LIMITED` when it would have to wait in a full queue (`maxQueuedMessages`).
   * `timeout` is milliseconds (the seed's third argument) or {@link RequestOptions}.
   */
  request<T = unknown>(topic: string, body: unknown = null, timeout?: number | RequestOptions): Promise<T> {
    const options: RequestOptions = typeof timeout === 'number' ? { timeoutMs: timeout } : (timeout ?? {});
    const problem = topicProblem(topic, false);
    if (problem !== null) return Promise.reject(new WsmqError('BAD_TOPIC', problem, { topic }));
    return this.sendRequest(topic, body, options, true) as Promise<T>;
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
  subscribe<B = unknown>(pattern: string, handler: MessageHandler<B>, options: SubscribeOptions = {}): Unsubscribe {
    const problem = topicProblem(pattern, true);
    if (problem !== null) throw new WsmqError('BAD_TOPIC', problem, { topic: pattern });
    return this.subscriptions.add(pattern, handler, options);
  }

  // ---------------------------------------------------------------- sending

  /** Can a frame go out now (else it would wait in the outbox)? */
  private get canSend(): boolean {
    return this.socket !== null && this.isOpen && this.socket.readyState === OPEN;
  }

  /**
   * Why a new publish or request cannot be accepted now, or null: the client is closed, or the
   * message would have to wait in a full outbox (`bounded` is false for the client's own control
   * requests: one per pattern, never flooding).
   */
  private refusal(topic: string, bounded: boolean): WsmqError | null {
    const state = this.currentStatus.state;
    if (state === 'idle' || state === 'closed') {
      const why = state === 'idle' ? 'not connected' : 'client is closed';
      return new WsmqError('DISCONNECTED', `${why}: call connect() first (nothing was sent)`, {
        topic,
        details: { reason: 'not-connected' },
      });
    }
    // Not open, or open with frames waiting for the pacer: a new one would wait behind them.
    return bounded && (!this.canSend || this.outbox.size > 0) ? this.outbox.fullError(topic) : null;
  }

  private rawSend(socket: WebSocketLike, frame: string): void {
    try {
      socket.send(frame);
    } catch (error) {
      this.emit('error', wrapError('DISCONNECTED', 'send failed', error));
    }
  }

  /**
   * An event or request: sent now when the link is open, nothing waits before it and the pacer
   * has a token; else queued (in order) and sent by {@link pump}.
   */
  private sendOrQueue(item: QueuedFrame): void {
    const socket = this.socket;
    if (socket !== null && this.canSend && this.outbox.size === 0 && this.pacer.take(now()) === 0) {
      this.transmit(socket, item);
      return;
    }
    this.outbox.push(item);
    this.pump();
  }

  /** Send queued frames while the pacer has tokens; when it has none, come back when it will. */
  private pump(): void {
    const socket = this.socket;
    if (this.pumpTimer !== undefined || socket === null || !this.canSend) return; // onRegistered pumps
    for (let item = this.outbox.peek(); item !== undefined; item = this.outbox.peek()) {
      if (item.pending !== undefined && !this.pending.has(item.pending.correlationID)) {
        this.outbox.shift(); // gave up while queued
        continue;
      }
      const wait = this.pacer.take(now());
      if (wait > 0) {
        this.pumpTimer = setTimeout(() => {
          this.pumpTimer = undefined;
          this.pump();
        }, Math.ceil(wait));
        return;
      }
      this.outbox.shift();
      this.transmit(socket, item);
    }
  }

  /** Write one paced frame (a request learns the socket it went out on). */
  private transmit(socket: WebSocketLike, item: QueuedFrame): void {
    if (item.pending !== undefined) item.pending.sentOn = socket;
    this.rawSend(socket, item.frame);
  }

  /**
   * A `RATE_LIMITED` for the message rate (§12.1): the broker dropped the message unprocessed.
   * The pacer slows down; a request still waiting is re-sent through it (true: handled here),
   * an event's refusal goes on to be reported.
   */
  private refusedForRate(envelope: Envelope): boolean {
    if (envelope.header.type !== 'error') return false;
    const { code, details } = readErrorBody(envelope.body);
    if (code !== 'RATE_LIMITED' || (details as { reason?: unknown } | undefined)?.reason !== 'message-rate') return false;
    this.pacer.limited(now());
    const pending = this.pending.get(envelope.header.correlationID ?? '');
    if (pending === undefined || pending.frame === '') return false;
    pending.sentOn = null; // waiting again: a timeout now drops it from the outbox
    this.outbox.push({ frame: pending.frame, pending });
    this.pump();
    return true;
  }

  private sendRequest(topic: string, body: unknown, options: RequestOptions, bounded: boolean): Promise<unknown> {
    const timeoutMs = requestTimeout(options.timeoutMs, this.settings.requestTimeoutMs);
    const refused = this.refusal(topic, bounded);
    if (refused !== null) return Promise.reject(refused);
    if (options.signal?.aborted === true) {
      return Promise.reject(new WsmqError('CANCELLED', 'request aborted before it was sent', { topic }));
    }
    const correlationID = this.encoder.nextId();
    let frame: string;
    try {
      frame = this.encoder.encode('request', topic, body, { messageID: correlationID, correlationID, ttl: ttlFor(timeoutMs) });
      this.encoder.checkSize(frame, topic);
    } catch (error) {
      return Promise.reject(error instanceof WsmqError ? error : wrapError('BAD_MESSAGE', 'cannot encode body', error));
    }
    const { pending, promise } = this.pending.open(correlationID, topic, timeoutMs, options.signal);
    pending.frame = frame;
    this.sendOrQueue({ frame, pending });
    return promise;
  }

  /** The caller stopped waiting (timeout, abort): drop the queued frame or tell the broker (§8.8). */
  private gaveUp(pending: Pending, sentOn: WebSocketLike | null): void {
    if (sentOn === null) {
      this.outbox.drop(pending);
    } else if (sentOn === this.socket && this.isOpen) {
      this.pacer.spend(now()); // the broker counts it; it cannot wait for a token
      this.rawSend(sentOn, this.encoder.encode('event', '_client.cancel', { correlationID: pending.correlationID }));
    }
  }

  private control<K extends '_client.subscribe' | '_client.unsubscribe' | '_client.ping'>(
    topic: K,
    body: ClientToBroker[K]['body'],
    timeoutMs?: number,
  ): Promise<ClientToBroker[K]['response']> {
    const options = timeoutMs === undefined ? {} : { timeoutMs };
    return this.sendRequest(topic, body, options, false) as Promise<ClientToBroker[K]['response']>;
  }

  // ---------------------------------------------------------------- receiving

  /** One inbound text frame: classified once, acted on here (one path per message). */
  private receive(socket: WebSocketLike, data: string): void {
    const inbound = classify(data);
    switch (inbound.kind) {
      case 'answer': {
        if (this.refusedForRate(inbound.envelope)) return;
        const outcome = this.pending.receive(inbound.envelope);
        if (outcome.kind === 'late') return;
        const error = outcome.error;
        if (error?.code === 'UNAUTHENTICATED' && this.currentStatus.state === 'registering') this.authError = error;
        if (outcome.kind === 'unmatched' && error !== null) this.emit('error', error); // e.g. about a publish
        return;
      }
      case 'registered':
        this.onRegistered(socket, inbound.ack);
        return;
      case 'cancel':
        this.runner.cancel(inbound.notice);
        return;
      case 'event':
        this.runner.deliver(inbound.envelope);
        return;
      case 'request':
        void this.runner.answer(inbound.envelope, (frame) => {
          if (socket === this.socket) this.rawSend(socket, frame); // else the broker failed it already
        });
        return;
      case 'bad':
        this.emit('error', new WsmqError('BAD_MESSAGE', inbound.problem));
        return;
      case 'ignored':
        return;
      default:
        inbound satisfies never;
    }
  }

  // ---------------------------------------------------------------- connection lifecycle

  private setStatus(status: ConnectionStatus): void {
    this.currentStatus = status;
    this.emit('status', status);
  }

  private emit<K extends keyof WebSocketMQEvents>(event: K, payload: WebSocketMQEvents[K]): void {
    const property = (event === 'open' ? this.onOpen : event === 'close' ? this.onClose : event === 'error' ? this.onError : null) as
      | ((payload: WebSocketMQEvents[K]) => void)
      | null;
    this.emitter.emit(event, payload, property, (error) => {
      if (event !== 'error') this.emit('error', wrapError('INTERNAL', 'listener threw', error));
    });
  }

  private openSocket(): void {
    const attempt = this.lifecycle.nextAttempt();
    this.setStatus({ state: 'connecting', attempt });
    let socket: WebSocketLike;
    try {
      socket = new (resolveWebSocket(this.settings.WebSocket))(this.url, this.settings.protocols);
    } catch (error) {
      const failed = classifyFailure(this.url, error, undefined);
      this.lastFailure = failed.error;
      this.emit('error', failed.error);
      this.afterLoss({ code: 1006, reason: failed.error.message, wasClean: false }, false, failed.error, failed);
      return;
    }
    this.socket = socket;
    this.registerTimer = setTimeout(() => {
      const ms = this.settings.connectTimeoutMs;
      this.dropSocket(socket, `no registration acknowledgement from ${this.url} within ${ms} ms (is it a wsmq broker?)`);
    }, this.settings.connectTimeoutMs);
    this.authError = null;
    this.attemptFailure = null;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.setStatus({ state: 'registering', attempt });
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
      if (this.currentStatus.state === 'connecting') {
        // The socket never opened: say why (a 404, refused, …) and whether retrying can help.
        this.attemptFailure = classifyFailure(this.url, undefined, event);
        this.lastFailure = this.attemptFailure.error;
        this.emit('error', this.attemptFailure.error);
        return;
      }
      const detail = (event as { message?: unknown } | null)?.message;
      this.emit('error', new WsmqError('DISCONNECTED', `WebSocket error${typeof detail === 'string' && detail ? `: ${detail}` : ''}`));
    };
    socket.onclose = (event) => {
      this.socketEnded(socket, { code: event.code, reason: event.reason, wasClean: event.wasClean ?? event.code === 1000 });
    };
  }

  /**
   * §6.2: register first, resuming the last identity if we have one (§6.4), with the credential
   * when the broker authenticates by first message (§12.3). The credential is fetched here, per
   * connection, so a function can hand out a fresh token on every reconnect.
   */
  private async register(socket: WebSocketLike): Promise<void> {
    const body: RegisterBody = {};
    const auth = this.settings.auth;
    if (auth !== undefined) {
      let credential: unknown;
      try {
        credential = typeof auth === 'function' ? await (auth as () => unknown)() : auth;
      } catch (error) {
        if (socket !== this.socket) return;
        this.emit('error', wrapError('UNAUTHENTICATED', 'the auth option failed', error));
        this.dropSocket(socket, 'no credential to register with'); // retried with backoff
        return;
      }
      if (socket !== this.socket) return; // closed or dropped while the token was fetched
      if (credential !== undefined) body.auth = credential;
    }
    if (this.settings.pageSessionID !== undefined) body.pageSessionID = this.settings.pageSessionID;
    if (this.resume !== null) {
      body.brokerClientID = this.resume.brokerClientID;
      body.resumeToken = this.resume.resumeToken;
    }
    this.rawSend(socket, this.encoder.encode('event', '_client.register', body));
  }

  private onRegistered(socket: WebSocketLike, ack: RegisteredBody): void {
    clearTimeout(this.registerTimer);
    this.registration = ack;
    this.encoder.maxMessageSize = ack.maxMessageSize ?? 0;
    this.resume = { brokerClientID: ack.brokerClientID, resumeToken: ack.resumeToken };
    this.lifecycle.registered();
    this.lastFailure = null;
    this.pacer.configure(ack.messageRate, ack.messageBurst, now());
    this.setStatus({ state: 'open', clientId: ack.brokerClientID, resumed: ack.resumed });
    // Subscriptions first, then what was queued, all through the pacer.
    const queued = this.outbox.drain();
    this.subscriptions.resubscribe();
    for (const item of queued) this.outbox.push(item);
    this.pump();
    this.schedulePing(socket);
    for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
    this.emit('open', { clientId: ack.brokerClientID, resumed: ack.resumed, registration: ack });
  }

  /** Application keepalive (§9 `_client.ping`): browsers cannot send WebSocket pings. */
  private schedulePing(socket: WebSocketLike): void {
    const interval = this.settings.pingIntervalMs ?? this.registration?.pingInterval ?? 0;
    if (!(interval > 0) || socket !== this.socket) return; // never overwrite a newer link's timer
    this.pingTimer = setTimeout(() => {
      if (socket !== this.socket) return;
      this.control('_client.ping', {}, interval).then(
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

  /** Give up on a socket that looks dead (missed ping, no ack): don't wait for its close event. */
  private dropSocket(socket: WebSocketLike, reason: string): void {
    if (socket !== this.socket) return;
    abandonSocket(socket, 4000, reason);
    const error = new WsmqError('DISCONNECTED', reason, { details: { url: this.url, reason: 'timeout' } });
    if (this.currentStatus.state !== 'open') this.lastFailure = error;
    this.emit('error', error);
    this.socketEnded(socket, { code: 1006, reason, wasClean: false });
  }

  /** The current socket ended: everything that waited on it settles (§8.9), then the next step. */
  private socketEnded(socket: WebSocketLike, end: SocketEnd): void {
    if (socket !== this.socket) return;
    this.socket = null;
    clearTimeout(this.registerTimer);
    clearTimeout(this.pingTimer);
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    const wasOpen = this.currentStatus.state === 'open';
    const lost = new WsmqError('DISCONNECTED', `connection closed (${end.code}${end.reason ? ` ${end.reason}` : ''})`);
    // Sent requests fail before any handler is aborted or onClose runs: the order callers saw.
    this.pending.failSentOn(socket, lost);
    this.runner.abortAll(lost);
    this.subscriptions.linkLost();
    const failure = this.attemptFailure;
    this.attemptFailure = null;
    this.afterLoss(end, wasOpen, failure?.error ?? lost, failure);
  }

  private afterLoss(end: SocketEnd, wasOpen: boolean, error: WsmqError, failure: ConnectFailure | null = null): void {
    const step = this.lifecycle.afterLoss(end, wasOpen, failure);
    // The status changes before onClose runs, so that onClose sees the link down (isOpen false)
    // and a connect() called from it really opens a new connection.
    if (step.kind === 'close') {
      this.finishClosed(end);
      if (wasOpen) this.emit('close', { ...end, willReconnect: false });
      return;
    }
    this.setStatus({ state: 'reconnecting', attempt: step.attempt, delayMs: step.delayMs, error });
    if (wasOpen) this.emit('close', { ...end, willReconnect: true });
    if (this.lifecycle.closing) return; // onClose may have called close()
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.lifecycle.closing) this.openSocket();
    }, step.delayMs);
  }

  private finishClosed(end: { code: number; reason: string }): void {
    const error = new WsmqError('DISCONNECTED', 'client closed');
    this.pending.failAll(error);
    this.outbox.drain();
    this.subscriptions.linkLost();
    if (this.currentStatus.state !== 'closed') this.setStatus({ state: 'closed', code: end.code, reason: end.reason });
    // A broker that refused our credential, or the last failed attempt, says why: connect()
    // rejects with that rather than a bare "client closed".
    const reason = this.authError ?? this.lastFailure ?? error;
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(reason);
    for (const waiter of this.closeWaiters.splice(0)) waiter();
  }
}
