/**
 * Inbound dispatch: what one frame from the broker is, decided without side effects.
 *
 * Every text frame goes through {@link classify} once, and the client acts on the result in one
 * exhaustive `switch`: one path per message (docs/design.md). A frame that is not a valid
 * envelope, or a control event with a malformed body, becomes a `bad` item the client reports
 * as `BAD_MESSAGE`, never an exception in the receive loop (spec/protocol.md §3.5).
 */
import {
  decodeEnvelope,
  isCancelNotice,
  isRegisteredBody,
  type CancelNotice,
  type Envelope,
  type ErrorMessage,
  type RegisteredBody,
  type RequestMessage,
  type ResponseMessage,
} from './protocol.js';

/** One inbound frame, by what the client must do with it. */
export type Inbound =
  /** An answer to a client→server request (§8.3): to the pending table. */
  | { readonly kind: 'answer'; readonly envelope: Envelope & (ResponseMessage | ErrorMessage) }
  /** The registration acknowledgement (§6.2). */
  | { readonly kind: 'registered'; readonly ack: RegisteredBody }
  /** The broker gave up on a server→client request (§8.8 rule 2). */
  | { readonly kind: 'cancel'; readonly notice: CancelNotice }
  /** An event on a subscribed topic (§7.4). */
  | { readonly kind: 'event'; readonly envelope: Envelope }
  /** A server→client request (§8.4). */
  | { readonly kind: 'request'; readonly envelope: Envelope & RequestMessage }
  /** Not something the client can act on; `problem` says why (reported as BAD_MESSAGE). */
  | { readonly kind: 'bad'; readonly problem: string }
  /** A malformed `_internal.cancel`: ignored, like one for an unknown correlation (§8.8). */
  | { readonly kind: 'ignored' };

/** Decide what a text frame from the broker is (total: never throws). */
export function classify(data: string): Inbound {
  const envelope = decodeEnvelope(data);
  if (typeof envelope === 'string') return { kind: 'bad', problem: `bad frame from broker (${envelope})` };
  const { header } = envelope;
  switch (header.type) {
    case 'response':
    case 'error':
      return { kind: 'answer', envelope: envelope as Envelope & (ResponseMessage | ErrorMessage) };
    case 'request':
      return { kind: 'request', envelope: envelope as Envelope & RequestMessage };
    case 'event':
      if (header.topic === '_internal.client.registered') {
        return isRegisteredBody(envelope.body)
          ? { kind: 'registered', ack: envelope.body }
          : { kind: 'bad', problem: 'malformed registration acknowledgement' };
      }
      if (header.topic === '_internal.cancel') {
        return isCancelNotice(envelope.body) ? { kind: 'cancel', notice: envelope.body } : { kind: 'ignored' };
      }
      return { kind: 'event', envelope };
  }
}
