// Test helpers: a launcher for the real Python broker (waits for its readiness line, never a
// sleep), a scriptable fake peer for faults a real broker cannot produce, a TCP proxy that can cut
// live connections, and bounded waits. Every process or server started here has a stop().
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

export const TS_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = join(TS_ROOT, '..');

/** Timeouts scale with WSMQ_TIMEOUT_FACTOR on slow machines (CI shares 2 cores). */
export const FACTOR = Number(process.env.WSMQ_TIMEOUT_FACTOR ?? '1') || 1;
export const ms = (n) => Math.round(n * FACTOR);

/** The venv python that runs the broker: $WSMQ_PYTHON, else <repo>/.venv/bin/python. */
export function pythonPath() {
  const configured = process.env.WSMQ_PYTHON ?? '../.venv/bin/python';
  return isAbsolute(configured) ? configured : resolve(REPO_ROOT, configured.replace(/^\.\.\//, ''));
}

/** Reject after `timeoutMs` with a message naming what we waited for. */
export function withTimeout(promise, timeoutMs, label) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Poll `predicate` (cheaply, every 10 ms) until true; for state that has no event. */
export async function waitUntil(predicate, timeoutMs, label) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A promise with its resolve/reject exposed. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Collects values and lets a test wait for the n-th one. */
export class Inbox {
  items = [];
  #waiters = [];
  push = (item) => {
    this.items.push(item);
    for (const w of [...this.#waiters]) {
      if (this.items.length >= w.count) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(this.items.slice());
      }
    }
  };
  /** Resolves with all items once there are at least `count`. */
  waitFor(count, timeoutMs = ms(5000), label = `${count} item(s)`) {
    if (this.items.length >= count) return Promise.resolve(this.items.slice());
    const d = deferred();
    this.#waiters.push({ count, resolve: d.resolve });
    return withTimeout(d.promise, timeoutMs, label);
  }
}

/**
 * Spawn `wsmq serve --demo --conformance` on 127.0.0.1 (port 0 = a free one) and wait for its
 * readiness line `wsmq: listening on ws://HOST:PORT/PATH`.
 */
export async function startBroker({ port = 0, extraArgs = [], env = {} } = {}) {
  const python = pythonPath();
  if (!existsSync(python)) throw new Error(`no python at ${python}: run make install or set WSMQ_PYTHON`);
  const args = ['-m', 'websocketmq', 'serve', '--host', '127.0.0.1', '--port', String(port), '--demo', '--conformance', ...extraArgs];
  const proc = spawn(python, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, PYTHONUNBUFFERED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  const lines = createInterface({ input: proc.stdout });
  const ready = new Promise((res, rej) => {
    lines.on('line', (line) => {
      const match = /^wsmq: listening on (ws:\/\/([^:/]+):(\d+)(\/\S*))$/.exec(line.trim());
      if (match) res({ url: match[1], host: match[2], port: Number(match[3]), path: match[4] });
    });
    exited.then(({ code, signal }) => rej(new Error(`broker exited (${code ?? signal}) before ready:\n${stderr}`)));
  });
  let info;
  try {
    info = await withTimeout(ready, ms(20000), 'the broker readiness line');
  } catch (error) {
    proc.kill('SIGKILL');
    throw error;
  }
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), ms(5000));
    await exited;
    clearTimeout(killer);
  };
  return {
    ...info,
    httpUrl: `http://${info.host}:${info.port}`,
    proc,
    exited,
    stop,
    stderr: () => stderr,
  };
}

/**
 * A scriptable fake broker: a `ws` server on 127.0.0.1:0 that records every envelope and hands
 * each connection to `onConnection(peer)`, where the test decides what to answer.
 */
export async function startFakePeer(onConnection = () => {}) {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (protocols) => (protocols.has('wsmq.v1') ? 'wsmq.v1' : false),
  });
  await new Promise((res) => wss.once('listening', res));
  const connections = new Inbox();
  let n = 0;
  wss.on('connection', (ws, request) => {
    n += 1;
    const received = new Inbox();
    const peer = {
      index: n,
      ws,
      request,
      received,
      send(envelope) {
        ws.send(typeof envelope === 'string' ? envelope : JSON.stringify(envelope));
      },
      /** Acknowledge registration with this body (merged over sane defaults). */
      ack(body = {}) {
        peer.send(event('_internal.client.registered', {
          brokerClientID: `fake-${peer.index}`,
          status: 'registered',
          resumeToken: `token-${peer.index}`,
          resumed: false,
          protocol: 'wsmq/1',
          pingInterval: 600000,
          maxMessageSize: 1048576,
          ...body,
        }));
      },
      /** Answer a received request envelope. */
      respond(request, body) {
        const cid = request.header.correlationID;
        peer.send({ header: { messageID: `r-${cid}`, correlationID: cid, type: 'response', topic: cid, timestamp: Date.now() }, body });
      },
      fail(request, code, message = code, details) {
        const cid = request.header.correlationID;
        const error = details === undefined ? { code, message } : { code, message, details };
        peer.send({ header: { messageID: `e-${cid}`, correlationID: cid, type: 'error', topic: cid, timestamp: Date.now() }, body: { error } });
      },
    };
    ws.on('message', (data) => received.push(JSON.parse(String(data))));
    connections.push(peer);
    onConnection(peer);
  });
  return {
    url: `ws://127.0.0.1:${wss.address().port}/ws`,
    connections,
    wss,
    async stop() {
      for (const client of wss.clients) client.terminate();
      await new Promise((res) => wss.close(res));
    },
  };
}

let seq = 0;
/** An event envelope. */
export function event(topic, body, extra = {}) {
  seq += 1;
  return { header: { messageID: `f-${seq}`, type: 'event', topic, timestamp: Date.now(), ...extra }, body };
}
/** A request envelope (correlationID = messageID). */
export function request(topic, body, extra = {}) {
  seq += 1;
  const id = `fr-${seq}`;
  return { header: { messageID: id, correlationID: id, type: 'request', topic, timestamp: Date.now(), ...extra }, body };
}

/**
 * A TCP proxy on 127.0.0.1:0 in front of `targetPort`. `cut()` destroys every live connection
 * (an abrupt network loss, no close frame) while the proxy keeps accepting new ones; `freeze()`
 * stops forwarding on every live connection without closing it (a black-holed link).
 */
export async function startProxy(targetPort) {
  const sockets = new Set();
  const pairs = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    pairs.add([client, upstream]);
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  const port = server.address().port;
  return {
    port,
    cut() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    freeze() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      pairs.clear();
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((res) => server.close(res));
    },
  };
}

/**
 * Run a Python test script (path relative to typescript/test) that prints the readiness line
 * `wsmq: listening on ws://…` and serves until its stdin closes; `stop()` closes stdin (a clean
 * shutdown) and kills it if it has not exited within 5 s.
 */
export async function startPythonScript(script) {
  const proc = spawn(pythonPath(), [join(TS_ROOT, 'test', script)], {
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
  const ready = new Promise((res, rej) => {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const match = /^wsmq: listening on (ws:\/\/([^:/]+):(\d+)(\/\S*))$/.exec(line.trim());
      if (match) res({ url: match[1], host: match[2], port: Number(match[3]), path: match[4] });
    });
    exited.then((code) => rej(new Error(`${script} exited (${code}) before ready:\n${stderr}`)));
  });
  let info;
  try {
    info = await withTimeout(ready, ms(20000), `${script} readiness line`);
  } catch (error) {
    proc.kill('SIGKILL');
    throw error;
  }
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.stdin.end();
    const killer = setTimeout(() => proc.kill('SIGKILL'), ms(5000));
    await exited;
    clearTimeout(killer);
  };
  return { ...info, stop, stderr: () => stderr };
}
