// W3C trace propagation in the TypeScript client (spec §3.2 `traceparent`): the `traceparent`
// option's value goes out on events and requests, and a handler sees the one a message carries,
// through the real Python broker (which forwards the header).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { WebSocketMQ } from '../dist/index.js';
import { deferred, ms, startBroker, withTimeout } from './helpers.mjs';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('traceparent propagation', () => {
  let broker;
  const clients = [];
  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await broker?.stop();
  });

  it('sends the option\'s traceparent and hands the received one to handlers', async () => {
    let current = TRACEPARENT;
    const publisher = new WebSocketMQ(broker.url, { WebSocket, traceparent: () => current });
    const subscriber = new WebSocketMQ(broker.url, { WebSocket });
    clients.push(publisher, subscriber);
    await Promise.all([publisher.connect(), subscriber.connect()]);
    const got = deferred();
    const unsubscribe = subscriber.subscribe('trace.x', (body, ctx) => got.resolve({ body, ctx }));
    await unsubscribe.ready;
    publisher.publish('trace.x', { n: 1 });
    const { body, ctx } = await withTimeout(got.promise, ms(5000), 'event');
    assert.deepEqual(body, { n: 1 });
    assert.equal(ctx.traceparent, TRACEPARENT);
    assert.equal(ctx.header.traceparent, TRACEPARENT);

    current = undefined; // no current span: no header field at all
    const plain = deferred();
    await subscriber.subscribe('trace.y', (_b, c) => plain.resolve(c)).ready;
    publisher.publish('trace.y', null);
    const c2 = await withTimeout(plain.promise, ms(5000), 'event 2');
    assert.equal(c2.traceparent, undefined);
    assert.equal('traceparent' in c2.header, false);
    // requests carry it too (the broker answers normally)
    current = TRACEPARENT;
    assert.deepEqual(await publisher.request('example.echo', { ok: true }, 5000), { ok: true });
  });
});
