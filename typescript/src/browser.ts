/**
 * Entry point of the single-file browser bundle (`websocketmq.js`, loaded with a script tag).
 *
 * The seed guide's examples call `new WebSocketMQ(url)`, so the global must be the class itself;
 * the other runtime exports hang off it (`WebSocketMQ.WsmqError`, …) instead of adding globals,
 * and so does `WebSocketMQ.Client`, the seed library's own client API (seed.ts), for pages
 * written against `new WebSocketMQ.Client({url, ...})`.
 */
import { WebSocketMQ } from './client.js';
import { isWsmqError, WsmqError } from './errors.js';
import { PROTOCOL, SUBPROTOCOL } from './protocol.js';
import { SeedClient } from './seed.js';
import { topicMatches } from './topics.js';

const statics = { WsmqError, isWsmqError, topicMatches, PROTOCOL, SUBPROTOCOL, Client: SeedClient } as const;
for (const [name, value] of Object.entries(statics)) {
  Object.defineProperty(WebSocketMQ, name, { value, enumerable: true });
}
(globalThis as { WebSocketMQ?: typeof WebSocketMQ }).WebSocketMQ = WebSocketMQ;
