/**
 * Load generator of the `wsmq-tsclient` bench row: our TypeScript client (typescript/src) under
 * Node, driving the same broker as `wsmq-pyclient` and `wsmq-wsclient` (issue 18: clients
 * measured as users run them).
 *
 * `node load.cjs '<json spec>'`, the same spec and the same JSON lines as `python -m bench.load`
 * (bench/load.py): roles `rpc` (`client.request("bench.echo", …)` with `window` in flight),
 * `s2c` (a `bench.echo` handler, then `client.request("bench.s2c", …)`: the broker times its
 * server→client requests, bench/servers/wsmq_server.py), `sub` and `pub` (fan-out). It prints
 * `{"event": "ready", …}` once its connections are set up and `{"event": "result", …}` at the
 * end; `pub` then holds its connection until stdin reaches EOF.
 *
 * Built at run time by bench/nodeclient.py (esbuild bundles this file, the client's sources and
 * `ws`, since Node 20 has no global WebSocket) into a temporary directory: nothing built is
 * committed. Topics and the body filler come in the spec (`wire`, from bench/wire.py), so the
 * frames are the Python rows' frames.
 *
 * Client CPU is `process.cpuUsage()` (user + system, the whole process) over the measured
 * window, divided by the calls in it: the same definition as bench/load.py's `ClientCpu`.
 */
import WebSocket from 'ws';
import { WebSocketMQ } from '../../typescript/src/index.js';

interface Wire {
  echo_topic: string;
  s2c_topic: string;
  fanout_topic: string;
  body_text: string;
}

interface Spec {
  role: string;
  url: string;
  urls?: string[];
  window?: number;
  duration?: number;
  warmup?: number;
  conns?: number;
  count?: number;
  idle_timeout?: number;
  max_seconds?: number;
  wire: Wire;
}

type Report = Record<string, unknown>;

interface Body {
  seq: number;
  text: string;
}

/** Seconds on CLOCK_MONOTONIC (libuv's hrtime), the clock Python's `time.monotonic()` reads: the
 * harness subtracts a publisher's `t0` from subscribers' `t_last` across processes. */
function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** CPU seconds (user + system) this process has used so far. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** One JSON line to the harness, shaped like Python's `json.dumps` (`{"event": "…", …}`): the
 * harness (bench/procs.py `Proc.event`) matches that exact prefix. */
function emit(event: string, fields: Report): void {
  const rest = JSON.stringify(fields);
  const line = `{"event": ${JSON.stringify(event)}` + (rest === '{}' ? '}' : `, ${rest.slice(1)}`);
  process.stdout.write(line + '\n');
}

/** Client CPU over the measured window (calls started `warmup` s after creation onwards). */
class ClientCpu {
  private readonly tMeasure: number;
  private cpu0: number | null = null;
  private ops = 0;

  constructor(warmup: number) {
    this.tMeasure = now() + warmup;
  }

  /** Account one call (a request sent, or a server→client request answered). */
  op(): void {
    if (now() < this.tMeasure) return;
    if (this.cpu0 === null) this.cpu0 = cpuSeconds();
    this.ops += 1;
  }

  result(): Report {
    const cpu = this.cpu0 === null ? 0 : cpuSeconds() - this.cpu0;
    return {
      client_cpu_s: cpu,
      client_ops: this.ops,
      client_cpu_us_per_op: this.ops > 0 ? (cpu / this.ops) * 1e6 : null,
    };
  }
}

/** p50/p99 in ms of round-trip times in seconds, indexed like bench/wire.py `latency_stats`. */
function latencyStats(latencies: number[]): Report {
  if (latencies.length === 0) return { p50_ms: null, p99_ms: null };
  const s = [...latencies].sort((a, b) => a - b);
  const n = s.length;
  const at = (q: number): number => (s[Math.min(n - 1, Math.floor(n * q))] ?? 0) * 1000;
  return { p50_ms: at(0.5), p99_ms: at(0.99) };
}

/** `window` loops awaiting `call(n)` back to back: bench/wire.py `closed_loop`, in Node. */
async function closedLoop(call: (n: number) => Promise<unknown>, spec: Spec): Promise<Report> {
  const window = Number(spec.window);
  const tMeasure = now() + Number(spec.warmup);
  const tEnd = tMeasure + Number(spec.duration);
  const latencies: number[] = [];
  let last = tMeasure;
  let total = 0;
  const worker = async (): Promise<void> => {
    let n = 0;
    while (now() < tEnd) {
      n += 1;
      const t0 = now();
      await call(n);
      const t1 = now();
      total += 1;
      if (t0 >= tMeasure) {
        latencies.push(t1 - t0);
        last = t1;
      }
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const elapsed = Math.max(last - tMeasure, 1e-9);
  return {
    count: latencies.length,
    elapsed,
    rate: latencies.length / elapsed,
    errors: 0,
    total,
    ...latencyStats(latencies),
  };
}

function body(spec: Spec, seq: number): Body {
  return { seq, text: spec.wire.body_text };
}

/** Our client as an application would make it in Node, reconnect off: a drop fails the run. */
async function connect(url: string): Promise<WebSocketMQ> {
  const client = new WebSocketMQ(url, { WebSocket, reconnect: false, connectTimeoutMs: 60_000 });
  client.on('error', (error) => process.stderr.write(`wsmq client error: ${String(error)}\n`));
  await client.connect();
  return client;
}

async function openMany(urls: string[], n: number, parallel = 64): Promise<WebSocketMQ[]> {
  const clients: WebSocketMQ[] = new Array<WebSocketMQ>(n);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      clients[i] = await connect(urls[i % urls.length] ?? '');
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, lane));
  return clients;
}

async function rpc(spec: Spec): Promise<Report> {
  const client = await connect(spec.url);
  const meter = new ClientCpu(Number(spec.warmup));
  const result = await closedLoop((n) => {
    meter.op();
    return client.request(spec.wire.echo_topic, body(spec, n), 60_000);
  }, spec);
  const cpu = meter.result();
  await client.close();
  return { ...result, ...cpu };
}

async function s2c(spec: Spec): Promise<Report> {
  const client = await connect(spec.url);
  const meter = new ClientCpu(Number(spec.warmup));
  const unsubscribe = client.subscribe<Body>(spec.wire.echo_topic, (b) => {
    meter.op();
    return b;
  });
  await unsubscribe.ready;
  const params = { window: spec.window, duration: spec.duration, warmup: spec.warmup };
  const result = await client.request<Report>(spec.wire.s2c_topic, params, 300_000);
  const cpu = meter.result();
  await client.close();
  return { ...result, ...cpu };
}

/** One subscriber's deliveries: every seq exactly once, or the run fails (bench/load.py Tally). */
class Tally {
  readonly seen: Uint8Array;
  got = 0;
  dups = 0;
  foreign = 0;
  tFirst = 0;
  tLast = 0;

  constructor(readonly count: number) {
    this.seen = new Uint8Array(count);
  }

  on(seq: unknown): void {
    const t = now();
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || seq >= this.count) {
      this.foreign += 1;
      return;
    }
    if (this.seen[seq] === 1) this.dups += 1;
    else {
      this.seen[seq] = 1;
      this.got += 1;
    }
    if (this.tFirst === 0) this.tFirst = t;
    this.tLast = t;
  }
}

async function sub(spec: Spec): Promise<Report> {
  const count = Number(spec.count);
  const idleMs = Number(spec.idle_timeout) * 1000;
  const clients = await openMany(spec.urls ?? [spec.url], Number(spec.conns));
  const tallies = clients.map(() => new Tally(count));
  let pending = clients.length;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  await Promise.all(
    clients.map((client, i) => {
      const tally = tallies[i] as Tally;
      return client.subscribe<Partial<Body>>(spec.wire.fanout_topic, (b) => {
        tally.on(b?.seq);
        if (tally.got === count && --pending === 0) allDone();
      }).ready;
    }),
  );
  const cpu0 = cpuSeconds();
  emit('ready', { conns: clients.length });
  // Until every delivery arrived, or no progress for idle_timeout s (bench/load.py ws_sub).
  let seen = -1;
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    const got = tallies.reduce((a, t) => a + t.got, 0);
    if (got === seen) break;
    seen = got;
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, idleMs))]);
  }
  const firsts = tallies.map((t) => t.tFirst).filter((t) => t > 0);
  return {
    cpu_s: cpuSeconds() - cpu0,
    conns: tallies.length,
    received: tallies.reduce((a, t) => a + t.got, 0),
    missing: tallies.reduce((a, t) => a + (count - t.got), 0),
    dups: tallies.reduce((a, t) => a + t.dups, 0),
    foreign: tallies.reduce((a, t) => a + t.foreign, 0),
    t_first: firsts.length > 0 ? Math.min(...firsts) : 0,
    t_last: Math.max(0, ...tallies.map((t) => t.tLast)),
  };
}

function stdinEnded(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
    process.stdin.resume();
  });
}

async function pub(spec: Spec): Promise<Report> {
  const client = await connect(spec.url);
  const count = Number(spec.count);
  const t0 = now();
  for (let i = 0; i < count; i++) {
    client.publish(spec.wire.fanout_topic, body(spec, i));
    // publish() hands the frame to the socket at once; yield now and then so the socket gets
    // written out while we go on, as an application's event loop would.
    if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
  }
  emit('result', { t0, t_sent: now(), count });
  await stdinEnded();
  return {};
}

const ROLES: Record<string, (spec: Spec) => Promise<Report>> = { rpc, s2c, sub, pub };

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
  const role = ROLES[spec.role];
  if (role === undefined) throw new Error(`unknown role ${JSON.stringify(spec.role)}`);
  // Bounded like bench/load.py main(): a wedged run ends by itself.
  setTimeout(
    () => {
      process.stderr.write(`bench node load: max_seconds (${spec.max_seconds}) passed\n`);
      process.exit(3);
    },
    Number(spec.max_seconds ?? 300) * 1000,
  ).unref();
  const result = await role(spec);
  if (Object.keys(result).length > 0) emit('result', result);
  // Don't spend time closing connections politely (thousands for fan-out), like os._exit(0).
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench node load failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
