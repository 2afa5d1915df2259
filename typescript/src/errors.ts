/**
 * The client's one error type, mirroring Python's `websocketmq.errors` (docs/design.md §5).
 *
 * Every promise this client rejects rejects with a {@link WsmqError}; callers branch on `.code`
 * (a wire code such as `TIMEOUT`, `NO_HANDLER`, `DISCONNECTED`, or an application's own code)
 * rather than on message text or subclass. `remote` tells an error envelope received from the
 * peer apart from one raised locally (timeout, disconnect, local validation).
 */
import type { WireErrorCode } from './protocol.js';

/** A wire code, or an application's own code (`^[A-Z][A-Z0-9_]{0,63}$`). */
export type ErrorCode = WireErrorCode | (string & {});

export interface WsmqErrorInit {
  details?: unknown;
  correlationID?: string;
  topic?: string;
  remote?: boolean;
  cause?: unknown;
}

export class WsmqError extends Error {
  override readonly name = 'WsmqError';
  readonly code: ErrorCode;
  readonly details: unknown;
  readonly correlationID: string | undefined;
  readonly topic: string | undefined;
  /** True when the peer sent this error; false when it was raised locally. */
  readonly remote: boolean;

  constructor(code: ErrorCode, message: string, init: WsmqErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.details = init.details;
    this.correlationID = init.correlationID;
    this.topic = init.topic;
    this.remote = init.remote ?? false;
  }
}

/** Type guard that also works across bundles (two copies of the class). */
export function isWsmqError(value: unknown): value is WsmqError {
  return (
    value instanceof WsmqError ||
    (value instanceof Error && value.name === 'WsmqError' && typeof (value as { code?: unknown }).code === 'string')
  );
}

/** A thrown value as text for an error message: an Error's message (or name), else `String()`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** A local {@link WsmqError} with `code` that says what failed and keeps the cause chained. */
export function wrapError(code: ErrorCode, message: string, cause: unknown): WsmqError {
  return new WsmqError(code, `${message}: ${describeError(cause)}`, { cause });
}
