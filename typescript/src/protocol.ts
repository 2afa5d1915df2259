/**
 * The wsmq/1 wire format as TypeScript types (docs/design.md §1–§5, spec/protocol.md).
 *
 * The shapes and the runtime validation come from `src/generated/` (types.ts, guards.ts), which
 * `python -m codegen` generates from spec/schema: the schema is the only source of truth. This
 * module is the client's single doorway to them, so the rest of the client never imports
 * generated code directly and a schema change touches one file here.
 *
 * Two event maps, one per direction, name every control topic and its body:
 * {@link ClientToBroker} (what this client sends) and {@link BrokerToClient} (what it receives).
 */

import { decodeEnvelope as decodeGenerated, validateBody } from './generated/guards.js';
import type {
  Envelope as GeneratedEnvelope,
  ErrorHeader,
  EventHeader,
  InternalCancelBody,
  PongResult,
  RegisterBody,
  RegisteredBody,
  RequestHeader,
  ResponseHeader,
  SubscribeBody,
  SubscribeResult,
  UnsubscribeBody,
  UnsubscribeResult,
  CancelBody,
} from './generated/types.js';

export { PROTOCOL, SUBPROTOCOL, STANDARD_ERROR_CODES } from './generated/types.js';
export {
  MAX_ID_LENGTH,
  MAX_TOPIC_BYTES,
  MAX_TOPIC_TOKENS,
  NO_RECONNECT_CLOSE_CODES,
  TOPIC_EXCLUDED_CLASS,
} from './generated/rules.js';
export type {
  ErrorMessage,
  EventMessage,
  RequestMessage,
  ResponseMessage,
  ErrorBody,
  ErrorDetail,
  MessageType,
  RegisterBody,
  RegisteredBody,
  StandardErrorCode as WireErrorCode,
} from './generated/types.js';

/** `_internal.cancel`: the broker gave up on a server→client request (§4). */
export type CancelNotice = InternalCancelBody;

/** Any envelope header, discriminated by `type`. */
export type MessageHeader = EventHeader | RequestHeader | ResponseHeader | ErrorHeader;

/** A decoded envelope; `body` is always present here (absent on the wire = `null`). */
export type Envelope = GeneratedEnvelope & { body: unknown };

/** Application error codes must look like wire codes (§5). */
export const ERROR_CODE_RE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Client → broker control topics: `kind` says the message type; requests name their answer. */
export interface ClientToBroker {
  '_client.register': { kind: 'event'; body: RegisterBody };
  '_client.subscribe': { kind: 'request'; body: SubscribeBody; response: SubscribeResult };
  '_client.unsubscribe': { kind: 'request'; body: UnsubscribeBody; response: UnsubscribeResult };
  '_client.ping': { kind: 'request'; body: unknown; response: PongResult };
  '_client.cancel': { kind: 'event'; body: CancelBody };
}

/** Broker → client control topics. */
export interface BrokerToClient {
  '_internal.client.registered': { kind: 'event'; body: RegisteredBody };
  '_internal.cancel': { kind: 'event'; body: InternalCancelBody };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Decode one text frame into an envelope, or return the schema rule it breaks.
 *
 * Total: any input gives an envelope or a reason, never an exception, so a broken frame from a
 * peer cannot break the client's receive loop. Validation is the generated schema guard.
 */
export function decodeEnvelope(data: string): Envelope | string {
  const result = decodeGenerated(data);
  if (!result.ok) return result.rule;
  const envelope = result.envelope;
  return { ...envelope, body: envelope.body === undefined ? null : envelope.body } as Envelope;
}

/**
 * Read the `{error: {code, message, details}}` body of an error envelope, tolerating junk. An
 * error without `code` is the seed clients' answer when their handler threw
 * (`{"error": {"message": "..."}}`): it reads as `HANDLER_ERROR` with that message (§11.1).
 */
export function readErrorBody(body: unknown): { code: string; message: string; details?: unknown } {
  if (isRecord(body) && isRecord(body['error'])) {
    const err = body['error'];
    const code = typeof err['code'] === 'string' && err['code'] !== '' ? err['code'] : 'HANDLER_ERROR';
    const message = typeof err['message'] === 'string' ? err['message'] : code;
    return 'details' in err ? { code, message, details: err['details'] } : { code, message };
  }
  return { code: 'INTERNAL', message: 'error envelope without an error body' };
}

/**
 * Is `body` usable as a registration acknowledgement? Deliberately looser than the schema: only
 * the identity fields are needed to go on, and refusing an ack over an optional number would
 * leave the client stuck in `registering` against a slightly different broker.
 */
export function isRegisteredBody(body: unknown): body is RegisteredBody {
  return (
    isRecord(body) &&
    typeof body['brokerClientID'] === 'string' &&
    body['brokerClientID'] !== '' &&
    typeof body['resumeToken'] === 'string'
  );
}

/** Is `body` a well-formed `_internal.cancel` notice (per the schema)? */
export function isCancelNotice(body: unknown): body is CancelNotice {
  return validateBody<CancelNotice>('InternalCancelBody', body).ok;
}
