// connect() against real servers on 127.0.0.1 (issue 19): permanent failures (a bad URL, HTTP 4xx
// at the upgrade, a WebSocket server that is not wsmq) reject at once with a typed error saying
// what to check; transient ones (refused, 5xx) are retried until the server is back; calls made
// before connect() fail at once, calls made while connecting wait for the link.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { WebSocketMQ, isWsmqError } from '../dist/index.js';
import { Inbox, ms, startBroker, waitUntil, withTimeout } from './helpers.mjs';

const FAST = { initialDelayMs: 20, maxDelayMs: 100, factor: 2 };

function newClient(url, options = {}) {
  return new WebSocketMQ(url, { WebSocket, backoff: FAST, ...options });
}

/** A WebSocket constructor that sends `origin` in the handshake, as a page from there would. */
function withOrigin(origin) {
  return class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { origin });
    }
  };
}

/** Rejection of `promise` within `timeoutMs`, or a failure saying it did not settle. */
async function rejection(promise, timeoutMs, label) {
  const outcome = await withTimeout(
    promise.then(
      () => ({ ok: true }),
      (error) => ({ ok: false, error }),
    ),
    timeoutMs,
    label,
  );
  assert.equal(outcome.ok, false, `${label} resolved`);
  return outcome.error;
}

/**
 * A TCP server in front of `targetPort` whose first `failures` connections get an HTTP
 * `status` answer to their upgrade (a real response on a real socket); the later ones are
 * piped to the target.
 */
async function startFlakyFront(targetPort, failures, status = 503) {
  let seen = 0;
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => client.destroy());
    seen += 1;
    if (seen <= failures) {
      client.once('data', () => client.end(`HTTP/1.1 ${status} Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`));
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  return {
    port: server.address().port,
    seen: () => seen,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((res) => server.close(res));
    },
  };
}

describe('connect() failures', () => {
  let broker;
  before(async () => {
    broker = await startBroker({ extraArgs: ['--allowed-origin', 'http://allowed.example', '--allowed-origin', 'none'] });
  });
  after(async () => {
    await broker?.stop();
  });

  it('an invalid URL rejects connect() at once (bad-url), no retry', async () => {
    for (const url of ['not a url', 'ftp://127.0.0.1/ws']) {
      const client = newClient(url);
      const errors = new Inbox();
      client.onError = errors.push;
      const error = await rejection(client.connect(), ms(2000), `connect(${url})`);
      assert.ok(isWsmqError(error));
      assert.equal(error.code, 'DISCONNECTED');
      assert.equal(error.details.reason, 'bad-url');
      assert.match(error.message, /invalid WebSocket URL .*expected ws:\/\//);
      assert.equal(client.status.state, 'closed');
      assert.equal(errors.items.length, 1, 'one attempt, no reconnect loop');
    }
  });

  it('HTTP 404 at the upgrade (wrong path) rejects connect() and says to check the path', async () => {
    const client = newClient(`ws://127.0.0.1:${broker.port}/wrong-path`);
    const error = await rejection(client.connect(), ms(3000), 'connect to a wrong path');
    assert.equal(error.code, 'DISCONNECTED');
    assert.deepEqual(error.details, { url: `ws://127.0.0.1:${broker.port}/wrong-path`, reason: 'http-status', status: 404 });
    assert.match(error.message, /HTTP 404 .*check the path/);
    assert.equal(client.status.state, 'closed');
  });

  it('HTTP 403 at the upgrade (Origin refused) rejects connect() and names the Origin allow-list', async () => {
    const client = newClient(broker.url, { WebSocket: withOrigin('http://evil.example') });
    const error = await rejection(client.connect(), ms(3000), 'connect from a refused Origin');
    assert.equal(error.details.reason, 'http-status');
    assert.equal(error.details.status, 403);
    assert.match(error.message, /HTTP 403 .*Origin allow-list/);
    // The same broker takes an allowed Origin: the failure was the Origin, not the broker.
    const allowed = newClient(broker.url, { WebSocket: withOrigin('http://allowed.example') });
    await withTimeout(allowed.connect(), ms(5000), 'connect from an allowed Origin');
    await allowed.close();
  });

  it('a WebSocket server without the wsmq subprotocol is named as such (not-wsmq), no retry', async () => {
    const plain = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => false });
    await new Promise((res) => plain.once('listening', res));
    try {
      const client = newClient(`ws://127.0.0.1:${plain.address().port}/`);
      const error = await rejection(client.connect(), ms(3000), 'connect to a plain WebSocket server');
      assert.equal(error.details.reason, 'not-wsmq');
      assert.match(error.message, /not a wsmq broker/);
    } finally {
      for (const c of plain.clients) c.terminate();
      await new Promise((res) => plain.close(res));
    }
  });

  it('a server that takes the WebSocket but never acknowledges registration: timeout, retried', async () => {
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 }); // picks wsmq.v1, says nothing
    await new Promise((res) => silent.once('listening', res));
    try {
      const client = newClient(`ws://127.0.0.1:${silent.address().port}/ws`, { connectTimeoutMs: 150, maxReconnectAttempts: 1 });
      const error = await rejection(client.connect(), ms(5000), 'connect to a silent server');
      assert.equal(error.details.reason, 'timeout');
      assert.match(error.message, /no registration acknowledgement .* within 150 ms \(is it a wsmq broker\?\)/);
    } finally {
      for (const c of silent.clients) c.terminate();
      await new Promise((res) => silent.close(res));
    }
  });

  it('connection refused is retried (onError says so) and connect() rejects with it when attempts run out', async () => {
    const spare = net.createServer();
    await new Promise((res) => spare.listen(0, '127.0.0.1', res));
    const port = spare.address().port;
    await new Promise((res) => spare.close(res)); // nothing listens there now
    const client = newClient(`ws://127.0.0.1:${port}/ws`, { maxReconnectAttempts: 2 });
    const errors = new Inbox();
    client.onError = errors.push;
    const error = await rejection(client.connect(), ms(5000), 'connect to a closed port');
    assert.equal(error.details.reason, 'refused');
    assert.match(error.message, /refused: is the broker running/);
    assert.equal(errors.items.length, 3, 'the first attempt and 2 retries');
    assert.ok(errors.items.every((e) => e.details.reason === 'refused'));
  });

  it('HTTP 503 is transient: retried until the server answers, then connect() resolves', async () => {
    const front = await startFlakyFront(broker.port, 2, 503);
    try {
      const client = newClient(`ws://127.0.0.1:${front.port}/ws`);
      const errors = new Inbox();
      client.onError = errors.push;
      await withTimeout(client.connect(), ms(5000), 'connect through two 503s');
      assert.equal(front.seen(), 3);
      assert.deepEqual(errors.items.map((e) => [e.details.reason, e.details.status]), [['http-status', 503], ['http-status', 503]]);
      assert.deepEqual(await client.request('example.echo', { n: 1 }, ms(5000)), { n: 1 });
      await client.close();
    } finally {
      await front.stop();
    }
  });

  it('request() and publish() before connect() fail at once with "not connected"; while connecting they wait', async () => {
    const client = newClient(broker.url);
    const started = Date.now();
    const early = await rejection(client.request('example.echo', {}), ms(500), 'request before connect()');
    assert.ok(Date.now() - started < 500, 'at once, not after a timeout');
    assert.equal(early.code, 'DISCONNECTED');
    assert.equal(early.details.reason, 'not-connected');
    assert.match(early.message, /not connected: call connect\(\) first/);
    assert.throws(() => client.publish('demo.chat', {}), (e) => e.code === 'DISCONNECTED' && /not connected/.test(e.message));
    const connecting = client.connect();
    assert.equal(client.status.state, 'connecting');
    const queued = client.request('example.echo', { queued: true }, ms(5000)); // answered once open
    await withTimeout(connecting, ms(5000), 'connect');
    assert.deepEqual(await queued, { queued: true });
    await client.close();
    const late = await rejection(client.request('example.echo', {}), ms(500), 'request after close()');
    assert.match(late.message, /client is closed: call connect\(\) first/);
  });

  it('after a link was open, a 404 on reconnect is retried (a deploy in progress), not fatal', async () => {
    const front = await startFlakyFront(broker.port, 0);
    const client = newClient(`ws://127.0.0.1:${front.port}/ws`);
    await withTimeout(client.connect(), ms(5000), 'connect');
    await front.stop();
    // The port now answers 404 to every upgrade (a server in the middle of a deploy).
    const fourOhFour = net.createServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.once('data', () => socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
    });
    await new Promise((res) => fourOhFour.listen(front.port, '127.0.0.1', res));
    try {
      const errors = new Inbox();
      client.onError = errors.push;
      await errors.waitFor(2, ms(5000), 'two failed reconnects');
      await waitUntil(() => client.status.state === 'reconnecting', ms(2000), 'still reconnecting');
      assert.ok(errors.items.some((e) => e.details?.status === 404));
    } finally {
      await client.close();
      await new Promise((res) => fourOhFour.close(res));
    }
  });
});
