// Pacing (issue 18, docs/concepts.md "How our clients pace themselves"): the Pacer's rules on
// plain numbers, then a client keeping 256 requests in flight against the real broker with its
// default limits (never refused, never closed) beside a raw client doing the same, which the
// broker closes with 4029; then a refused request is re-sent, a refused publish reported.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { WebSocketMQ } from '../dist/index.js';
import { PACING, Pacer } from '../dist/pacing.js';
import { Inbox, deferred, ms, startBroker, startFakePeer, withTimeout } from './helpers.mjs';

/** How many messages `pacer` lets go at `now` before it asks to wait. */
function drain(pacer, now, max = 10_000) {
  let n = 0;
  while (n < max && pacer.take(now) === 0) n += 1;
  return n;
}

describe('Pacer (the rules shared with the Python client, on plain numbers)', () => {
  it('starts under the announced limit: 0.9 × rate and burst, less the registration', () => {
    const pacer = new Pacer();
    pacer.configure(200, 400, 0);
    assert.equal(pacer.rate, 180);
    assert.equal(drain(pacer, 0), 359, 'the banked burst, less the token the registration took');
    const wait = pacer.take(0);
    assert.ok(Math.abs(wait - 1000 / 180) < 0.01, `one token takes 1/180 s, got ${wait}`);
    assert.equal(drain(pacer, 1000), 180, 'a second later, one second of tokens');
  });

  it('paces nothing when the broker announces no rate, or 0', () => {
    for (const rate of [undefined, 0]) {
      const pacer = new Pacer();
      pacer.configure(rate, undefined, 0);
      assert.equal(drain(pacer, 0, 50_000), 50_000);
    }
  });

  it('halves once per overshoot (0.25 s), pauses with a doubling backoff, recovers ×1.5 per quiet second', () => {
    const pacer = new Pacer();
    pacer.configure(200, 400, 0);
    assert.equal(pacer.limited(0), true);
    assert.equal(pacer.rate, 90);
    assert.ok(pacer.take(10) > 0, 'paused for the backoff');
    assert.equal(pacer.limited(100), false, 'the same overshoot: counted, not halved again');
    assert.equal(pacer.rate, 90);
    assert.equal(pacer.limited(300), true, 'a new overshoot');
    assert.equal(pacer.rate, 45);
    assert.equal(pacer.take(340), 60, 'backoff doubled to 100 ms');
    pacer.take(1300); // one quiet second after the decrease
    assert.equal(pacer.rate, 67.5);
    pacer.take(60_000);
    assert.equal(pacer.rate, 180, 'back up to the ceiling, no further');
    assert.equal(pacer.limitedCount, 3);
  });

  it('an unlimited broker: halving starts at 10 000/s and returns to unlimited past 16×', () => {
    const pacer = new Pacer();
    pacer.configure(0, 0, 0);
    pacer.limited(0);
    assert.equal(pacer.rate, PACING.unpacedGuess / 2);
    pacer.take(120_000);
    assert.equal(pacer.rate, Number.POSITIVE_INFINITY);
  });

  it('never goes below 1 message/s', () => {
    const pacer = new Pacer();
    pacer.configure(2, 2, 0);
    for (let i = 1; i <= 10; i++) pacer.limited(i * 300);
    assert.equal(pacer.rate, 1);
  });
});

describe('pacing against the real broker with its default limits', () => {
  let broker;
  before(async () => {
    broker = await startBroker(); // message rate 200/s, burst 400, error budget 20 per 10 s
  });
  after(async () => {
    await broker?.stop();
  });

  const TOTAL = 1200;
  const IN_FLIGHT = 256;

  it('a raw client keeping 256 requests in flight is closed with 4029 (what pacing prevents)', async () => {
    const ws = new WebSocket(broker.url, 'wsmq.v1');
    const closed = deferred();
    let sent = 0;
    let limited = 0;
    const send = () => {
      sent += 1;
      const id = `raw-${sent}`;
      ws.send(JSON.stringify({ header: { messageID: id, correlationID: id, type: 'request', topic: 'example.echo', timestamp: Date.now(), ttl: 10000 }, body: { i: sent } }));
    };
    ws.on('message', (data) => {
      const env = JSON.parse(String(data));
      if (env.header.topic === '_internal.client.registered') {
        for (let i = 0; i < IN_FLIGHT; i++) send();
        return;
      }
      if (env.header.type === 'error' && env.body?.error?.code === 'RATE_LIMITED') limited += 1;
      if (sent < TOTAL * 4 && ws.readyState === WebSocket.OPEN) send();
    });
    ws.on('close', (code) => closed.resolve(code));
    ws.on('open', () => ws.send(JSON.stringify({ header: { messageID: 'reg', type: 'event', topic: '_client.register', timestamp: Date.now() }, body: {} })));
    const code = await withTimeout(closed.promise, ms(30000), 'the raw client to be closed');
    assert.equal(code, 4029);
    assert.ok(limited > 0);
  });

  it('our client keeping 256 requests in flight is never refused nor closed, and every request succeeds', async () => {
    const client = new WebSocketMQ(broker.url, { WebSocket, requestTimeoutMs: ms(60000) });
    const errors = new Inbox();
    const closes = new Inbox();
    client.on('error', errors.push);
    client.on('close', closes.push);
    await client.connect();
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        const answer = await client.request('example.echo', { i });
        assert.deepEqual(answer, { i });
        done += 1;
      }
    };
    const started = Date.now();
    await withTimeout(Promise.all(Array.from({ length: IN_FLIGHT }, worker)), ms(60000), `${TOTAL} requests`);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(done, TOTAL);
    assert.deepEqual(errors.items.map((e) => `${e.code}: ${e.message}`), [], 'no RATE_LIMITED, no error at all');
    assert.deepEqual(closes.items, []);
    assert.equal(client.status.state, 'open');
    // Paced, not stalled: the banked burst, then about 0.9 × 200/s (bounded loosely: shared CI).
    assert.ok(seconds > (TOTAL - 400) / 200, `took ${seconds.toFixed(1)} s: faster than the broker allows?`);
    await client.close();
  });
});

describe('refusals that still happen (a limit the broker did not advertise)', () => {
  let fake;
  let onConnection;
  before(async () => {
    fake = await startFakePeer((peer) => onConnection(peer));
  });
  after(async () => {
    await fake.stop();
  });

  it('a request refused for the message rate is re-sent and answered; a refused publish is reported', async () => {
    onConnection = (peer) => {
      let refusedOnce = false;
      peer.ws.on('message', (data) => {
        const env = JSON.parse(String(data));
        if (env.header.topic === '_client.register') peer.ack({ messageRate: 0, messageBurst: 0 });
        else if (env.header.topic === 'svc.echo') {
          if (!refusedOnce) {
            refusedOnce = true;
            peer.fail(env, 'RATE_LIMITED', 'message rate limit exceeded; message dropped', { reason: 'message-rate' });
          } else peer.respond(env, env.body);
        } else if (env.header.topic === 't.event') {
          const id = env.header.messageID;
          peer.send({ header: { messageID: `e-${id}`, correlationID: id, type: 'error', topic: id, timestamp: Date.now() }, body: { error: { code: 'RATE_LIMITED', message: 'dropped', details: { reason: 'message-rate' } } } });
        }
      });
    };
    const client = new WebSocketMQ(fake.url, { WebSocket });
    const errors = new Inbox();
    client.on('error', errors.push);
    await client.connect();
    const started = Date.now();
    assert.equal(await client.request('svc.echo', 'again', ms(5000)), 'again');
    assert.ok(Date.now() - started >= PACING.minBackoffMs - 5, 're-sent after the backoff');
    const peer = fake.connections.items.at(-1);
    assert.equal(peer.received.items.filter((e) => e.header.topic === 'svc.echo').length, 2, 'sent twice');
    assert.deepEqual(errors.items, [], 'the retried request is not an error');
    client.publish('t.event', 1);
    const [reported] = await errors.waitFor(1, ms(5000), 'the refused publish reported');
    assert.equal(reported.code, 'RATE_LIMITED');
    await client.close();
  });
});
