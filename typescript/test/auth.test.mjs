// First-message authentication (spec §12.3, docs/security.md): the TypeScript client's `auth`
// option against the real Python broker with `authenticate_message` set (test/auth_peer.py).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { WebSocketMQ, WsmqError } from '../dist/index.js';
import { Inbox, ms, startProxy, startPythonScript, withTimeout } from './helpers.mjs';

const clients = [];
function newClient(url, options = {}) {
  const client = new WebSocketMQ(url, { WebSocket, backoff: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('auth option against a broker that authenticates by first message', () => {
  let broker;
  let proxy;
  before(async () => {
    broker = await startPythonScript('auth_peer.py');
    proxy = await startProxy(broker.port);
  });
  after(async () => {
    await proxy?.stop();
    await broker?.stop();
  });

  it('sends a fixed credential in _client.register; the broker takes it as the identity', async () => {
    const client = newClient(broker.url, { auth: { token: 'good-static' } });
    await withTimeout(client.connect(), ms(10000), 'connect');
    const me = await client.request('auth.whoami', null, 5000);
    assert.deepEqual(me, { client: client.clientId, identity: { token: 'good-static' } });
  });

  it('calls an auth function on every connection, so a reconnect sends a fresh token', async () => {
    let calls = 0;
    const auth = async () => {
      calls += 1;
      await new Promise((resolve) => setImmediate(resolve)); // really asynchronous, like a fetch
      return { token: `good-${calls}` };
    };
    const client = newClient(`ws://127.0.0.1:${proxy.port}${broker.path}`, { auth });
    const opens = new Inbox();
    client.on('open', opens.push);
    await withTimeout(client.connect(), ms(10000), 'connect');
    assert.deepEqual((await client.request('auth.whoami', null, 5000)).identity, { token: 'good-1' });
    const id = client.clientId;
    proxy.cut(); // the network drops: the client reconnects by itself
    const [, reopened] = await opens.waitFor(2, ms(10000), 'the reconnection');
    assert.equal(reopened.clientId, id, 'the identity resume still works with auth');
    assert.equal(calls, 2);
    assert.deepEqual((await client.request('auth.whoami', null, 5000)).identity, { token: 'good-2' });
  });

  it('retries with backoff when the auth function fails, reporting UNAUTHENTICATED', async () => {
    let calls = 0;
    const auth = () => {
      calls += 1;
      if (calls === 1) throw new Error('token service unavailable');
      return { token: 'good-retry' };
    };
    const client = newClient(broker.url, { auth });
    const errors = new Inbox();
    client.on('error', errors.push);
    await withTimeout(client.connect(), ms(10000), 'connect after one failed token fetch');
    assert.equal(calls, 2);
    assert.equal(errors.items[0].code, 'UNAUTHENTICATED');
    assert.match(errors.items[0].message, /token service unavailable/);
    assert.deepEqual((await client.request('auth.whoami', null, 5000)).identity, { token: 'good-retry' });
  });

  it('a refused credential rejects connect() with UNAUTHENTICATED and does not retry (1008)', async () => {
    let calls = 0;
    const client = newClient(broker.url, {
      auth: () => {
        calls += 1;
        return { token: 'wrong' };
      },
    });
    const error = await withTimeout(client.connect().catch((e) => e), ms(10000), 'the refusal');
    assert.ok(error instanceof WsmqError);
    assert.equal(error.code, 'UNAUTHENTICATED');
    assert.equal(error.remote, true);
    assert.equal(client.status.state, 'closed');
    assert.equal(client.status.code, 1008);
    assert.equal(calls, 1);
    // Without any credential the broker refuses the same way.
    const bare = newClient(broker.url);
    await assert.rejects(withTimeout(bare.connect(), ms(10000), 'the refusal'), { code: 'UNAUTHENTICATED' });
  });
});
