// A user's CommonJS file: the installed package against the broker at argv[2].
const { WebSocketMQ, isWsmqError, topicMatches } = require('websocketmq');
const WebSocket = require('ws');

(async () => {
  const client = new WebSocketMQ(process.argv[2], { WebSocket, reconnect: false });
  await client.connect();
  const echo = await client.request('example.echo', { message: 'hello from cjs.cjs' }, 5000);
  const error = await client.request('nobody.home', {}, 5000).catch((e) => e);
  await client.close();
  console.log(JSON.stringify({ echo, error: { code: error.code }, isWsmqError: isWsmqError(error), topicMatches: topicMatches('a.>', 'a.b.c') }));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
