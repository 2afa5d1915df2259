// The chat example end to end in headless Chromium: examples/chat/server.py (the generated
// ChatServer on a real broker) serves the page bundling the generated ChatClient. Two pages (two
// browser contexts, so two connections) appear in each other's presence list from the broker's
// registration events, name themselves (presence.join, NAME_TAKEN for a duplicate), talk in a
// room, see another room's lines as unread through the one `chat.*.message` subscription, and
// one page leaving (its connection closing) removes it from the other's list.
// Run by `make test-examples`; screenshots go to test-artifacts/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchChromium, missing, ms, openPage, screenshot, startExample } from '../harness.mjs';

describe('chat example in headless Chromium', { skip: missing ?? false }, () => {
  let chat;
  let browser;
  let url;
  before(async () => {
    chat = startExample('chat');
    url = await chat.ready;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await chat?.stop();
  });

  async function join(page, name) {
    await page.fill('#name', name);
    await page.click('#join');
  }

  it('shows presence, rooms and unread lines across two pages', async () => {
    const ann = await openPage(browser, url, { width: 1000, height: 640 });
    const bob = await openPage(browser, url, { width: 1000, height: 640 });
    const members = (page) => page.locator('#members li').evaluateAll((lis) => lis.map((li) => li.dataset.name));

    // Both connections registered: each page sees two guests, without asking anybody.
    await ann.page.locator('#members li').nth(1).waitFor({ timeout: ms(10000) });
    assert.deepEqual(await members(ann.page), ['guest', 'guest']);

    await join(ann.page, 'ann');
    await ann.page.locator('#join-result.ok').waitFor({ timeout: ms(10000) });
    await join(bob.page, 'ann');
    await bob.page.locator('#join-result.error').waitFor({ timeout: ms(10000) });
    assert.match(await bob.page.locator('#join-result').textContent(), /^name taken: 'ann' is online already/);
    await join(bob.page, 'bob');
    await bob.page.locator('#join-result.ok').waitFor({ timeout: ms(10000) });
    await ann.page.locator('#members li[data-name="bob"]').waitFor({ timeout: ms(10000) });
    assert.deepEqual(await members(ann.page), ['ann', 'bob']);
    // the server's announcements arrive in the lobby
    await ann.page.locator('#messages li.server', { hasText: 'bob joined' }).waitFor({ timeout: ms(10000) });

    // A line in the lobby reaches the other page (and the server, which prints it).
    await ann.page.fill('#say-text', 'hello bob');
    await ann.page.click('#say');
    await bob.page.locator('#messages li', { hasText: 'ann: hello bob' }).waitFor({ timeout: ms(10000) });
    await chat.waitLine(/^chat: lobby ann: hello bob$/, ms(10000));

    // ann moves to #kitchen and talks there; bob, still in the lobby, sees it as unread.
    await ann.page.fill('#room-new', 'kitchen');
    await ann.page.click('#room-go');
    await ann.page.fill('#say-text', 'anyone for tea?');
    await ann.page.click('#say');
    await ann.page.fill('#say-text', 'the kettle is on');
    await ann.page.click('#say');
    const badge = bob.page.locator('#rooms li[data-room="kitchen"] .badge');
    await bob.page.locator('#rooms li[data-room="kitchen"] .badge:text("2")').waitFor({ timeout: ms(10000) });
    assert.equal(await badge.textContent(), '2');
    assert.equal(await bob.page.locator('#messages li', { hasText: 'tea' }).count(), 0);
    await chat.waitLine(/^chat: kitchen ann: the kettle is on$/, ms(10000));
    await screenshot(bob.page, 'chat-example');

    // bob opens #kitchen: the lines are there and the badge is gone.
    await bob.page.click('#rooms li[data-room="kitchen"]');
    await bob.page.locator('#messages li', { hasText: 'ann: anyone for tea?' }).waitFor({ timeout: ms(5000) });
    assert.equal(await badge.textContent(), '');

    // bob leaves: his connection ends, the broker's deregistered event updates ann's list.
    assert.deepEqual(bob.problems, []);
    await bob.context.close();
    await ann.page.locator('#members li[data-name="bob"]').waitFor({ state: 'detached', timeout: ms(15000) });
    assert.deepEqual(await members(ann.page), ['ann']);
    await ann.page.click('#rooms li[data-room="lobby"]');
    await ann.page.locator('#messages li.server', { hasText: 'bob left' }).waitFor({ timeout: ms(10000) });
    await screenshot(ann.page, 'chat-example-after-leave');
    assert.deepEqual(ann.problems, []);
    await ann.context.close();
  });
});
