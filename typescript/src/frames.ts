/**
 * Outgoing frames: the envelope this client writes (spec/protocol.md §3) and its size check.
 *
 * One encoder per client owns the message-ID sequence (a random prefix + a counter: unique
 * across reconnects and tabs without a clock), so every frame the client sends — publishes,
 * requests, answers, control messages — is built the same way in one place.
 */
import { WsmqError } from './errors.js';
import type { MessageType } from './protocol.js';

/** The header fields this client sets on what it sends (§3.2). */
export interface OutgoingHeader {
  messageID: string;
  type: MessageType;
  topic: string;
  timestamp: number;
  correlationID?: string;
  ttl?: number;
  traceparent?: string;
}

/**
 * A lone surrogate as `JSON.stringify` writes it: `\udXXX` preceded by an even number of
 * backslashes (an odd number means the backslash itself was escaped: literal text).
 * `JSON.stringify` writes paired surrogates as the characters themselves, never escaped.
 */
const LONE_SURROGATE_ESCAPE = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/;

function randomId(random: () => number): string {
  let id = '';
  for (let i = 0; i < 8; i++) id += Math.floor(random() * 36).toString(36);
  return id;
}

export class FrameEncoder {
  private readonly prefix = randomId(Math.random);
  private counter = 0;
  /** The broker's `maxMessageSize` from the last registration (0 = not known yet). */
  maxMessageSize = 0;
  /** The `traceparent` option (spec §3.2): asked for each event and request we send. */
  traceparent: (() => string | undefined) | undefined = undefined;

  /** A fresh message ID (also used as the correlation ID of a request). */
  nextId(): string {
    this.counter += 1;
    return `${this.prefix}-${this.counter}`;
  }

  /**
   * Encode one envelope. Throws what `JSON.stringify` throws (a BigInt, a cycle): callers turn
   * that into `BAD_MESSAGE` or an error answer, whichever their caller expects.
   */
  encode(type: MessageType, topic: string, body: unknown, extra: Partial<OutgoingHeader> = {}): string {
    const header: OutgoingHeader = { messageID: extra.messageID ?? this.nextId(), type, topic, timestamp: Date.now() };
    if (extra.correlationID !== undefined) header.correlationID = extra.correlationID;
    if (extra.ttl !== undefined) header.ttl = extra.ttl;
    if (this.traceparent !== undefined && (type === 'event' || type === 'request') && !topic.startsWith('_')) {
      const traceparent = this.traceparent();
      if (typeof traceparent === 'string') header.traceparent = traceparent;
    }
    const frame = JSON.stringify({ header, body: body === undefined ? null : body });
    if (frame.includes('\\ud') && LONE_SURROGATE_ESCAPE.test(frame)) {
      throw new WsmqError(
        'BAD_MESSAGE',
        'the body holds a lone surrogate (a UTF-16 half, U+D800-U+DFFF, without its pair): it has no UTF-8 form, ' +
          'so the broker would refuse the frame (spec §2.2); fix the string, e.g. with String.prototype.toWellFormed()',
        { topic },
      );
    }
    return frame;
  }

  /**
   * Throw `TOO_LARGE` when `frame` exceeds the broker's `maxMessageSize` (§12.1): it would close
   * the connection over it, failing every other request in flight. The cheap length test first:
   * a UTF-8 string is at most 4 bytes per UTF-16 unit.
   */
  checkSize(frame: string, topic: string): void {
    const max = this.maxMessageSize;
    if (max > 0 && frame.length > max / 4) {
      const size = new TextEncoder().encode(frame).length;
      if (size > max) throw new WsmqError('TOO_LARGE', `message is ${size} bytes, the broker accepts ${max}`, { topic });
    }
  }
}
