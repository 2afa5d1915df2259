// `node tests/docs_site.mjs BASE_URL SCREENSHOT_DIR`: opens the built documentation site in Debian's
// headless Chromium (playwright-core from typescript/node_modules) and prints one JSON line: for
// each page checked, whether its mermaid diagrams became SVG, and every request the site made to a
// host other than the one serving it (there must be none: the site works offline).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'typescript', 'package.json'));
const { chromium } = require('playwright-core');
const [base, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.WSMQ_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  timeout: 60000,
});
const origin = new URL(base).origin;
const report = { foreign: [], pages: {} };
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) report.foreign.push(r.url());
  });
  for (const [name, path] of [['design', 'design/'], ['protocol', 'spec/protocol/'], ['typescript', 'reference/typescript/']]) {
    await page.goto(new URL(path, base).href, { waitUntil: 'load' });
    // Material replaces each <pre class="mermaid"> by a <div class="mermaid"> whose closed shadow
    // root holds the SVG: a rendered diagram is such a div with a drawn size.
    const diagrams = await page.locator('pre.mermaid, div.mermaid').count();
    if (diagrams > 0) {
      await page
        .waitForFunction(() => document.querySelectorAll('pre.mermaid').length === 0, null, { timeout: 30000 })
        .catch(() => {});
    }
    const rendered = await page
      .locator('div.mermaid')
      .evaluateAll((els) => els.filter((el) => el.getBoundingClientRect().height > 40).length);
    const h3 = await page.locator('h3').allTextContents();
    report.pages[name] = { diagrams, rendered, headings: h3.map((t) => t.replace(/[¶\s]+$/u, '')) };
    if (diagrams > 0) {
      await page.locator('.mermaid').first().scrollIntoViewIfNeeded();
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(shots, `docs-${name}-mermaid.png`) });
    }
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report) + '\n');
