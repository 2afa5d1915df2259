// Open one URL in headless Chromium (Debian's /usr/bin/chromium via playwright-core), wait for
// `#result[data-done]` and print {"result": text, "errors": [...]} as JSON on stdout.
// Used by the Python tests of pages served by an application (tests/test_asgi.py); bounded:
// every wait has a timeout and the browser is always closed.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'typescript', 'package.json'));
const { chromium } = require('playwright-core');

const FACTOR = Number(process.env.WSMQ_TIMEOUT_FACTOR ?? '1') || 1;
const CHROMIUM = process.env.WSMQ_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const [url] = process.argv.slice(2);

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60000 * FACTOR });
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(url, { timeout: 30000 * FACTOR });
  const result = page.locator('#result[data-done]');
  await result.waitFor({ timeout: 30000 * FACTOR });
  process.stdout.write(`${JSON.stringify({ result: await result.textContent(), errors })}\n`);
} finally {
  await browser.close();
}
