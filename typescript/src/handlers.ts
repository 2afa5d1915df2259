/**
 * Handler invocation: events delivered to subscription handlers, and server→client requests
 * answered by them (spec/protocol.md §7.4, §8.4).
 *
 * A handler's (awaited) return value answers a server→client request and a thrown error becomes
 * an error answer with the error's own code when it is a valid wire code, else `HANDLER_ERROR`
 * (§11.3). Each request in flight has an `AbortController`, aborted when the broker cancels it
 * (`_internal.cancel`, §8.8), when its ttl passes or when the socket is lost; an aborted
 * handler's answer is never sent (the broker would treat it as late).
 */
import { describeError, WsmqError, wrapError } from './errors.js';
import type { FrameEncoder } from './frames.js';
import {
  ERROR_CODE_RE,
  type CancelNotice,
  type Envelope,
  type MessageHeader,
  type MessageType,
  type RequestMessage,
} from './protocol.js';
import type { HandlerEntry, Subscriptions } from './subscriptions.js';

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
  /** The W3C `traceparent` the message carries (spec §3.2): pass it on to continue the trace. */
  readonly traceparent: string | undefined;
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

/**
 * How long past its ttl a server→client request's handler keeps running. Fallback only: the
 * broker's `_internal.cancel` normally arrives first; the grace keeps a handler from being
 * aborted by clock skew while the broker would still take its answer.
 */
const TTL_GRACE_MS = 1_000;

function errorBodyOf(error: unknown): { code: string; message: string; details?: unknown } {
  const { code, details } = (error ?? {}) as { code?: unknown; details?: unknown };
  const body: { code: string; message: string; details?: unknown } = {
    code: typeof code === 'string' && ERROR_CODE_RE.test(code) ? code : 'HANDLER_ERROR',
    message: describeError(error),
  };
  if (details !== undefined) body.details = details;
  return body;
}

function contextOf(envelope: Envelope, entry: HandlerEntry, signal: AbortSignal): MessageContext {
  return {
    topic: envelope.header.topic,
    pattern: entry.pattern,
    type: envelope.header.type === 'request' ? 'request' : 'event',
    header: envelope.header,
    envelope,
    source: envelope.header.source,
    traceparent: typeof envelope.header.traceparent === 'string' ? envelope.header.traceparent : undefined,
    signal,
  };
}

export class HandlerRunner {
  /** Server→client requests whose handler is running, by correlation ID. */
  private readonly inflight = new Map<string, AbortController>();

  constructor(
    private readonly subscriptions: Subscriptions,
    private readonly encoder: FrameEncoder,
    private readonly report: (error: WsmqError) => void,
  ) {}

  /** An event: every matching handler runs; what they return or throw is theirs (§7.4). */
  deliver(envelope: Envelope): void {
    const topic = envelope.header.topic;
    const signal = new AbortController().signal;
    for (const entry of this.subscriptions.matching(topic)) {
      const failed = (error: unknown): void => this.report(wrapError('HANDLER_ERROR', `handler for ${topic} failed`, error));
      try {
        const result = entry.handler(envelope.body as never, contextOf(envelope, entry, signal));
        if (result instanceof Promise) result.catch(failed);
      } catch (error) {
        failed(error);
      }
    }
  }

  /**
   * A server→client request (§8.4): the first matching handler answers, through `send` (which
   * drops the frame when the socket it came on is gone: the broker already failed it).
   */
  async answer(envelope: Envelope & RequestMessage, send: (frame: string) => void): Promise<void> {
    const { topic, ttl, correlationID } = envelope.header;
    const reply = (type: 'response' | 'error', body: unknown): void => send(this.encodeAnswer(type, envelope, body));
    const entry = this.subscriptions.first(topic);
    if (entry === undefined) {
      reply('error', { error: { code: 'NO_HANDLER', message: `no handler for ${topic} on this client` } }); // §8.5
      return;
    }
    const controller = new AbortController();
    this.inflight.set(correlationID, controller);
    const ttlTimer =
      ttl !== undefined
        ? setTimeout(() => controller.abort(new WsmqError('TIMEOUT', `request ${topic} outlived its ttl`)), ttl + TTL_GRACE_MS)
        : undefined;
    try {
      const result: unknown = await entry.handler(envelope.body as never, contextOf(envelope, entry, controller.signal));
      if (!controller.signal.aborted) reply('response', result === undefined ? null : result);
    } catch (error) {
      if (!controller.signal.aborted) reply('error', { error: errorBodyOf(error) });
    } finally {
      clearTimeout(ttlTimer);
      if (this.inflight.get(correlationID) === controller) this.inflight.delete(correlationID);
    }
  }

  /** `_internal.cancel` (§8.8 rule 2): abort that handler; an unknown correlation is ignored. */
  cancel(notice: CancelNotice): void {
    this.inflight.get(notice.correlationID)?.abort(new WsmqError('CANCELLED', `cancelled by the broker (${notice.reason})`));
  }

  /** The socket is gone (§8.9): nobody is left to take an answer, so every handler is aborted. */
  abortAll(error: WsmqError): void {
    for (const controller of this.inflight.values()) controller.abort(error);
    this.inflight.clear();
  }

  /** An answer frame; one the broker would refuse (or that is not JSON) becomes an error answer. */
  private encodeAnswer(type: 'response' | 'error', request: Envelope & RequestMessage, body: unknown): string {
    const { correlationID, topic } = request.header;
    try {
      const frame = this.encoder.encode(type, correlationID, body, { correlationID });
      this.encoder.checkSize(frame, topic);
      return frame;
    } catch (error) {
      const code = error instanceof WsmqError ? error.code : 'HANDLER_ERROR';
      return this.encoder.encode(
        'error',
        correlationID,
        { error: { code, message: `cannot send the answer: ${describeError(error)}` } },
        { correlationID },
      );
    }
  }
}
