/**
 * The outbox: frames written while the link is not open, or while the pacer has no token
 * (pacing.ts), sent in order once they may go.
 *
 * Bounded (`maxQueuedMessages`), so an application that keeps publishing through a long outage
 * cannot grow memory without limit: past the bound a caller gets `RATE_LIMITED` at once
 * (`details.reason: "client-queue-full"`) rather than a queue that never drains.
 */
import { WsmqError } from './errors.js';
import type { Pending } from './requests.js';

/** A queued frame; `pending` is set for a request (it learns its socket when the frame goes out). */
export interface QueuedFrame {
  readonly frame: string;
  readonly pending?: Pending;
}

export class Outbox {
  private items: QueuedFrame[] = [];

  constructor(readonly limit: number) {}

  get size(): number {
    return this.items.length;
  }

  /** The error for a message that would have to wait here while the outbox is full, else null. */
  fullError(topic: string): WsmqError | null {
    if (this.items.length < this.limit) return null;
    return new WsmqError('RATE_LIMITED', `${this.limit} messages already queued (not connected, or paced to the broker's rate)`, {
      topic,
      details: { reason: 'client-queue-full', limit: this.limit },
    });
  }

  push(item: QueuedFrame): void {
    this.items.push(item);
  }

  /** The oldest queued frame, left in place. */
  peek(): QueuedFrame | undefined {
    return this.items[0];
  }

  /** Take the oldest queued frame. */
  shift(): QueuedFrame | undefined {
    return this.items.shift();
  }

  /** Forget a queued request (it timed out or was aborted before it could be sent). */
  drop(pending: Pending): void {
    this.items = this.items.filter((item) => item.pending !== pending);
  }

  /** Everything queued, oldest first; the outbox is empty afterwards. */
  drain(): QueuedFrame[] {
    const items = this.items;
    this.items = [];
    return items;
  }
}
