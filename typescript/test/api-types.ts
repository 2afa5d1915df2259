// Compile-time tests of the public types (checked by `make types`: tsc --noEmit -p .; never run).
// They pin what users rely on: both WebSocket implementations fit, request<T> is typed, status is
// a discriminated union, and the seed's property handlers type-check as written.
import WebSocket from 'ws';
import {
  WebSocketMQ,
  WsmqError,
  type ConnectionStatus,
  type MessageContext,
  type Unsubscribe,
  type WebSocketConstructor,
} from '../src/index.js';

export const fromWs: WebSocketConstructor = WebSocket;
export const fromDom: WebSocketConstructor = globalThis.WebSocket;

const client = new WebSocketMQ('ws://127.0.0.1:1/ws', { WebSocket, reconnect: true, requestTimeoutMs: 1000 });
client.onOpen = () => console.log('Connected to server');
client.onError = (error) => console.error('Connection error:', error.code satisfies string);
client.onClose = () => console.log('Connection closed');

export const typed: Promise<{ CurrentTime: string }> = client.request<{ CurrentTime: string }>('time.now');
export const untyped: Promise<unknown> = client.request('example.echo', { message: 'hi' }, 5000);

export const off: Unsubscribe = client.subscribe<{ timestamp: number; message: string }>(
  'server.ping',
  async (message, context: MessageContext) => ({ serverTime: message.timestamp, aborted: context.signal.aborted }),
);
export const ready: Promise<void> = off.ready;

export function describe(status: ConnectionStatus): string {
  switch (status.state) {
    case 'open':
      return status.clientId;
    case 'reconnecting':
      return `${status.attempt} ${status.delayMs} ${status.error.code}`;
    case 'closed':
      return `${status.code}`;
    default:
      // @ts-expect-error: only the open state has a client ID
      return status.clientId;
  }
}

export const isError: boolean = new WsmqError('TIMEOUT', 'x') instanceof Error;

// First-message auth: a value, or a (possibly async) function called on every (re)connection.
export const withToken = new WebSocketMQ('ws://127.0.0.1:1/ws', { WebSocket, auth: { token: 't' } });
export const withFetch = new WebSocketMQ('ws://127.0.0.1:1/ws', {
  WebSocket,
  auth: async () => ({ token: await Promise.resolve('fresh') }),
  maxQueuedMessages: 50,
});
