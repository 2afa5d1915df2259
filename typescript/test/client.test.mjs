// The client in Node against the real Python broker (`wsmq serve --demo --conformance`), spawned
// by this file: registration, RPC both ways, pub/sub, timeouts with cancel, reconnect + resume.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { WebSocketMQ, WsmqError } from '../dist/index.js';
import { Inbox, deferred, ms, startBroker, startProxy, withTimeout } from './helpers.mjs';

const clients = [];
function newClient(url, options = {}) {
  const client = new WebSocketMQ(url, { WebSocket, backoff: { initialDelayMs: 20, maxDelayMs: 300 }, ...options });
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('TypeScript client ↔ Python broker', () => {
  let broker;
  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    await broker?.stop();
  });

  it('runs the seed API as written: onOpen after registration, request, typed errors', async () => {
    const client = newClient(broker.url);
    const opened = deferred();
    client.onOpen = () => opened.resolve();
    client.onError = (error) => assert.fail(`unexpected error ${error.code}: ${error.message}`);
    client.onClose = () => {};
    client.connect();
    await withTimeout(opened.promise, ms(10000), 'onOpen');
    assert.match(client.clientId, /^[A-Za-z0-9_-]+$/);
    assert.equal(client.status.state, 'open');

    const response = await client.request('example.echo', { message: 'hi' }, 5000);
    assert.deepEqual(response, { message: 'hi' });
    const now = await client.request('time.now');
    assert.match(now.CurrentTime, /^\d{4}-\d\d-\d\dT/);

    await assert.rejects(client.request('nobody.listens', {}, 5000), (e) => {
      assert.ok(e instanceof WsmqError);
      assert.equal(e.code, 'NO_HANDLER');
      assert.equal(e.remote, true);
      return true;
    });
    await assert.rejects(client.request('conformance.fail', { code: 'OUT_OF_STOCK' }), { code: 'OUT_OF_STOCK' });
    await assert.rejects(client.request('conformance.fail', {}), { code: 'HANDLER_ERROR' });
    await assert.rejects(client.request('_secret.topic', {}), { code: 'FORBIDDEN' });
  });

  it('times out locally with TIMEOUT, cancels on the broker, and keeps working', async () => {
    const client = newClient(broker.url);
    await client.connect();
    const started = Date.now();
    await assert.rejects(client.request('conformance.sleep', { ms: 10_000 }, 200), { code: 'TIMEOUT' });
    assert.ok(Date.now() - started < 9000, 'did not wait for the handler');
    const controller = new AbortController();
    const aborted = client.request('conformance.sleep', { ms: 10_000 }, { timeoutMs: 20_000, signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted, { code: 'CANCELLED' });
    assert.deepEqual(await client.request('conformance.echo', [1, 2, 3]), [1, 2, 3]);
  });

  it('queues requests and subscriptions made before open (while connecting)', async () => {
    const client = newClient(broker.url);
    const got = new Inbox();
    client.subscribe('queued.topic', got.push); // before connect(): held, sent once open
    client.connect();
    const answer = client.request('conformance.echo', { early: true }); // connecting: queued
    assert.deepEqual(await answer, { early: true });
    await client.request('conformance.publish', { topic: 'queued.topic', body: { n: 1 } });
    assert.deepEqual(await got.waitFor(1), [{ n: 1 }]);
  });

  // Issue 11: a lone surrogate has no UTF-8 form and the broker refuses the frame (spec §2.2);
  // the client refuses it first, saying why, and nothing reaches the wire.
  it('refuses a body with a lone surrogate locally (BAD_MESSAGE), in requests, publishes and answers', async () => {
    const client = newClient(broker.url);
    const errors = new Inbox();
    client.on('error', errors.push);
    client.subscribe('client.lone', () => ({ text: 'half \udc00 of a pair' }));
    await client.connect();
    const started = Date.now();
    const refused = await client.request('conformance.echo', { text: 'a\ud800b' }).catch((e) => e);
    assert.equal(refused.code, 'BAD_MESSAGE');
    assert.equal(refused.remote, false, 'refused locally, not by the broker');
    assert.match(refused.message, /lone surrogate .*toWellFormed/);
    assert.ok(Date.now() - started < 1000);
    assert.throws(() => client.publish('demo.chat', { text: '\udbff' }), (e) => e.code === 'BAD_MESSAGE' && /lone surrogate/.test(e.message));
    // Paired surrogates (an emoji) and the escaped text of one are fine.
    assert.deepEqual(await client.request('conformance.echo', { text: '😀 \\ud800' }), { text: '😀 \\ud800' });
    // A handler answering with one: the server-side caller gets BAD_MESSAGE saying so, at once.
    const answer = await client.request('conformance.callback', { topic: 'client.lone', body: {} }).catch((e) => e);
    assert.equal(answer.code, 'BAD_MESSAGE');
    assert.match(answer.message, /cannot send the answer: .*lone surrogate/);
    assert.deepEqual(errors.items, [], 'the connection saw no error: nothing bad was sent');
    assert.equal(client.status.state, 'open');
  });

  it('answers server→client requests (conformance.callback): value, error code, NO_HANDLER, cancel', async () => {
    const client = newClient(broker.url);
    const cancelled = deferred();
    client.subscribe('client.add', async ({ a, b }, ctx) => {
      assert.equal(ctx.type, 'request');
      return { sum: a + b };
    });
    client.subscribe('client.refuse', () => {
      throw Object.assign(new Error('not today'), { code: 'NOT_TODAY' });
    });
    client.subscribe('client.hang', (_body, ctx) => new Promise((resolve) => {
      ctx.signal.addEventListener('abort', () => {
        cancelled.resolve(ctx.signal.reason);
        resolve(null);
      });
    }));
    await client.connect();
    assert.deepEqual(
      await client.request('conformance.callback', { topic: 'client.add', body: { a: 20, b: 22 } }),
      { response: { sum: 42 } },
    );
    await assert.rejects(client.request('conformance.callback', { topic: 'client.refuse', body: {} }), { code: 'NOT_TODAY' });
    await assert.rejects(client.request('conformance.callback', { topic: 'client.unknown', body: {} }), { code: 'NO_HANDLER' });
    await assert.rejects(
      client.request('conformance.callback', { topic: 'client.hang', body: {}, timeoutMs: 300 }),
      { code: 'TIMEOUT' },
    );
    const reason = await withTimeout(cancelled.promise, ms(5000), 'the handler to see _internal.cancel');
    assert.equal(reason.code, 'CANCELLED');
  });

  it('delivers pub/sub between two clients, with wildcards, source, echo and unsubscribe', async () => {
    const alice = newClient(broker.url);
    const bob = newClient(broker.url);
    await Promise.all([alice.connect(), bob.connect()]);
    const all = new Inbox();
    const one = new Inbox();
    const mine = new Inbox();
    const offAll = bob.subscribe('chat.>', (body, ctx) => all.push({ topic: ctx.topic, body, source: ctx.source }));
    const offOne = bob.subscribe('chat.*', (body) => one.push(body));
    const echoSub = alice.subscribe('chat.room', (body) => mine.push(body), { echo: true });
    await Promise.all([offAll.ready, offOne.ready, echoSub.ready]);

    alice.publish('chat.room', { text: 'hello' });
    alice.publish('chat.room.deep', { text: 'deeper' });
    const got = await all.waitFor(2);
    assert.deepEqual(got, [
      { topic: 'chat.room', body: { text: 'hello' }, source: alice.clientId },
      { topic: 'chat.room.deep', body: { text: 'deeper' }, source: alice.clientId },
    ]);
    assert.deepEqual(one.items, [{ text: 'hello' }]);
    assert.deepEqual(await mine.waitFor(1), [{ text: 'hello' }], 'echo: true delivers own publishes');

    offOne();
    // Ordering proves absence: after the unsubscribe is answered, a publish reaches chat.> but not chat.*.
    await bob.request('conformance.echo', 'barrier');
    const published = await alice.request('conformance.publish', { topic: 'chat.room', body: { text: 'server' }, count: 2 });
    assert.deepEqual(published, { published: 2 });
    const later = await all.waitFor(4);
    assert.deepEqual(later.slice(2).map((m) => [m.body, m.source]), [[{ text: 'server', seq: 0 }, undefined], [{ text: 'server', seq: 1 }, undefined]]);
    assert.equal(one.items.length, 1);
    await assert.rejects(bob.subscribe('_internal.secret', () => {}).ready, { code: 'FORBIDDEN' });
  });

  it('sends application keepalive pings, and answered pings keep the link', async () => {
    const pings = new Inbox();
    class CountingWebSocket extends WebSocket {
      send(data, ...rest) {
        if (JSON.parse(data).header.topic === '_client.ping') pings.push(data);
        return super.send(data, ...rest);
      }
    }
    const client = newClient(broker.url, { WebSocket: CountingWebSocket, pingIntervalMs: 30 });
    await client.connect();
    const statuses = new Inbox();
    client.on('status', statuses.push);
    await pings.waitFor(3, ms(5000), 'three keepalive pings');
    assert.deepEqual(statuses.items, [], 'the link never dropped');
    assert.deepEqual(await client.request('conformance.echo', 'still here'), 'still here');
  });
});

describe('reconnect', () => {
  it('on a cut link: pending requests fail DISCONNECTED, the same ID resumes, subscriptions come back', async () => {
    const broker = await startBroker();
    const proxy = await startProxy(broker.port);
    try {
      const client = newClient(`ws://127.0.0.1:${proxy.port}${broker.path}`);
      const opens = new Inbox();
      const closes = new Inbox();
      client.onOpen = opens.push;
      client.onClose = closes.push;
      const got = new Inbox();
      client.subscribe('news.*', got.push);
      await client.connect();
      const firstId = client.clientId;
      const inFlight = client.request('conformance.sleep', { ms: 10_000 }, 20_000);
      await client.request('conformance.echo', 'on the wire'); // the sleep request is out
      proxy.cut();
      await assert.rejects(withTimeout(inFlight, ms(5000), 'DISCONNECTED'), { code: 'DISCONNECTED' });
      const [closed] = await closes.waitFor(1);
      assert.equal(closed.willReconnect, true);
      const [, reopened] = await opens.waitFor(2, ms(10000), 'the reconnection');
      assert.equal(reopened.resumed, true);
      assert.equal(client.clientId, firstId);
      await client.request('conformance.publish', { topic: 'news.today', body: 'back' });
      assert.deepEqual(await got.waitFor(1), ['back']);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await proxy.stop();
      await broker.stop();
    }
  });

  it('survives a broker restart on the same port (same resume secret: same ID)', async () => {
    const secret = ['--resume-secret', 'test-secret-for-restart'];
    let broker = await startBroker({ extraArgs: secret });
    try {
      const client = newClient(broker.url);
      const opens = new Inbox();
      client.on('open', opens.push);
      await client.connect();
      const id = client.clientId;
      await broker.stop();
      broker = await startBroker({ port: broker.port, extraArgs: secret });
      const [, again] = await opens.waitFor(2, ms(15000), 'reconnect after restart');
      assert.equal(again.clientId, id);
      assert.equal(again.resumed, true);
      assert.deepEqual(await client.request('conformance.echo', 'after restart'), 'after restart');
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await broker.stop();
    }
  });
});
