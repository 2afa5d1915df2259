// Interop: TypeScript client ↔ Python broker ↔ Python client, all over real sockets.
// test/interop_peer.py runs the broker (with an `interop.relay` handler that forwards a request
// to a client by ID) and a Python client; this file drives a TypeScript client against it:
// RPC TS→Py and Py→TS, pub/sub TS→Py and Py→TS, plus the TS client's own RPC with the broker.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { WebSocketMQ } from '../dist/index.js';
import { Inbox, REPO_ROOT, TS_ROOT, ms, pythonPath, withTimeout } from './helpers.mjs';

/** Spawn the peer script; resolves with its URL and the Python client's ID. */
async function startPeer() {
  const proc = spawn(pythonPath(), [join(TS_ROOT, 'test', 'interop_peer.py')], {
    cwd: REPO_ROOT,
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise((res) => proc.once('exit', (code, signal) => res(code ?? signal)));
  const info = {};
  const ready = new Promise((res, rej) => {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const url = /^wsmq: listening on (ws:\/\/\S+)$/.exec(line);
      if (url) info.url = url[1];
      const id = /^interop: python client (\S+)$/.exec(line);
      if (id) {
        info.pythonId = id[1];
        res(info);
      }
    });
    exited.then((code) => rej(new Error(`interop peer exited (${code}) before ready:\n${stderr}`)));
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.stdin.end(); // the script's signal to shut down cleanly
    const killer = setTimeout(() => proc.kill('SIGKILL'), ms(5000));
    await exited;
    clearTimeout(killer);
  };
  try {
    await withTimeout(ready, ms(20000), 'the interop peer');
  } catch (error) {
    proc.kill('SIGKILL');
    throw error;
  }
  return { ...info, stop, stderr: () => stderr };
}

describe('TypeScript client ↔ Python broker ↔ Python client', () => {
  let peer;
  let ts;
  before(async () => {
    peer = await startPeer();
    ts = new WebSocketMQ(peer.url, { WebSocket });
    ts.subscribe('interop.ts.mul', ({ a, b }, ctx) => ({ product: a * b, by: 'typescript', topic: ctx.topic }));
    await ts.connect();
  });
  after(async () => {
    await ts?.close();
    await peer?.stop();
  });

  it('RPC TypeScript → Python client (through the broker), answers and errors', async () => {
    const answer = await ts.request('interop.relay', { clientId: peer.pythonId, topic: 'interop.py.add', body: { a: 40, b: 2 } });
    assert.deepEqual(answer, { sum: 42, by: 'python' });
    await assert.rejects(
      ts.request('interop.relay', { clientId: peer.pythonId, topic: 'interop.py.fail', body: {} }),
      (error) => {
        assert.equal(error.code, 'PY_REFUSED');
        assert.equal(error.message, 'python says no');
        return true;
      },
    );
    await assert.rejects(
      ts.request('interop.relay', { clientId: peer.pythonId, topic: 'interop.py.nothing', body: {} }),
      { code: 'NO_HANDLER' },
    );
  });

  it('RPC Python client → TypeScript client (through the broker)', async () => {
    const results = new Inbox();
    await ts.subscribe('interop.result', results.push).ready;
    ts.publish('interop.chat.call_me', { clientId: ts.clientId, a: 6, b: 7 });
    const [result] = await results.waitFor(1, ms(10000), 'the Python client to report its RPC');
    assert.deepEqual(result, { product: { product: 42, by: 'typescript', topic: 'interop.ts.mul' } });
  });

  it('pub/sub both ways: TypeScript publishes, Python receives (with source) and publishes back', async () => {
    const fromPy = new Inbox();
    await ts.subscribe('interop.from_py', (body, ctx) => fromPy.push({ body, source: ctx.source })).ready;
    ts.publish('interop.chat.hello', { text: 'hi python', n: 1 });
    ts.publish('interop.chat.hello.deep', [1, 'two', null]);
    const got = await fromPy.waitFor(2, ms(10000), 'two echoes from the Python client');
    assert.deepEqual(got, [
      { body: { echo: { text: 'hi python', n: 1 }, topic: 'interop.chat.hello', source: ts.clientId }, source: peer.pythonId },
      { body: { echo: [1, 'two', null], topic: 'interop.chat.hello.deep', source: ts.clientId }, source: peer.pythonId },
    ]);
  });
});
