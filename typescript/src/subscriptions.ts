/**
 * Subscriptions: the patterns this client holds and the handlers behind each (spec/protocol.md §7).
 *
 * The registry outlives sockets: a pattern is subscribed at the broker on every registered link
 * (again after each reconnect, since the broker drops a connection's subscriptions when it
 * closes, §2.3), and it is unsubscribed there only when its last handler goes. Several handlers
 * may share a pattern (one `_client.subscribe` for all); the same handler function subscribed
 * to the same pattern twice is one handler, so seed code that subscribes inside `onOpen` does
 * not stack handlers on every reconnect.
 *
 * No I/O here: control requests go through the {@link SubscriptionLink} the client provides.
 */
import { WsmqError, wrapError } from './errors.js';
import type { MessageHandler } from './handlers.js';
import type { ClientToBroker } from './protocol.js';
import { topicMatches } from './topics.js';

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

/** One handler on one pattern, in the order the application subscribed them. */
export interface HandlerEntry {
  readonly pattern: string;
  readonly handler: MessageHandler<never>;
}

/** What the registry needs of the client: its link state, control requests, error reports. */
export interface SubscriptionLink {
  /** Registered, so a control request goes out now (else the pattern waits for the next link). */
  isOpen(): boolean;
  control<K extends '_client.subscribe' | '_client.unsubscribe'>(
    topic: K,
    body: ClientToBroker[K]['body'],
  ): Promise<ClientToBroker[K]['response']>;
  report(error: WsmqError): void;
}

interface PatternState {
  readonly pattern: string;
  echo: boolean;
  readonly entries: Set<HandlerEntry>;
  /** The unsubscribe function of each handler, so subscribing it again returns the same one. */
  readonly byHandler: Map<MessageHandler<never>, Unsubscribe>;
  /** Confirmed by the broker on the current link. */
  subscribed: boolean;
  readonly ready: Promise<void>;
  settleReady: (error?: WsmqError) => void;
}

function newPatternState(pattern: string, echo: boolean): PatternState {
  let settleReady: (error?: WsmqError) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    settleReady = (error) => (error === undefined ? resolve() : reject(error));
  });
  ready.catch(() => undefined); // observed through Unsubscribe.ready by those who care
  return { pattern, echo, entries: new Set(), byHandler: new Map(), subscribed: false, ready, settleReady };
}

export class Subscriptions {
  private readonly patterns = new Map<string, PatternState>();
  private readonly handlers: HandlerEntry[] = [];

  constructor(private readonly link: SubscriptionLink) {}

  /** Add `handler` on `pattern` (already validated); see `WebSocketMQ.subscribe`. */
  add(pattern: string, handler: MessageHandler<never>, options: SubscribeOptions): Unsubscribe {
    let state = this.patterns.get(pattern);
    const existing = state?.byHandler.get(handler);
    if (state !== undefined && existing !== undefined) {
      this.turnEchoOn(state, options);
      return existing;
    }
    const entry: HandlerEntry = { pattern, handler };
    this.handlers.push(entry);
    if (state === undefined) {
      state = newPatternState(pattern, options.echo ?? false);
      this.patterns.set(pattern, state);
      if (this.link.isOpen()) this.subscribeAtBroker(state);
    } else {
      this.turnEchoOn(state, options);
    }
    let active = true;
    const unsubscribe = (): void => {
      if (!active) return;
      active = false;
      this.remove(entry);
    };
    const result = Object.assign(unsubscribe, { ready: state.ready });
    state.entries.add(entry);
    state.byHandler.set(handler, result);
    return result;
  }

  /** The handlers whose pattern matches `topic` (§5.2), in subscription order. */
  matching(topic: string): HandlerEntry[] {
    return this.handlers.filter((entry) => topicMatches(entry.pattern, topic));
  }

  /** The first handler matching `topic`: the one that answers a server→client request (§8.4). */
  first(topic: string): HandlerEntry | undefined {
    return this.handlers.find((entry) => topicMatches(entry.pattern, topic));
  }

  /** A new link is registered: subscribe every pattern on it (§7.1). */
  resubscribe(): void {
    for (const state of this.patterns.values()) this.subscribeAtBroker(state);
  }

  /** The link is gone: the broker dropped every subscription with it (§2.3). */
  linkLost(): void {
    for (const state of this.patterns.values()) state.subscribed = false;
  }

  private turnEchoOn(state: PatternState, options: SubscribeOptions): void {
    if (options.echo !== true || state.echo) return;
    state.echo = true;
    if (this.link.isOpen()) this.subscribeAtBroker(state); // §7.1: subscribing again updates echo
  }

  private remove(entry: HandlerEntry): void {
    const index = this.handlers.indexOf(entry);
    if (index >= 0) this.handlers.splice(index, 1);
    const state = this.patterns.get(entry.pattern);
    if (state === undefined) return;
    state.entries.delete(entry);
    state.byHandler.delete(entry.handler);
    if (state.entries.size > 0) return;
    this.patterns.delete(entry.pattern);
    state.settleReady(new WsmqError('CANCELLED', 'unsubscribed', { topic: entry.pattern }));
    if (this.link.isOpen() && state.subscribed) {
      this.link.control('_client.unsubscribe', { topic: entry.pattern }).catch(() => undefined);
    }
  }

  private subscribeAtBroker(state: PatternState): void {
    const body: ClientToBroker['_client.subscribe']['body'] = { topic: state.pattern };
    if (state.echo) body.echo = true;
    this.link.control('_client.subscribe', body).then(
      () => {
        if (this.patterns.get(state.pattern) !== state) {
          // Unsubscribed while this was in flight (so no _client.unsubscribe went out then):
          // undo it at the broker now, unless the pattern was subscribed again meanwhile.
          if (!this.patterns.has(state.pattern) && this.link.isOpen()) {
            this.link.control('_client.unsubscribe', { topic: state.pattern }).catch(() => undefined);
          }
          return;
        }
        state.subscribed = true;
        state.settleReady();
      },
      (error: unknown) => {
        if (this.patterns.get(state.pattern) !== state) return;
        const wsmqError = error instanceof WsmqError ? error : wrapError('INTERNAL', 'subscribe failed', error);
        if (wsmqError.code === 'DISCONNECTED') return; // sent again on the next link
        state.settleReady(wsmqError);
        this.link.report(
          new WsmqError(wsmqError.code, `subscribe ${state.pattern} failed: ${wsmqError.message}`, {
            topic: state.pattern,
            details: wsmqError.details,
            remote: wsmqError.remote,
          }),
        );
      },
    );
  }
}
