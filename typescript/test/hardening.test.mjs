// TypeScript client bugs found by reading it against spec/protocol.md: each test failed before
// its fix. Faults a real broker cannot produce on demand run against a scripted fake peer (or a
// bare TCP server that never finishes the WebSocket handshake).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { WebSocketMQ, topicMatches } from '../dist/index.js';
import { Inbox, event, ms, startFakePeer, startProxy, waitUntil, withTimeout } from './helpers.mjs';

const clients = [];
function newClient(url, options = {}) {
  const client = new WebSocketMQ(url, { WebSocket, backoff: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** Acknowledge registration and answer `_client.subscribe` / `_client.unsubscribe`. */
function politeBroker(peer, ackBody = {}) {
  // A link the client gives up before registering (the test is over) never sends it: fine.
  peer.received.waitFor(1, ms(5000), 'register').then(() => peer.ack(ackBody), () => undefined);
  peer.ws.on('message', (data) => {
    const env = JSON.parse(String(data));
    if (env.header.type !== 'request') return;
    if (env.header.topic === '_client.subscribe') peer.respond(env, { topic: env.body.topic, subscribed: true });
    if (env.header.topic === '_client.unsubscribe') peer.respond(env, { topic: env.body.topic, unsubscribed: true });
  });
}

describe('a socket still in its WebSocket handshake', () => {
  let server;
  let url;
  const sockets = new Set();
  before(async () => {
    // Accepts TCP and never answers the upgrade: the client's socket stays CONNECTING.
    server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise((res) => server.listen(0, '127.0.0.1', res));
    url = `ws://127.0.0.1:${server.address().port}/ws`;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((res) => server.close(res));
  });

  // Bug: dropSocket() (connect timeout) and close() set `socket.onerror = null` before closing a
  // CONNECTING socket; `ws` then emits 'error' with no listener, which Node turns into an
  // uncaught exception that kills the whole process.
  it('is given up (connect timeout) and closed without an uncaught error', async () => {
    const uncaught = [];
    const onUncaught = (error) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const client = newClient(url, { connectTimeoutMs: 100 });
      const statuses = new Inbox();
      client.on('status', statuses.push);
      client.connect();
      await waitUntil(
        () => statuses.items.some((s) => s.state === 'connecting' && s.attempt === 2),
        ms(5000),
        'a second attempt after the first handshake timed out',
      );
      await withTimeout(client.close(), ms(5000), 'close() during the second handshake');
      await new Promise((res) => setImmediate(res)); // ws reports the abort on process.nextTick
      assert.deepEqual(uncaught.map((e) => e.message), []);
      assert.equal(client.status.state, 'closed');
      assert.ok(statuses.items.some((s) => s.state === 'reconnecting'), 'the timed-out attempt is retried');
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});

describe('against a fake peer', () => {
  let fake;
  let onConnection;
  before(async () => {
    fake = await startFakePeer((peer) => onConnection(peer));
  });
  after(async () => {
    await fake.stop();
  });

  // Bug: the keepalive rescheduled itself only after an answered ping; any error answer other
  // than TIMEOUT (here RATE_LIMITED) stopped it for the rest of the connection, so a link that
  // died afterwards was never detected (spec §9.2).
  it('keeps pinging after a ping is answered with an error, and still detects a dead link', async () => {
    const base = fake.connections.items.length;
    const pings = new Inbox();
    onConnection = (peer) => {
      politeBroker(peer, { pingInterval: 80 });
      peer.ws.on('message', (data) => {
        const env = JSON.parse(String(data));
        if (env.header.topic !== '_client.ping') return;
        if (peer.index !== base + 1) {
          peer.respond(env, { timestamp: Date.now() }); // the new link is healthy
          return;
        }
        pings.push(env);
        if (pings.items.length === 1) peer.fail(env, 'RATE_LIMITED', 'slow down'); // later: silence
      });
    };
    const client = newClient(fake.url);
    await client.connect();
    await pings.waitFor(2, ms(5000), 'a second ping after the error answer');
    await fake.connections.waitFor(base + 2, ms(5000), 'a reconnect after the unanswered ping');
  });

  // Bug: an error answer for a request the client had already settled (its own timer fired,
  // it sent _client.cancel, the broker's TIMEOUT crossed it on the wire) was reported to
  // onError; spec §8.7 rule 1: late and duplicate answers MUST be discarded silently.
  it('discards a late error answer to a request it already settled, silently', async () => {
    const base = fake.connections.items.length;
    onConnection = (peer) => {
      politeBroker(peer);
      peer.ws.on('message', (data) => {
        const env = JSON.parse(String(data));
        if (env.header.topic !== '_client.cancel') return;
        const cid = env.body.correlationID;
        peer.fail({ header: { correlationID: cid } }, 'TIMEOUT', 'late');
        peer.send(event('tick.now', 'after the late answer'));
      });
    };
    const client = newClient(fake.url);
    const errors = new Inbox();
    client.on('error', errors.push);
    const ticks = new Inbox();
    client.subscribe('tick.*', ticks.push);
    await client.connect();
    await fake.connections.waitFor(base + 1);
    await assert.rejects(client.request('svc.slow', null, 50), { code: 'TIMEOUT' });
    await ticks.waitFor(1, ms(5000), 'the event sent after the late answer');
    assert.deepEqual(errors.items.map((e) => `${e.code}: ${e.message}`), []);
  });

  // Bug: unsubscribing before the broker confirmed the subscription skipped _client.unsubscribe
  // (the pattern was not `subscribed` yet), and the confirmation that arrived next was ignored:
  // the broker kept the subscription and went on delivering events nobody handles.
  it('unsubscribing before the subscription is confirmed still unsubscribes at the broker', async () => {
    const base = fake.connections.items.length;
    const control = new Inbox();
    onConnection = (peer) => {
      politeBroker(peer);
      peer.ws.on('message', (data) => {
        const env = JSON.parse(String(data));
        if (env.header.topic.startsWith('_client.') && env.header.type === 'request') control.push(env);
      });
    };
    const client = newClient(fake.url);
    await client.connect();
    await fake.connections.waitFor(base + 1);
    const unsubscribe = client.subscribe('news.*', () => undefined);
    unsubscribe(); // the subscribe request is on the wire, its answer not yet back
    const [subscribe, unsub] = await control.waitFor(2, ms(5000), '_client.unsubscribe after the confirmation');
    assert.deepEqual([subscribe.header.topic, subscribe.body], ['_client.subscribe', { topic: 'news.*' }]);
    assert.deepEqual([unsub.header.topic, unsub.body], ['_client.unsubscribe', { topic: 'news.*' }]);
    // Subscribing again afterwards works and is not undone by the late clean-up.
    const again = client.subscribe('news.*', () => undefined);
    await withTimeout(again.ready, ms(5000), 'the new subscription');
    assert.equal(control.items.filter((e) => e.header.topic === '_client.unsubscribe').length, 1);
  });

  // Bug: only 1008/4001/4009 stopped reconnecting, so a broker that ended the session with a
  // normal closure (1000) saw the client come straight back; spec §12.2: after 1000 do not
  // reconnect unless the application asks (connect() again).
  it('does not reconnect after a normal closure (1000) from the broker', async () => {
    const base = fake.connections.items.length;
    onConnection = (peer) => politeBroker(peer);
    const client = newClient(fake.url);
    const closes = new Inbox();
    client.onClose = closes.push;
    await client.connect();
    const peer = (await fake.connections.waitFor(base + 1)).at(-1);
    peer.ws.close(1000, 'session over');
    const [info] = await closes.waitFor(1, ms(5000), 'onClose');
    assert.deepEqual([info.code, info.willReconnect], [1000, false]);
    assert.equal(client.status.state, 'closed');
    await withTimeout(client.connect(), ms(5000), 'connect() when the application asks');
    assert.equal(fake.connections.items.length, base + 2);
  });

  // Bug: the backoff restarted from its first step after every registration, so a broker that
  // closed each new connection with 4029 (error budget spent) saw the client back within the
  // shortest delay forever; spec §12.2: after 4029 reconnect with a longer backoff.
  it('backs off longer after each 4029 in a row, and resets after another loss', async () => {
    const base = fake.connections.items.length;
    onConnection = (peer) => {
      politeBroker(peer);
      // The first three links are closed with 4029 as soon as they are registered.
      if (peer.index <= base + 3) peer.received.waitFor(1).then(() => peer.ws.close(4029, 'error budget'), () => undefined);
    };
    const client = newClient(fake.url, { random: () => 1, backoff: { initialDelayMs: 10, maxDelayMs: 10_000 } });
    const delays = [];
    client.on('status', (s) => s.state === 'reconnecting' && delays.push(s.delayMs));
    await client.connect();
    await fake.connections.waitFor(base + 4, ms(5000), 'a fourth link that stays');
    await waitUntil(() => client.isOpen, ms(5000), 'open on the fourth link');
    assert.deepEqual(delays, [20, 40, 80], 'doubling after each 4029');
    fake.connections.items.at(-1).ws.close(1011, 'internal error');
    await waitUntil(() => delays.length === 4, ms(5000), 'the next reconnect');
    assert.equal(delays[3], 10, 'back to the first step after a loss that was not 4029');
  });

  // Bug: close() waited for the WebSocket's closing handshake, so on a black-holed link (the
  // broker never answers the close frame) it hung for the WebSocket's own close timeout
  // (30 s in ws; browsers differ); pending requests are settled at once either way.
  it('close() on a black-holed link settles within a bounded time', async () => {
    onConnection = (peer) => politeBroker(peer);
    const proxy = await startProxy(Number(new URL(fake.url).port));
    try {
      const client = newClient(`ws://127.0.0.1:${proxy.port}/ws`);
      await client.connect();
      const call = client.request('svc.never', null, 60_000);
      proxy.freeze();
      await withTimeout(client.close(), ms(5000), 'close() on a black-holed link');
      await assert.rejects(call, { code: 'DISCONNECTED' });
      assert.equal(client.status.state, 'closed');
    } finally {
      await proxy.stop();
    }
  });

  // Bug: publish() with a body JSON cannot encode (a BigInt, a cycle) threw the bare TypeError
  // of JSON.stringify, while request() reported the same problem as a typed BAD_MESSAGE.
  it('publish() of a body JSON cannot encode throws a typed BAD_MESSAGE, like request()', async () => {
    onConnection = (peer) => politeBroker(peer);
    const client = newClient(fake.url);
    const cyclic = {};
    cyclic.self = cyclic;
    const connected = client.connect();
    for (const body of [{ n: 1n }, cyclic]) {
      assert.throws(() => client.publish('a.b', body), { name: 'WsmqError', code: 'BAD_MESSAGE' }); // queued
    }
    await connected;
    for (const body of [{ n: 1n }, cyclic]) {
      assert.throws(() => client.publish('a.b', body), { name: 'WsmqError', code: 'BAD_MESSAGE' });
      await assert.rejects(client.request('a.b', body), { name: 'WsmqError', code: 'BAD_MESSAGE' });
    }
  });

  // Bug: topicMatches('>', '_internal.x') was true, so a catch-all handler got reserved
  // broker→client events the client does not know yet (future control topics) and could answer
  // reserved requests; spec §5.2: a pattern whose first token is `*` or `>` never matches a topic
  // whose first token starts with `_`.
  it('never lets a leading wildcard match a reserved topic', async () => {
    assert.equal(topicMatches('>', '_client.register'), false);
    assert.equal(topicMatches('*.status', '_db.status'), false);
    assert.equal(topicMatches('*', '_x'), false);
    assert.equal(topicMatches('_app.>', '_app.x'), true, 'a literal reserved prefix still matches');
    assert.equal(topicMatches('>', 'app._x'), true, 'only the first token is reserved');
    onConnection = (peer) => politeBroker(peer);
    const base = fake.connections.items.length;
    const client = newClient(fake.url);
    const got = new Inbox();
    client.subscribe('>', (body, ctx) => {
      got.push(ctx.topic);
      return 'answered';
    });
    await client.connect();
    const peer = (await fake.connections.waitFor(base + 1)).at(-1);
    await waitUntil(() => peer.received.items.some((e) => e.header.topic === '_client.subscribe'), ms(5000), 'subscribe');
    peer.send(event('_internal.future', { x: 1 }));
    peer.send(event('app.news', 1));
    await got.waitFor(1, ms(5000), 'the ordinary event');
    assert.deepEqual(got.items, ['app.news']);
  });

  // Bug: onClose ran while status was still 'open', so isOpen was true inside it and connect()
  // called there (the application asking for a new connection after a 1000 or 4009) resolved
  // at once without opening anything; the client then went to 'closed'.
  it('onClose sees the link down: isOpen is false, connect() from it really reconnects', async () => {
    onConnection = (peer) => politeBroker(peer);
    const base = fake.connections.items.length;
    const client = newClient(fake.url);
    const seen = [];
    let reopened;
    client.onClose = (info) => {
      seen.push([info.code, info.willReconnect, client.isOpen, client.status.state]);
      if (info.code === 1000 && reopened === undefined) reopened = client.connect();
    };
    await client.connect();
    (await fake.connections.waitFor(base + 1)).at(-1).ws.close(1011, 'internal');
    await fake.connections.waitFor(base + 2, ms(5000), 'the automatic reconnect');
    await waitUntil(() => client.isOpen, ms(5000), 'open again');
    fake.connections.items.at(-1).ws.close(1000, 'session over');
    await waitUntil(() => reopened !== undefined, ms(5000), 'onClose after 1000');
    await withTimeout(reopened, ms(5000), 'connect() called from onClose');
    assert.equal(client.status.state, 'open');
    assert.equal(fake.connections.items.length, base + 3);
    assert.deepEqual(seen, [
      [1011, true, false, 'reconnecting'],
      [1000, false, false, 'closed'],
    ]);
  });

  // Bug: a timeout beyond setTimeout's range (e.g. Infinity for "no deadline", or 30 days) made
  // the timer fire after 1 ms (Node and browsers clamp overflowing delays to ~0), so the request
  // failed with TIMEOUT at once; Infinity also went out as "ttl": null, an invalid request.
  it('a timeout beyond the timer range is clamped, not fired at once', async () => {
    onConnection = (peer) => {
      politeBroker(peer);
      peer.ws.on('message', (data) => {
        const env = JSON.parse(String(data));
        if (env.header.topic === 'svc.slowpoke') setImmediate(() => peer.respond(env, env.header.ttl));
      });
    };
    const client = newClient(fake.url);
    await client.connect();
    for (const timeoutMs of [Number.POSITIVE_INFINITY, 30 * 24 * 3600 * 1000]) {
      const ttl = await client.request('svc.slowpoke', null, { timeoutMs });
      assert.equal(ttl, 2 ** 31 - 1, `ttl sent for timeoutMs ${timeoutMs}`);
    }
  });
});
