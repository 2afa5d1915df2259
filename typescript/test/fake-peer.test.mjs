// Client behaviour against a scripted fake peer: the cheap layer under the live tests, and the
// place for faults a real broker cannot produce on demand (silent ping loss, 4009, junk frames).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { WebSocketMQ, WsmqError, backoffDelay, topicMatches, topicProblem } from '../dist/index.js';
import { Inbox, REPO_ROOT, deferred, event, ms, request, startFakePeer, withTimeout } from './helpers.mjs';

const clients = [];
function newClient(url, options = {}) {
  const client = new WebSocketMQ(url, { WebSocket, backoff: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A fake broker that acknowledges registration and answers `_client.subscribe` / `_client.ping`. */
function politeBroker(peer, ackBody = {}) {
  peer.received.waitFor(1, ms(5000), 'register').then(([register]) => {
    assert.equal(register.header.topic, '_client.register');
    peer.ack(ackBody);
  });
  peer.ws.on('message', (data) => {
    const env = JSON.parse(String(data));
    if (env.header.type !== 'request') return;
    if (env.header.topic === '_client.subscribe') peer.respond(env, { topic: env.body.topic, subscribed: true });
    if (env.header.topic === '_client.unsubscribe') peer.respond(env, { topic: env.body.topic, unsubscribed: true });
  });
}

describe('pure helpers', () => {
  it('matches topics with NATS semantics', () => {
    const cases = [
      ['a.b', 'a.b', true],
      ['a.*', 'a.b', true],
      ['a.*', 'a.b.c', false],
      ['a.>', 'a.b.c', true],
      ['a.>', 'a', false],
      ['*.b', 'a.b', true],
      ['>', 'x', true],
      ['a.b', 'a.c', false],
    ];
    for (const [pattern, topic, expected] of cases) {
      assert.equal(topicMatches(pattern, topic), expected, `${pattern} vs ${topic}`);
    }
  });

  it('validates topics and patterns', () => {
    assert.equal(topicProblem('a.b', false), null);
    assert.match(topicProblem('a.*', false), /wildcards/);
    assert.equal(topicProblem('a.*.>', true), null);
    assert.match(topicProblem('a.>.b', true), /last token/);
    assert.match(topicProblem('a..b', true), /empty token/);
    assert.match(topicProblem('a b', false), /bad token/);
  });

  it('grows the reconnect delay exponentially, capped, jittered into [d/2, d]', () => {
    const opts = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2 };
    assert.deepEqual([1, 2, 3, 4, 5, 9].map((a) => backoffDelay(a, opts, () => 1)), [100, 200, 400, 800, 1000, 1000]);
    assert.deepEqual([1, 2, 3].map((a) => backoffDelay(a, opts, () => 0)), [50, 100, 200]);
  });

  it('refuses to start without a WebSocket implementation, naming the fix', () => {
    assert.equal(globalThis.WebSocket, undefined, 'Node 20 has no global WebSocket');
    assert.throws(() => new WebSocketMQ('ws://127.0.0.1:1/ws'), /ws' package/);
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

  it('registers first, fires onOpen after the ack, then flushes requests made before open', async () => {
    onConnection = (peer) => {
      peer.received.waitFor(2, ms(5000), 'register + request').then(([, req]) => peer.respond(req, { ok: 1 }));
    };
    const client = newClient(fake.url, { pageSessionID: 'page-1' });
    const opened = deferred();
    client.onOpen = opened.resolve;
    client.connect();
    const answer = client.request('svc.hello', { hi: true }, 2000); // while connecting: queued
    const peer = (await fake.connections.waitFor(1)).at(-1);
    assert.equal(peer.ws.protocol, 'wsmq.v1');
    const [register] = await peer.received.waitFor(1);
    assert.equal(register.header.topic, '_client.register');
    assert.equal(register.header.type, 'event');
    assert.deepEqual(register.body, { pageSessionID: 'page-1' });
    assert.equal(peer.received.items.length, 1, 'nothing but register before the ack');
    peer.ack({ brokerClientID: 'c-42' });
    await withTimeout(opened.promise, ms(5000), 'onOpen');
    assert.equal(client.clientId, 'c-42');
    assert.deepEqual(client.status, { state: 'open', clientId: 'c-42', resumed: false });
    assert.deepEqual(await answer, { ok: 1 });
    const req = peer.received.items[1];
    assert.equal(req.header.type, 'request');
    assert.equal(req.header.correlationID, req.header.messageID);
    assert.equal(req.header.ttl, 2000);
  });

  it('rejects with a typed remote error, and on timeout rejects TIMEOUT and sends _client.cancel', async () => {
    onConnection = (peer) => {
      politeBroker(peer);
      peer.ws.on('message', (data) => {
        const env = JSON.parse(String(data));
        if (env.header.topic === 'svc.fail') peer.fail(env, 'OUT_OF_STOCK', 'none left', { sku: 7 });
      });
    };
    const client = newClient(fake.url);
    await client.connect();
    const peer = (await fake.connections.waitFor(1)).at(-1);
    const failure = await client.request('svc.fail', {}).catch((e) => e);
    assert.ok(failure instanceof WsmqError);
    assert.equal(failure.code, 'OUT_OF_STOCK');
    assert.equal(failure.message, 'none left');
    assert.deepEqual(failure.details, { sku: 7 });
    assert.equal(failure.remote, true);

    const timedOut = await client.request('svc.silent', {}, 50).catch((e) => e);
    assert.equal(timedOut.code, 'TIMEOUT');
    assert.equal(timedOut.remote, false);
    const items = await peer.received.waitFor(4, ms(5000), '_client.cancel');
    const cancel = items.find((e) => e.header.topic === '_client.cancel');
    assert.deepEqual(cancel.body, { correlationID: timedOut.correlationID });
    // A late answer to the cancelled request is dropped, and the client keeps working.
    const silent = items.find((e) => e.header.topic === 'svc.silent');
    peer.respond(silent, 'too late');
    await assert.rejects(client.request('svc.fail', {}), { code: 'OUT_OF_STOCK' });
  });

  it('answers server→client requests: return value, thrown code, NO_HANDLER, and honours _internal.cancel', async () => {
    onConnection = (peer) => politeBroker(peer);
    const client = newClient(fake.url);
    const aborted = deferred();
    client.subscribe('client.add', async ({ a, b }, ctx) => {
      assert.equal(ctx.type, 'request');
      return { sum: a + b, topic: ctx.topic };
    });
    client.subscribe('client.fail', () => {
      throw Object.assign(new Error('nope'), { code: 'NOT_ALLOWED' });
    });
    client.subscribe('client.crash', () => {
      throw new Error('boom');
    });
    client.subscribe('client.slow', (_body, ctx) =>
      new Promise((resolve) => {
        ctx.signal.addEventListener('abort', () => {
          aborted.resolve(ctx.signal.reason);
          resolve('finished after cancel');
        });
      }),
    );
    await client.connect();
    const peer = (await fake.connections.waitFor(1)).at(-1);
    const answers = new Inbox();
    peer.ws.on('message', (data) => {
      const env = JSON.parse(String(data));
      if (env.header.type === 'response' || env.header.type === 'error') answers.push(env);
    });
    const add = request('client.add', { a: 2, b: 3 });
    const fail = request('client.fail', {});
    const crash = request('client.crash', {});
    const none = request('client.unknown', {});
    const slow = request('client.slow', {});
    for (const env of [add, fail, crash, none, slow]) peer.send(env);
    const got = await answers.waitFor(4);
    const byCid = new Map(got.map((e) => [e.header.correlationID, e]));
    const okAnswer = byCid.get(add.header.correlationID);
    assert.equal(okAnswer.header.type, 'response');
    assert.equal(okAnswer.header.topic, add.header.correlationID);
    assert.deepEqual(okAnswer.body, { sum: 5, topic: 'client.add' });
    assert.equal(byCid.get(fail.header.correlationID).body.error.code, 'NOT_ALLOWED');
    assert.equal(byCid.get(crash.header.correlationID).body.error.code, 'HANDLER_ERROR');
    assert.equal(byCid.get(crash.header.correlationID).body.error.message, 'boom');
    assert.equal(byCid.get(none.header.correlationID).body.error.code, 'NO_HANDLER');

    peer.send(event('_internal.cancel', { correlationID: slow.header.correlationID, reason: 'TIMEOUT' }));
    const reason = await withTimeout(aborted.promise, ms(5000), 'handler abort');
    assert.equal(reason.code, 'CANCELLED');
    // Ordering proves absence: the next answer is for a later request, never for the cancelled one.
    const marker = request('client.add', { a: 1, b: 1 });
    peer.send(marker);
    const after = await answers.waitFor(5);
    assert.equal(after[4].header.correlationID, marker.header.correlationID);
  });

  it('routes events to every matching handler (wildcards matched locally) and unsubscribes', async () => {
    onConnection = (peer) => politeBroker(peer);
    const client = newClient(fake.url);
    const star = new Inbox();
    const rest = new Inbox();
    const offStar = client.subscribe('news.*', (body, ctx) => star.push([ctx.topic, body, ctx.source]));
    client.subscribe('news.>', (body, ctx) => rest.push([ctx.topic, body]));
    await client.connect();
    await offStar.ready;
    const peer = (await fake.connections.waitFor(1)).at(-1);
    const subs = peer.received.items.filter((e) => e.header.topic === '_client.subscribe').map((e) => e.body.topic);
    assert.deepEqual(subs.sort(), ['news.*', 'news.>']);
    peer.send(event('news.sport', { n: 1 }, { source: 'other-client' }));
    peer.send(event('news.sport.tennis', { n: 2 }));
    await rest.waitFor(2);
    assert.deepEqual(star.items, [['news.sport', { n: 1 }, 'other-client']]);
    offStar();
    const unsub = await peer.received.waitFor(4, ms(5000), '_client.unsubscribe');
    assert.deepEqual(unsub.at(-1).body, { topic: 'news.*' });
    peer.send(event('news.weather', { n: 3 }));
    await rest.waitFor(3);
    assert.equal(star.items.length, 1);
  });

  it('rejects requests in flight with DISCONNECTED at once, reconnects with its identity and resubscribes', async () => {
    const base = fake.connections.items.length;
    onConnection = (peer) =>
      politeBroker(peer, { brokerClientID: 'same-id', resumeToken: `tok-${peer.index}`, resumed: peer.index > base + 1 });
    const client = newClient(fake.url);
    const statuses = [];
    client.on('status', (s) => statuses.push(s.state));
    const closes = new Inbox();
    const opens = new Inbox();
    client.onClose = closes.push;
    client.onOpen = opens.push;
    client.subscribe('room.1', () => {});
    await client.connect();
    const first = (await fake.connections.waitFor(1)).at(-1);
    const inFlight = client.request('svc.never', {}, 60_000);
    await first.received.waitFor(3, ms(5000), 'request on the wire');
    first.ws.terminate();
    const error = await withTimeout(inFlight.catch((e) => e), ms(2000), 'DISCONNECTED rejection');
    assert.equal(error.code, 'DISCONNECTED');
    const [closeInfo] = await closes.waitFor(1);
    assert.equal(closeInfo.willReconnect, true);
    const second = (await fake.connections.waitFor(base + 2, ms(5000), 'a reconnection')).at(-1);
    assert.notEqual(second, first);
    const [register] = await second.received.waitFor(1);
    assert.deepEqual(register.body, { brokerClientID: 'same-id', resumeToken: `tok-${first.index}` });
    const [, reopened] = await opens.waitFor(2);
    assert.equal(reopened.resumed, true);
    const resub = await second.received.waitFor(2);
    assert.deepEqual(resub[1].body, { topic: 'room.1' });
    assert.ok(statuses.includes('reconnecting'));
  });

  it('drops a connection whose keepalive ping goes unanswered, then reconnects', async () => {
    const pings = new Inbox();
    onConnection = (peer) => {
      politeBroker(peer, { pingInterval: 60 });
      peer.ws.on('message', (data) => {
        const env = JSON.parse(String(data));
        if (env.header.topic !== '_client.ping') return;
        pings.push(peer.index);
        if (peer.index > 1 + base) peer.respond(env, { timestamp: Date.now() }); // only later links answer
      });
    };
    const base = fake.connections.items.length;
    const client = newClient(fake.url);
    const errors = new Inbox();
    client.onError = errors.push;
    await client.connect();
    await fake.connections.waitFor(base + 2, ms(5000), 'a second connection after the missed ping');
    const dropped = errors.items.find((e) => /keepalive/.test(e.message));
    assert.ok(dropped, 'reports why it dropped the link');
    await pings.waitFor(pings.items.length + 2, ms(5000), 'pings answered on the new link');
    assert.equal(fake.connections.items.length, base + 2, 'answered pings keep the link');
  });

  it('does not reconnect when superseded (4009) and reports closed', async () => {
    onConnection = (peer) => politeBroker(peer);
    const client = newClient(fake.url);
    const closed = deferred();
    client.onClose = closed.resolve;
    await client.connect();
    const peer = fake.connections.items.at(-1);
    const count = fake.connections.items.length;
    peer.ws.close(4009, 'superseded');
    const info = await withTimeout(closed.promise, ms(5000), 'onClose');
    assert.equal(info.code, 4009);
    assert.equal(info.willReconnect, false);
    assert.equal(client.status.state, 'closed');
    assert.throws(() => client.publish('a.b', {}), { code: 'DISCONNECTED' });
    assert.equal(fake.connections.items.length, count);
  });

  it('reports junk frames and keeps going', async () => {
    onConnection = (peer) => politeBroker(peer);
    const client = newClient(fake.url);
    const errors = new Inbox();
    client.on('error', errors.push);
    const got = new Inbox();
    client.subscribe('t.x', got.push);
    await client.connect();
    const peer = fake.connections.items.at(-1);
    peer.send('{not json');
    peer.send(JSON.stringify({ header: { type: 'event' } }));
    peer.send(event('t.x', 'still fine'));
    await got.waitFor(1);
    assert.deepEqual(errors.items.map((e) => e.code), ['BAD_MESSAGE', 'BAD_MESSAGE']);
    assert.throws(() => client.publish('t.*', 1), { code: 'BAD_TOPIC' });
    await assert.rejects(client.request('', 1), { code: 'BAD_TOPIC' });
  });

  it('refuses messages above the broker\'s maxMessageSize locally (TOO_LARGE), answers included', async () => {
    onConnection = (peer) => politeBroker(peer, { maxMessageSize: 300 });
    const client = newClient(fake.url);
    client.subscribe('client.big', () => 'x'.repeat(400));
    await client.connect();
    const peer = fake.connections.items.at(-1);
    assert.throws(() => client.publish('t.big', 'x'.repeat(400)), { code: 'TOO_LARGE' });
    await assert.rejects(client.request('t.big', 'x'.repeat(400)), { code: 'TOO_LARGE' });
    const answers = new Inbox();
    peer.ws.on('message', (data) => {
      const env = JSON.parse(String(data));
      if (env.header.type === 'error' || env.header.type === 'response') answers.push(env);
    });
    const big = request('client.big', {});
    peer.send(big);
    const [answer] = await answers.waitFor(1);
    assert.equal(answer.header.type, 'error');
    assert.equal(answer.header.correlationID, big.header.correlationID);
    assert.equal(answer.body.error.code, 'TOO_LARGE');
  });

  it('close() rejects pending requests with DISCONNECTED and stays closed', async () => {
    onConnection = (peer) => politeBroker(peer);
    const client = newClient(fake.url);
    await client.connect();
    const pending = client.request('svc.never', {}, 60_000);
    await client.close();
    await assert.rejects(pending, { code: 'DISCONNECTED' });
    assert.equal(client.status.state, 'closed');
    await assert.rejects(client.request('svc.x', {}), { code: 'DISCONNECTED' });
  });

  // Issue 11 / spec §11.1: a seed client whose handler threw answers {"error": {"message"}} with
  // no code; a receiver reads it as HANDLER_ERROR with that message (here: our client receiving
  // one, as a seed broker or a relay would hand it on).
  it('reads an error answer without code (the seed shape) as HANDLER_ERROR with its message', async () => {
    onConnection = (peer) => {
      politeBroker(peer);
      peer.ws.on('message', (data) => {
        const env = JSON.parse(String(data));
        if (env.header.topic !== 'svc.seed') return;
        const cid = env.header.correlationID;
        peer.send({ header: { messageID: `e-${cid}`, correlationID: cid, type: 'error', topic: cid, timestamp: Date.now() }, body: { error: { message: 'seed handler threw' } } });
      });
    };
    const client = newClient(fake.url);
    const errors = new Inbox();
    client.on('error', errors.push);
    await client.connect();
    const started = Date.now();
    const error = await client.request('svc.seed', {}, ms(5000)).catch((e) => e);
    assert.ok(error instanceof WsmqError);
    assert.equal(error.code, 'HANDLER_ERROR');
    assert.equal(error.message, 'seed handler threw');
    assert.equal(error.remote, true);
    assert.ok(Date.now() - started < ms(1000), 'settled by the answer, not by the timeout');
    assert.deepEqual(errors.items, [], 'not reported as a broken frame');
  });

  it('bounds the queue while not connected: RATE_LIMITED at once beyond maxQueuedMessages', async () => {
    onConnection = (peer) => {
      politeBroker(peer);
      peer.ws.on('message', (data) => {
        const env = JSON.parse(String(data));
        if (env.header.topic === 'svc.echo') peer.respond(env, env.body);
      });
    };
    const client = newClient(fake.url, { maxQueuedMessages: 3 });
    const connected = client.connect();
    client.publish('t.one', 1); // connecting, not open yet: queued
    const answer = client.request('svc.echo', 'queued', 5000);
    client.publish('t.two', 2);
    const full = (() => {
      try {
        client.publish('t.three', 3);
      } catch (error) {
        return error;
      }
      return null;
    })();
    assert.ok(full instanceof WsmqError, 'publish throws when the queue is full');
    assert.equal(full.code, 'RATE_LIMITED');
    assert.equal(full.remote, false);
    assert.deepEqual(full.details, { reason: 'client-queue-full', limit: 3 });
    const refused = await withTimeout(client.request('svc.echo', 'no room').catch((e) => e), ms(1000), 'immediate rejection');
    assert.equal(refused.code, 'RATE_LIMITED');
    // A subscription made meanwhile is not a queued message: it still goes out on open.
    const off = client.subscribe('t.sub', () => {});
    await connected;
    await off.ready;
    assert.equal(await answer, 'queued');
    const peer = fake.connections.items.at(-1);
    const sent = peer.received.items.map((e) => e.header.topic);
    assert.deepEqual(sent.filter((t) => t.startsWith('t.') || t === 'svc.echo'), ['t.one', 'svc.echo', 't.two']);
    // Connected, the bound does not apply: nothing is queued.
    const count = peer.received.items.length;
    for (let i = 0; i < 10; i++) client.publish('t.many', i);
    await peer.received.waitFor(count + 10, ms(5000), 'ten publishes');
  });

  it('makes subscribing the same handler twice idempotent, also from onOpen across a reconnect', async () => {
    onConnection = (peer) => politeBroker(peer);
    const base = fake.connections.items.length;
    const client = newClient(fake.url);
    const got = new Inbox();
    const handler = (body) => got.push(body);
    const other = new Inbox();
    const opens = new Inbox();
    const offs = [];
    client.onOpen = (info) => {
      // The seed's pattern: (re)subscribe in onOpen, which runs on every reconnect.
      offs.push(client.subscribe('room.*', handler));
      opens.push(info);
    };
    await client.connect();
    await opens.waitFor(1);
    assert.equal(client.subscribe('room.*', handler), offs[0], 'same function, same pattern: same unsubscribe');
    client.subscribe('room.*', (body) => other.push(body)); // a different function is a second handler
    const first = fake.connections.items.at(-1);
    await offs[0].ready;
    first.send(event('room.a', 1));
    await other.waitFor(1);
    assert.deepEqual(got.items, [1]);

    first.ws.terminate();
    await opens.waitFor(2, ms(5000), 'onOpen after the reconnect');
    assert.equal(offs[1], offs[0]);
    const second = fake.connections.items.at(-1);
    assert.equal(fake.connections.items.length, base + 2);
    await waitForSubscribed(second, 'room.*');
    second.send(event('room.b', 2));
    await other.waitFor(2);
    assert.deepEqual(got.items, [1, 2], 'one delivery per event, not one per reconnect');
    const subs = second.received.items.filter((e) => e.header.topic === '_client.subscribe');
    assert.equal(subs.length, 1, 'the pattern is subscribed once per connection');

    offs[0](); // the one unsubscribe removes the handler; the other function stays
    second.send(event('room.c', 3));
    await other.waitFor(3);
    assert.deepEqual(got.items, [1, 2]);
    const again = client.subscribe('room.*', handler);
    assert.notEqual(again, offs[0], 'after unsubscribing, subscribing is new again');
  });

  it('meets the broker-to-client semantic vectors (spec/vectors/semantics.json)', async () => {
    const file = JSON.parse(readFileSync(join(REPO_ROOT, 'spec', 'vectors', 'semantics.json'), 'utf8'));
    const vectors = file.vectors.filter((v) => v.direction === 'broker-to-client');
    assert.deepEqual(vectors.map((v) => v.id), ['sem-036', 'sem-037', 'sem-038', 'sem-039']);
    onConnection = (peer) => politeBroker(peer);
    const client = newClient(fake.url);
    client.subscribe('vector.marker', () => 'marker');
    client.on('error', () => {}); // the invalid frame is reported locally, which is fine
    await client.connect();
    const peer = fake.connections.items.at(-1);
    const answers = new Inbox();
    peer.ws.on('message', (data) => {
      const env = JSON.parse(String(data));
      if (env.header.type !== 'event' && !env.header.topic.startsWith('_client.')) answers.push(env);
    });
    for (const vector of vectors) {
      answers.items.length = 0;
      const marker = request('vector.marker', {});
      const isMarker = (e) => e.header.correlationID === marker.header.correlationID;
      peer.send(vector.frame);
      peer.send(marker); // answered strictly after whatever the vector frame caused
      let got = await answers.waitFor(1, ms(5000), `${vector.id} then the marker`);
      while (!got.some(isMarker)) got = await answers.waitFor(got.length + 1, ms(5000), `the marker after ${vector.id}`);
      const caused = got.slice(0, got.findIndex(isMarker));
      if (vector.expect.error !== undefined) {
        const sent = JSON.parse(vector.frame);
        assert.equal(caused.length, 1, `${vector.id}: one answer`);
        assert.equal(caused[0].header.type, 'error');
        assert.equal(caused[0].header.correlationID, sent.header.correlationID);
        assert.equal(caused[0].header.topic, sent.header.correlationID);
        assert.equal(caused[0].body.error.code, vector.expect.error);
      } else {
        assert.equal(vector.expect.drop, true);
        assert.deepEqual(caused, [], `${vector.id}: dropped without an answer`);
      }
    }
    assert.equal(client.status.state, 'open', 'still connected');
  });
});

/** Wait until `peer` has received `_client.subscribe` for `pattern` (the fake answers it). */
function waitForSubscribed(peer, pattern) {
  const find = () => peer.received.items.some((e) => e.header.topic === '_client.subscribe' && e.body.topic === pattern);
  return withTimeout(
    (async () => {
      while (!find()) await peer.received.waitFor(peer.received.items.length + 1);
    })(),
    ms(5000),
    `_client.subscribe ${pattern}`,
  );
}
