/**
 * The transport seam: what the client needs of a WebSocket, and where it gets one.
 *
 * The client never names a WebSocket implementation: the browser's global `WebSocket` and the
 * `ws` package (Node) both fit {@link WebSocketLike}, and tests pass `ws` in through the
 * `WebSocket` option (docs/design.md). Nothing here knows a wsmq rule.
 */
import { WsmqError } from './errors.js';

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

/** `readyState` of an open socket (the same constant in the DOM and in `ws`). */
export const OPEN = 1;

/** The WebSocket constructor to use; throws when there is none (Node 20 without `ws`). */
export function resolveWebSocket(injected: WebSocketConstructor | undefined): WebSocketConstructor {
  if (injected !== undefined) return injected;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global === undefined) {
    throw new WsmqError(
      'INTERNAL',
      "no global WebSocket here: pass one, e.g. new WebSocketMQ(url, { WebSocket }) with WebSocket from the 'ws' package",
    );
  }
  return global;
}

/**
 * Let go of a socket now: detach our listeners and drop the TCP connection (`ws` has
 * `terminate()`; a browser socket can only be closed). Used when the peer looks dead and waiting
 * for its close handshake would only delay the reconnect.
 */
export function abandonSocket(socket: WebSocketLike, code: number, reason: string): void {
  socket.onopen = socket.onmessage = socket.onclose = null;
  // A no-op listener, not null: `ws` emits a late error as an EventEmitter 'error', which Node
  // throws when nothing listens.
  socket.onerror = () => undefined;
  try {
    socket.close(code, reason);
  } catch {
    // Already closing: nothing to do, we have let go of it.
  }
}
