// What the example tests (examples/*/*.test.mjs, `make test-examples`) share: start an example's
// server on a free port and wait for its readiness line, read the lines it prints, and launch
// Debian's Chromium headless through playwright-core (no browser download, no page.route()).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..');
const FACTOR = Number(process.env.WSMQ_TIMEOUT_FACTOR ?? '1') || 1;
/** A timeout stretched by WSMQ_TIMEOUT_FACTOR (a loaded machine). */
export const ms = (n) => Math.round(n * FACTOR);
const CHROMIUM = process.env.WSMQ_CHROMIUM ?? '/usr/bin/chromium';
const PYTHON = process.env.WSMQ_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** Why the browser tests cannot run here (null: they can); in CI a missing browser is an error. */
export const missing = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : null;
if (missing !== null && process.env.CI === 'true') throw new Error(`${missing}: required in CI`);

/** Launch headless Chromium. */
export async function launchChromium() {
  const require = createRequire(join(ROOT, 'typescript', 'package.json'));
  const { chromium } = require('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: ms(60000) });
}

/** Save a full-page screenshot as test-artifacts/NAME.png. */
export async function screenshot(page, name) {
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'test-artifacts', `${name}.png`), fullPage: true });
}

/**
 * Start examples/NAME/server.py on a free port. `await ex.ready` gives its page URL; `waitLine(re,
 * timeoutMs)` waits for a line it printed; `stop()` ends it (SIGTERM, then SIGKILL after 5 s).
 */
export function startExample(name) {
  const proc = spawn(PYTHON, [join(ROOT, 'examples', name, 'server.py'), '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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
  const prefix = `${name}: listening on `;
  const ready = waitLine(new RegExp(`^${name}: listening on `), ms(30000)).then((l) => l.slice(prefix.length).trim());
  return { proc, ready, waitLine, stop };
}

/**
 * Open the example's page in a fresh browser context (its own connection, like another person)
 * and wait until it is connected. `problems` collects the page's uncaught errors.
 */
export async function openPage(browser, url, viewport = { width: 1000, height: 700 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  await page.goto(url);
  await page.locator('#state[data-state="connected"]').waitFor({ timeout: ms(15000) });
  return { context, page, problems };
}
