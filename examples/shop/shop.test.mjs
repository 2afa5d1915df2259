// The shop example end to end in headless Chromium (Debian's chromium via playwright-core, no
// browser download): examples/shop/server.py (the generated ShopServer on a real broker) serves
// the page bundling the generated TypeScript ShopClient; the page orders (client→server RPC),
// answers the server's ui.confirm (server→client RPC), receives orders.updated (server events),
// publishes a chat message (client event), and gets OUT_OF_STOCK and a local INVALID_BODY.
// Run by `make test` (node --test examples/*/*.test.mjs); a screenshot goes to test-artifacts/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const FACTOR = Number(process.env.WSMQ_TIMEOUT_FACTOR ?? '1') || 1;
const ms = (n) => Math.round(n * FACTOR);
const CHROMIUM = process.env.WSMQ_CHROMIUM ?? '/usr/bin/chromium';
const PYTHON = process.env.WSMQ_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const missing = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : null;
if (missing !== null && process.env.CI === 'true') throw new Error(`${missing}: required in CI`);

/** Start the example server on a free port; resolves with its URL once it printed readiness. */
function startShop() {
  const proc = spawn(PYTHON, [join(HERE, 'server.py'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  const waiters = [];
  let buffer = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      for (const w of [...waiters]) w();
    }
  });
  const waitLine = (re, timeoutMs) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const line = lines.find((l) => re.test(l));
        if (line !== undefined) {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
          resolve(line);
        }
      };
      const timer = setTimeout(() => reject(new Error(`no line ${re} within ${timeoutMs} ms: ${lines.join(' | ')}`)), timeoutMs);
      waiters.push(check);
      check();
    });
  const stop = () =>
    new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve();
      const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  return { proc, waitLine, stop };
}

describe('shop example in headless Chromium', { skip: missing ?? false }, () => {
  let shop;
  let browser;
  let url;
  before(async () => {
    const require = createRequire(join(ROOT, 'typescript', 'package.json'));
    const { chromium } = require('playwright-core');
    shop = startShop();
    const ready = await shop.waitLine(/^shop: listening on /, ms(30000));
    url = ready.replace('shop: listening on ', '').trim();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: ms(60000) });
  });
  after(async () => {
    await browser?.close();
    await shop?.stop();
  });

  it('orders, confirms, updates, chats and refuses bad bodies through the generated SDKs', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    const problems = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    await page.goto(url);
    await page.locator('#state[data-state="connected"]').waitFor({ timeout: ms(15000) });

    // client→server request, then the server's ui.confirm to this page and its orders.updated
    await page.click('#order-send');
    await page.locator('#result.ok').waitFor({ timeout: ms(10000) });
    assert.equal(await page.locator('#result').textContent(), 'placed o1');
    await page.locator('tr[data-id="o1"][data-status="confirmed"]').waitFor({ timeout: ms(10000) });
    assert.match(await page.locator('#question').textContent(), /Ship 2 x ABC-123\?/);

    // a declared error comes back as the generated OutOfStock class
    await page.fill('#qty', '50');
    await page.click('#order-send');
    await page.locator('#result.error').waitFor({ timeout: ms(10000) });
    assert.match(await page.locator('#result').textContent(), /^out of stock: only 8 left/);

    // a body that breaks the schema is refused locally before anything is sent
    await page.fill('#qty', '1.5');
    await page.click('#order-send');
    await page.locator('#result.error[data-code="INVALID_BODY"]').waitFor({ timeout: ms(10000) });
    assert.match(await page.locator('#result').textContent(), /"pointer":"\/qty","rule":"type"/);

    // client event with a parameter reaches the typed server handler
    await page.fill('#room', 'kitchen');
    await page.click('#chat-send');
    await shop.waitLine(/^shop: chat kitchen page: hello from the page$/, ms(10000));

    // the page's declining answer cancels the next order
    await page.uncheck('#auto-confirm');
    await page.fill('#qty', '3');
    await page.click('#order-send');
    await page.locator('tr[data-id="o2"][data-status="cancelled"]').waitFor({ timeout: ms(10000) });

    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-artifacts', 'shop-example.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });
});
