// A user's ES module: the installed package against the broker at argv[2].
import { WebSocketMQ, isWsmqError, topicMatches } from 'websocketmq';
import WebSocket from 'ws';

const client = new WebSocketMQ(process.argv[2], { WebSocket, reconnect: false });
await client.connect();
const echo = await client.request('example.echo', { message: 'hello from esm.mjs' }, 5000);
const error = await client.request('nobody.home', {}, 5000).catch((e) => e);
await client.close();
console.log(JSON.stringify({ echo, error: { code: error.code }, isWsmqError: isWsmqError(error), topicMatches: topicMatches('a.>', 'a.b.c') }));
