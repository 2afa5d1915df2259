/**
 * The wsmq/1 wire format as TypeScript types (docs/design.md §1–§5, spec/protocol.md).
 *
 * Why a hand-written module: the spec engineer generates `src/generated/types.ts` and
 * `guards.ts` from spec/schema; until those land, this file is the client's single place that
 * knows the wire shapes, so switching to the generated types is a change of this file only.
 *
 * Two event maps, one per direction, name every control topic and its body:
 * {@link ClientToBroker} (what this client sends) and {@link BrokerToClient} (what it receives).
 */

/** The four message types of §2. */
export type MessageType = 'event' | 'request' | 'response' | 'error';

/** Envelope header (§1). Unknown fields are kept and ignored, as forward compatibility asks. */
export interface MessageHeader {
  messageID: string;
  /** Required on request / response / error; for answers it also equals `topic`. */
  correlationID?: string;
  type: MessageType;
  topic: string;
  /** Milliseconds since the epoch; informational only. */
  timestamp: number;
  /** Requests only: how long the sender waits, in ms. */
  ttl?: number;
  /** Set by the broker on everything it forwards from a client: that client's ID. */
  source?: string;
  [extra: string]: unknown;
}

/** One WebSocket text frame = one envelope. */
export interface Envelope<B = unknown> {
  header: MessageHeader;
  body: B;
}

/** Wire error codes of §5. Applications may add their own codes matching {@link ERROR_CODE_RE}. */
export type WireErrorCode =
  | 'BAD_MESSAGE'
  | 'BAD_TOPIC'
  | 'FORBIDDEN'
  | 'UNAUTHENTICATED'
  | 'ALREADY_REGISTERED'
  | 'NO_HANDLER'
  | 'HANDLER_ERROR'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'DISCONNECTED'
  | 'UNKNOWN_CLIENT'
  | 'UNKNOWN_CORRELATION'
  | 'TOO_LARGE'
  | 'RATE_LIMITED'
  | 'SHUTTING_DOWN'
  | 'INTERNAL';

/** Application error codes must look like wire codes (§5). */
export const ERROR_CODE_RE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** Body of an `error` envelope. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** `_client.register` body: resume fields are sent back on reconnect (§4). */
export interface RegisterBody {
  pageSessionID?: string;
  brokerClientID?: string;
  resumeToken?: string;
}

/** `_internal.client.registered`: the broker's acknowledgement of registration (§4). */
export interface RegisteredBody {
  brokerClientID: string;
  pageSessionID?: string;
  status: 'registered';
  resumeToken: string;
  resumed: boolean;
  protocol: string;
  /** Application keepalive interval in ms; 0 or absent disables it. */
  pingInterval?: number;
  maxMessageSize?: number;
}

/** `_internal.cancel`: the broker gave up on a server→client request (§4). */
export interface CancelNotice {
  correlationID: string;
  reason: 'TIMEOUT' | 'CANCELLED' | 'SHUTTING_DOWN' | (string & {});
}

/** Client → broker control topics: `kind` says the message type; requests name their answer. */
export interface ClientToBroker {
  '_client.register': { kind: 'event'; body: RegisterBody };
  '_client.subscribe': {
    kind: 'request';
    body: { topic: string; echo?: boolean };
    response: { topic: string; subscribed: true };
  };
  '_client.unsubscribe': {
    kind: 'request';
    body: { topic: string };
    response: { topic: string; unsubscribed: boolean };
  };
  '_client.ping': { kind: 'request'; body: unknown; response: { timestamp: number } };
  '_client.cancel': { kind: 'event'; body: { correlationID: string } };
}

/** Broker → client control topics. */
export interface BrokerToClient {
  '_internal.client.registered': { kind: 'event'; body: RegisteredBody };
  '_internal.cancel': { kind: 'event'; body: CancelNotice };
}

/** The subprotocol this client offers in the WebSocket handshake. */
export const SUBPROTOCOL = 'wsmq.v1';

/** Protocol name carried in the registration acknowledgement. */
export const PROTOCOL = 'wsmq/1';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const MESSAGE_TYPES: ReadonlySet<string> = new Set(['event', 'request', 'response', 'error']);

/**
 * Decode one text frame into an envelope, or return a reason string when it is not one.
 *
 * Total: any input gives an envelope or a reason, never an exception, so a broken frame from a
 * peer cannot break the client's receive loop.
 */
export function decodeEnvelope(data: string): Envelope | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return 'not JSON';
  }
  if (!isRecord(parsed)) return 'not an object';
  const header = parsed['header'];
  if (!isRecord(header)) return 'no header';
  const { messageID, correlationID, type, topic, timestamp, ttl, source } = header;
  if (typeof messageID !== 'string' || messageID === '') return 'bad messageID';
  if (typeof type !== 'string' || !MESSAGE_TYPES.has(type)) return 'bad type';
  if (typeof topic !== 'string' || topic === '') return 'bad topic';
  if (correlationID !== undefined && typeof correlationID !== 'string') return 'bad correlationID';
  if (type !== 'event' && (typeof correlationID !== 'string' || correlationID === '')) {
    return 'missing correlationID';
  }
  if (ttl !== undefined && (typeof ttl !== 'number' || !(ttl > 0))) return 'bad ttl';
  if (source !== undefined && typeof source !== 'string') return 'bad source';
  const normalized: MessageHeader = {
    ...header,
    messageID,
    type: type as MessageType,
    topic,
    timestamp: typeof timestamp === 'number' ? timestamp : 0,
  };
  return { header: normalized, body: 'body' in parsed ? parsed['body'] : null };
}

/** Read the `{error: {code, message, details}}` body of an error envelope, tolerating junk. */
export function readErrorBody(body: unknown): { code: string; message: string; details?: unknown } {
  if (isRecord(body) && isRecord(body['error'])) {
    const err = body['error'];
    const code = typeof err['code'] === 'string' && err['code'] !== '' ? err['code'] : 'INTERNAL';
    const message = typeof err['message'] === 'string' ? err['message'] : code;
    return 'details' in err ? { code, message, details: err['details'] } : { code, message };
  }
  return { code: 'INTERNAL', message: 'error envelope without an error body' };
}

/** Is `body` a well-formed registration acknowledgement? */
export function isRegisteredBody(body: unknown): body is RegisteredBody {
  return (
    isRecord(body) &&
    typeof body['brokerClientID'] === 'string' &&
    body['brokerClientID'] !== '' &&
    typeof body['resumeToken'] === 'string'
  );
}

/** Is `body` a well-formed `_internal.cancel` notice? */
export function isCancelNotice(body: unknown): body is CancelNotice {
  return isRecord(body) && typeof body['correlationID'] === 'string';
}
