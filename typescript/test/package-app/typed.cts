// Type-checked by test/package.test.mjs: the package's types as a CommonJS user sees them.
import { WebSocketMQ, isWsmqError } from 'websocketmq';

export function make(url: string): WebSocketMQ {
  const client = new WebSocketMQ(url, { requestTimeoutMs: 1000 });
  client.onError = (error) => {
    if (isWsmqError(error)) console.log(error.code);
  };
  return client;
}
