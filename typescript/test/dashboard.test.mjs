// The broker's live dashboard (docs/operations.md, "Dashboard") in Debian's headless Chromium,
// driven by playwright-core: `wsmq serve --dashboard` serves the page, a load generator (Node
// clients: echo requests, publishes to subscribers, server pings) runs while the page is open,
// and the page must show those numbers moving, fed over its own wsmq connection. The screenshot
// goes to <repo>/test-artifacts/dashboard.png.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { WebSocketMQ } from '../dist/index.js';
import { REPO_ROOT, ms, startBroker } from './helpers.mjs';

const CHROMIUM = process.env.WSMQ_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];
const MISSING = `no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) to run the dashboard test`;
if (!existsSync(CHROMIUM) && process.env.CI === 'true') throw new Error(MISSING); // CI must not skip
const SKIP = existsSync(CHROMIUM) ? false : MISSING;
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

/** Until `stop()`: 4 clients doing echo requests back to back, 1 publishing to 3 subscribers. */
async function startLoad(url) {
  const clients = Array.from({ length: 8 }, () => new WebSocketMQ(url, { WebSocket }));
  await Promise.all(clients.map((c) => c.connect()));
  const [pub, s1, s2, s3, ...callers] = clients;
  await Promise.all([s1, s2, s3].map((s, i) => s.subscribe(i === 2 ? 'load.>' : 'load.ticks', () => {}).ready));
  let running = true;
  const loops = callers.map(async (c) => {
    let i = 0;
    while (running) await c.request('example.echo', { i: i++ }, 5000).catch(() => undefined);
  });
  loops.push((async () => {
    let i = 0;
    while (running) {
      pub.publish('load.ticks', { i: i++ });
      await new Promise((r) => setTimeout(r, 2));
    }
  })());
  loops.push(callers[0].request('no.such.handler', null, 5000).catch(() => undefined)); // an error
  return {
    ids: clients.map((c) => c.clientId),
    async stop() {
      running = false;
      await Promise.allSettled(loops);
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

describe('live dashboard in headless Chromium', { skip: SKIP }, () => {
  let broker;
  let browser;
  before(async () => {
    const { chromium } = await import('playwright-core');
    broker = await startBroker({ extraArgs: ['--dashboard', '--message-rate', '0'] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: ms(60000) });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await broker?.stop();
  });

  it('shows live connections, rates, subscriptions and error counts while load runs', async () => {
    const load = await startLoad(broker.url);
    const page = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    try {
      await page.goto(`${broker.httpUrl}/dashboard`);
      assert.equal(await page.title(), 'WebSocketMQ dashboard');
      // live: several pushes arrived, and the rates are computed from them
      await page.waitForFunction(() => Number(document.body.dataset.updates) >= 4, null, { timeout: ms(20000) });
      const number = async (sel) => Number((await page.locator(sel).textContent()).trim());
      assert.ok((await number('#t-req')) > 10, `requests/s ${await number('#t-req')}`);
      assert.ok((await number('#t-in')) > 10);
      assert.ok((await number('#t-out')) > 10);
      assert.ok((await number('#t-conns')) >= 9); // 8 load clients + the page itself
      assert.ok((await number('#t-subs')) >= 3);
      const clients = await page.locator('#clients').textContent();
      for (const id of load.ids) assert.ok(clients.includes(id), `client ${id} listed`);
      assert.match(await page.locator('#patterns').textContent(), /load\.ticks/);
      assert.match(await page.locator('#errors').textContent(), /NO_HANDLER/);
      assert.equal(await page.locator('#backend').textContent(), 'MemoryBackend: up');
      assert.equal(await page.locator('#ready').textContent(), 'ready');
      assert.ok((await page.locator('#c-reqs polyline').count()) >= 1, 'a chart was drawn');
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
      assert.deepEqual(problems, []);
      const origin = broker.httpUrl;
      assert.deepEqual(requests.filter((u) => !u.startsWith(origin)), [], 'nothing loaded from elsewhere');
    } finally {
      await load.stop();
      await page.close();
    }
  });

  it('answers 404 when the dashboard is off', async () => {
    const plain = await startBroker();
    try {
      const res = await fetch(`${plain.httpUrl}/dashboard`);
      assert.equal(res.status, 404);
    } finally {
      await plain.stop();
    }
  });
});
