// The client's sans-I/O pieces on their own, with plain values (no socket): the reconnect table
// of lifecycle.ts and the inbound classification of dispatch.ts. The live behaviour they drive is
// tested over real sockets in fake-peer.test.mjs and client.test.mjs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify } from '../dist/dispatch.js';
import { NO_RECONNECT_CODES, Reconnection } from '../dist/lifecycle.js';

const policy = (overrides = {}) => ({
  reconnect: true,
  maxReconnectAttempts: Number.POSITIVE_INFINITY,
  backoff: { initialDelayMs: 100, maxDelayMs: 10_000, factor: 2 },
  random: () => 1, // no jitter: delays are the exact backoff steps
  ...overrides,
});
const end = (code) => ({ code, reason: '', wasClean: code === 1000 });

describe('lifecycle: what follows a lost socket', () => {
  it('reconnects a never-registered socket with growing backoff, then gives up after maxReconnectAttempts', () => {
    const r = new Reconnection(policy({ maxReconnectAttempts: 2 }));
    r.start();
    const steps = [];
    for (let i = 0; i < 3; i++) {
      r.nextAttempt();
      steps.push(r.afterLoss(end(1006), false));
    }
    assert.deepEqual(steps, [
      { kind: 'reconnect', attempt: 2, delayMs: 200 },
      { kind: 'reconnect', attempt: 3, delayMs: 400 },
      { kind: 'close' },
    ]);
  });

  it('starts afresh after a registered link is lost, and adds a backoff step per 4029 in a row', () => {
    const r = new Reconnection(policy());
    r.start();
    const lose = (code) => {
      r.nextAttempt();
      r.registered();
      return r.afterLoss(end(code), true);
    };
    assert.deepEqual(lose(1006), { kind: 'reconnect', attempt: 1, delayMs: 100 });
    assert.deepEqual(lose(4029), { kind: 'reconnect', attempt: 1, delayMs: 200 });
    assert.deepEqual(lose(4029), { kind: 'reconnect', attempt: 1, delayMs: 400 });
    assert.deepEqual(lose(1011), { kind: 'reconnect', attempt: 1, delayMs: 100 }, 'any other code resets the penalty');
  });

  it('never reconnects after close(), with reconnect off, or after 1000/1008/4001/4009 (spec §12.2)', () => {
    assert.deepEqual([...NO_RECONNECT_CODES].sort(), [1000, 1008, 4001, 4009]);
    for (const code of NO_RECONNECT_CODES) {
      const r = new Reconnection(policy());
      r.nextAttempt();
      assert.deepEqual(r.afterLoss(end(code), true), { kind: 'close' }, `code ${code}`);
    }
    const closing = new Reconnection(policy());
    closing.closing = true;
    assert.deepEqual(closing.afterLoss(end(1006), true), { kind: 'close' });
    assert.deepEqual(new Reconnection(policy({ reconnect: false })).afterLoss(end(1006), true), { kind: 'close' });
  });
});

describe('dispatch: what an inbound frame is', () => {
  const header = (fields) => ({ messageID: 'm-1', timestamp: 1, ...fields });
  const frame = (h, body) => JSON.stringify({ header: header(h), body });

  it('classifies answers, requests, events and the two control events', () => {
    assert.equal(classify(frame({ type: 'response', topic: 'c-1', correlationID: 'c-1' }, 1)).kind, 'answer');
    assert.equal(classify(frame({ type: 'error', topic: 'c-1', correlationID: 'c-1' }, { error: { code: 'X', message: 'x' } })).kind, 'answer');
    assert.equal(classify(frame({ type: 'request', topic: 'a.b', correlationID: 'r-1' }, null)).kind, 'request');
    assert.equal(classify(frame({ type: 'event', topic: 'a.b' }, null)).kind, 'event');
    const ack = { brokerClientID: 'cl-1', status: 'registered', resumeToken: 't', resumed: false, protocol: 'wsmq/1' };
    assert.deepEqual(classify(frame({ type: 'event', topic: '_internal.client.registered' }, ack)), { kind: 'registered', ack });
    const notice = { correlationID: 'r-1', reason: 'TIMEOUT' };
    assert.deepEqual(classify(frame({ type: 'event', topic: '_internal.cancel' }, notice)), { kind: 'cancel', notice });
  });

  it('turns broken frames and malformed control bodies into a reason, never an exception', () => {
    assert.equal(classify('not json').kind, 'bad');
    assert.equal(classify('[]').kind, 'bad');
    assert.deepEqual(classify(frame({ type: 'event', topic: '_internal.client.registered' }, { resumeToken: 1 })), {
      kind: 'bad',
      problem: 'malformed registration acknowledgement',
    });
    assert.deepEqual(classify(frame({ type: 'event', topic: '_internal.cancel' }, { nope: true })), { kind: 'ignored' });
  });
});
