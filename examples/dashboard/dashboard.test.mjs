// The dashboard example end to end in headless Chromium: examples/dashboard/server.py (the
// generated DashboardServer on a real broker) pushes metrics.tick to two pages; an action asked
// for on one page is confirmed on that page only (the server's ui.confirm request opens its
// dialog), declined once and confirmed once, and both pages see the live figures change and the
// actions.log entries. Run by `make test-examples`; screenshots go to test-artifacts/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchChromium, missing, ms, openPage, screenshot, startExample } from '../harness.mjs';

describe('dashboard example in headless Chromium', { skip: missing ?? false }, () => {
  let dash;
  let browser;
  let url;
  before(async () => {
    dash = startExample('dashboard');
    url = await dash.ready;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await dash?.stop();
  });

  const number = async (page, id) => Number(await page.locator(`#${id}`).textContent());
  /** Wait until the page has drawn a sample newer than `seq`. */
  async function sampleAfter(page, seq) {
    await page.waitForFunction((after) => Number(document.getElementById('seq').textContent) > after, seq, {
      timeout: ms(15000),
    });
  }
  /** Wait until the page's history holds a sample newer than `seq` with at most `limit` queued. */
  async function drewQueueAtMost(page, seq, limit) {
    await page.waitForFunction(
      ([after, most]) =>
        [...document.querySelectorAll('#history div')].some((bar) => {
          const [, n, queued] = /^#(\d+): (\d+) queued$/.exec(bar.title) ?? [];
          return Number(n) > after && Number(queued) <= most;
        }),
      [seq, limit],
      { timeout: ms(15000) },
    );
  }

  it('pushes live figures and confirms actions on the page that asked', async () => {
    const op = await openPage(browser, url);
    const viewer = await openPage(browser, url);

    // Live pushes: both pages draw successive samples without asking for them.
    await sampleAfter(op.page, 3);
    await sampleAfter(viewer.page, 3);
    const seq0 = await number(op.page, 'seq');
    await sampleAfter(op.page, seq0 + 2);
    assert.equal(await number(op.page, 'workers'), 2);
    assert.ok((await op.page.locator('#history div').count()) >= 3);

    // add-worker: the server asks the operator's page; the viewer gets no dialog.
    await op.page.click('#add-worker');
    await op.page.locator('#confirm[data-open][data-action="add-worker"]').waitFor({ timeout: ms(10000) });
    assert.equal(await op.page.locator('#confirm-question').textContent(), 'Add a worker (2 → 3)?');
    assert.equal(await viewer.page.locator('#confirm[data-open]').count(), 0);
    await screenshot(op.page, 'dashboard-example-confirm');
    await op.page.click('#confirm-yes');
    await op.page.locator('#result.ok').waitFor({ timeout: ms(10000) });
    assert.equal(await op.page.locator('#result').textContent(), 'add-worker: 3 workers');
    await viewer.page.locator('#workers:text-is("3")').waitFor({ timeout: ms(10000) });
    await viewer.page.locator('#log li[data-action="add-worker"]', { hasText: '3 workers' }).waitFor({ timeout: ms(10000) });
    await dash.waitLine(/^dashboard: add-worker 3 workers$/, ms(10000));

    // flush-queue declined: nothing happens to the queue, the log says so.
    await op.page.click('#flush-queue');
    await op.page.locator('#confirm[data-open][data-action="flush-queue"]').waitFor({ timeout: ms(10000) });
    assert.match(await op.page.locator('#confirm-question').textContent(), /^Flush \d+ queued jobs\? They will be lost\.$/);
    await op.page.click('#confirm-no');
    await op.page.locator('#result.error').waitFor({ timeout: ms(10000) });
    assert.equal(await op.page.locator('#result').textContent(), 'flush-queue: declined on the page');
    await dash.waitLine(/^dashboard: flush-queue declined on the page$/, ms(10000));

    // flush-queue confirmed: the next samples show the queue emptied (5 arrive, 3 leave a tick).
    const queued = await number(op.page, 'queued');
    assert.ok(queued > 10, `the queue grows between actions (${queued})`);
    await op.page.click('#flush-queue');
    await op.page.locator('#confirm[data-open][data-action="flush-queue"]').waitFor({ timeout: ms(10000) });
    const before = await number(viewer.page, 'seq');
    await op.page.click('#confirm-yes');
    await op.page.locator('#result.ok').waitFor({ timeout: ms(10000) });
    assert.match(await op.page.locator('#result').textContent(), /^flush-queue: flushed \d+ jobs$/);
    await drewQueueAtMost(viewer.page, before, 4); // the first sample after the flush: 0 + 5 - 3
    await viewer.page.locator('#log li[data-action="flush-queue"]', { hasText: 'flushed' }).waitFor({ timeout: ms(10000) });
    assert.match(await op.page.locator('#log li').first().textContent(), /^flush-queue by you: flushed \d+ jobs$/);

    await screenshot(op.page, 'dashboard-example');
    assert.deepEqual(op.problems, []);
    assert.deepEqual(viewer.problems, []);
    await op.context.close();
    await viewer.context.close();
  });
});
