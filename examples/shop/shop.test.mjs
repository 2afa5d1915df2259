// The shop example end to end in headless Chromium (Debian's chromium via playwright-core, no
// browser download): examples/shop/server.py (the generated ShopServer on a real broker) serves
// the page bundling the generated TypeScript ShopClient; the page orders (client→server RPC),
// answers the server's ui.confirm (server→client RPC), receives orders.updated (server events),
// publishes a chat message (client event), and gets OUT_OF_STOCK and a local INVALID_BODY.
// Run by `make test` (node --test examples/*/*.test.mjs); a screenshot goes to test-artifacts/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchChromium, missing, ms, screenshot, startExample } from '../harness.mjs';

describe('shop example in headless Chromium', { skip: missing ?? false }, () => {
  let shop;
  let browser;
  let url;
  before(async () => {
    shop = startExample('shop');
    url = await shop.ready;
    browser = await launchChromium();
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

    await screenshot(page, 'shop-example');
    assert.deepEqual(problems, []);
    await page.close();
  });
});
