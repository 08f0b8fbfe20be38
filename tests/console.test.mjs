// The web console (README "Web console") in a real browser: npm playwright-core driving
// Debian's chromium, headless, against build/noderepair with a slow-enough simulated fleet.
// Screenshots go to tests/artifacts/console/ (git-ignored). Skips without /usr/bin/chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO, startServer, makeFleet, rPath, sleep, create, pool } from './lib/server.mjs';
import { SseParser, fmtTime, short, timeKey } from '../web/app.js';

const CHROMIUM = '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? false : `needs Debian chromium at ${CHROMIUM}`;
const ARTIFACTS = path.join(REPO, 'tests', 'artifacts', 'console');
// Every simulated operation takes 150 ms, so each state is visible for a moment.
const TIMING = { cordon: 150, drain: 150, delete_vm: 150, provision_vm: 150, boot: 150, reboot: 150, power_cycle: 150 };

let srv;
let browser;
let approver; // token named "alice", role approver (also operator)

before(async () => {
  if (SKIP) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  const { chromium } = await import('playwright-core');
  srv = await startServer({
    fleet: makeFleet([{ cluster_id: 'c1', cluster_name: 'train', instances: 6 }, { cluster_id: 'c2', instances: 2 }],
      { timing: TIMING }),
    enginePaused: false,
    config: 'automation:\n  max_active_fraction: 1.0\n',
  });
  approver = await srv.token('alice', 'approver');
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: ['--disable-gpu', '--disable-quic', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

// A fresh tab (its own sessionStorage) at laptop size; records every request's URL.
async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(10000);
  page.requests = [];
  page.errors = [];
  page.on('request', (r) => page.requests.push(r.url()));
  page.on('pageerror', (e) => page.errors.push(e.message));
  return page;
}

const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

async function signIn(page, token, server = srv) {
  await page.goto(server.base + '/');
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The console opens on the Overview; these tests start from Repairs.
  await page.locator('#overview').waitFor();
  await page.getByRole('link', { name: 'Repairs', exact: true }).click();
  await page.locator('#repairs').waitFor();
}

function assertSameOrigin(page, server = srv) {
  const foreign = page.requests.filter((u) => !u.startsWith(server.base + '/'));
  assert.deepEqual(foreign, [], 'the console loads nothing from another origin');
  assert.deepEqual(page.errors, [], 'no uncaught page errors');
}

// Polls the text of a locator until it equals `want`; returns every distinct value seen.
async function watchText(locator, want, timeoutMs) {
  const seen = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = ((await locator.textContent({ timeout: 1000 }).catch(() => null)) || '').trim();
    if (text && seen[seen.length - 1] !== text) seen.push(text);
    if (text === want) return seen;
    await sleep(40);
  }
  throw new Error(`never saw ${want}; saw ${seen.join(' → ')}`);
}

async function pendingApprovalFor(instanceId) {
  const fault = await srv.api('POST', `/v1/sim/instances/${instanceId}/faults`, { body: { kind: 'xid', xid: 79 } });
  assert.equal(fault.status, 200, fault.text);
  assert.equal(fault.json.remediations_created, 1, fault.text);
  const list = await srv.api('GET', rPath('c1', instanceId), { query: { state: 'PENDING_APPROVAL' } });
  assert.equal(list.json.remediations.length, 1, list.text);
  return list.json.remediations[0];
}

test('the console\'s SSE parser and time helpers', () => {
  const got = [];
  const p = new SseParser((e) => got.push(e));
  p.push('event: ready\ndata: {}\n\n: keepalive\n\nid: 7\r');
  p.push('\nevent: remediation\ndata: {"a":');
  p.push('1}\r\n\r\nevent: reset\n\ndata:x\ndata: y\n\n');
  assert.deepEqual(got, [
    { event: 'ready', data: '{}', id: '' },
    { event: 'remediation', data: '{"a":1}', id: '7' },
    { event: 'reset', data: '', id: '7' },
    { event: 'message', data: 'x\ny', id: '7' },
  ]);
  assert.equal(short('REMEDIATION_MODE_HOST_AWARE'), 'HOST_AWARE');
  assert.equal(fmtTime('2026-11-28T20:19:28.123456Z'), '2026-11-28 20:19:28');
  assert.ok(timeKey('2026-11-28T20:19:28.9394Z') < timeKey('2026-11-28T20:19:28.93941Z'));
  assert.ok(timeKey('2026-11-28T20:19:28Z') < timeKey('2026-11-28T20:19:28.000001Z'));
});

test('a bad token shows the server\'s error and stays signed out', { skip: SKIP }, async () => {
  const page = await newPage();
  await page.goto(srv.base + '/');
  await page.getByLabel('Access token').fill('nr_not-a-real-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.filter({ hasText: 'Sign-in failed' }).waitFor();
  const server = await srv.api('GET', '/v1/compute/clusters', { token: 'nr_not-a-real-token' });
  assert.equal(server.status, 401);
  const text = await alert.first().textContent();
  assert.ok(text.includes(server.json.message), `alert "${text}" shows "${server.json.message}"`);
  assert.ok(text.includes('401'), text);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'no token kept');
  assert.ok(await page.getByLabel('Access token').isVisible(), 'still on the sign-in form');
  await shot(page, '1-bad-token');
  assertSameOrigin(page);
  await page.context().close();
});

test('sign in, repair a node from the Nodes view, see it in Repairs', { skip: SKIP }, async () => {
  const page = await newPage();
  await signIn(page, approver);
  await shot(page, '2a-signed-in');
  await page.getByRole('link', { name: 'Nodes' }).click();
  await page.getByRole('button', { name: 'Repair c1-gpu-1' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Mode').selectOption('REMEDIATION_MODE_REBOOT_VM');
  await dialog.getByLabel('Reason').fill('console test: ECC errors on GPU 3');
  await shot(page, '2b-repair-dialog');
  await dialog.getByRole('button', { name: 'Create repair' }).click();
  await page.getByRole('status').filter({ hasText: 'Created repair of c1-gpu-1' }).waitFor();
  assert.equal(await page.getByRole('dialog').count(), 0, 'the dialog closed');

  const list = await srv.api('GET', rPath('c1', 'c1-i1'));
  assert.equal(list.json.remediations.length, 1, list.text);
  const r = list.json.remediations[0];
  assert.equal(r.mode, 'REMEDIATION_MODE_REBOOT_VM');
  assert.equal(r.reason, 'console test: ECC errors on GPU 3');
  assert.equal(r.requested_by, 'alice');
  assert.equal(r.trigger, 'REMEDIATION_TRIGGER_MANUAL');
  // The node's row shows it as its latest repair.
  await page.locator('tr[data-instance="c1-i1"] td.latest a').waitFor();

  await page.getByRole('link', { name: 'Repairs' }).click();
  const row = page.locator(`#repairs tr[data-id="${r.id}"]`);
  await row.waitFor();
  assert.equal((await row.locator('th').textContent()).trim(), 'c1-gpu-1');
  assert.ok((await row.textContent()).includes('console test: ECC errors on GPU 3'));
  await watchText(row.locator('td.state'), 'SUCCEEDED', 15000);
  await shot(page, '2c-repairs');
  assertSameOrigin(page);
  await page.context().close();
});

test('approve an automated repair and watch it reach SUCCEEDED without a reload', { skip: SKIP }, async () => {
  const page = await newPage();
  await signIn(page, approver);
  await page.evaluate(() => { window.__sameDocument = 'still here'; });
  const r = await pendingApprovalFor('c1-i2');
  assert.equal(r.mode, 'REMEDIATION_MODE_HOST_AWARE');

  // The new automated repair appears by itself, from the remediations:watch stream.
  const row = page.locator(`#repairs tr[data-id="${r.id}"]`);
  await row.waitFor({ timeout: 8000 });
  assert.equal((await row.locator('td.state').textContent()).trim(), 'PENDING_APPROVAL');
  await row.getByRole('button', { name: 'Approve repair of c1-gpu-2' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Comment').fill('Xid 79 is real, go ahead');
  await shot(page, '3a-approve-dialog');
  await dialog.getByRole('button', { name: 'Approve' }).click();

  const seen = await watchText(row.locator('td.state'), 'SUCCEEDED', 20000);
  const live = await page.evaluate(() => document.documentElement.dataset.live);
  console.log(`# live updates: ${live}; states seen in the row: ${seen.join(' → ')}`);
  assert.equal(await page.evaluate(() => window.__sameDocument), 'still here', 'no page reload');
  assert.equal(live, 'stream', 'the console follows remediations:watch');
  assert.ok(seen.some((s) => ['QUARANTINING', 'QUARANTINED', 'RUNNING'].includes(s)),
    `an in-progress state was shown: ${seen.join(' → ')}`);
  await shot(page, '3b-succeeded');

  const got = await srv.api('GET', rPath('c1', 'c1-i2', r.id));
  assert.equal(got.json.state, 'SUCCEEDED');
  assert.equal(got.json.reviewed_by, 'alice');
  assert.equal(got.json.review_comment, 'Xid 79 is real, go ahead');

  // Its details: every field, the alert evidence and the timeline.
  await row.getByRole('link', { name: 'c1-gpu-2' }).click();
  await page.locator('dd[data-field="review_comment"]', { hasText: 'Xid 79 is real' }).waitFor();
  assert.equal((await page.locator('dd[data-field="state"]').textContent()).trim(), 'SUCCEEDED');
  await page.locator('.alert-card h3', { hasText: 'DmesgXidError' }).waitFor();
  await page.locator('#timeline .badge', { hasText: 'SUCCEEDED' }).waitFor();
  assert.equal(await page.evaluate(() => window.__sameDocument), 'still here', 'no page reload');
  await shot(page, '3c-details');
  assertSameOrigin(page);
  await page.context().close();
});

test('repairs: newest first, paging, filters kept in the address', { skip: SKIP }, async () => {
  // Its own server, engine paused: 60 remediations stay put; every third is VM_ONLY; 5 cancelled, 3 of them VM_ONLY.
  const paged = await startServer({ fleet: makeFleet([{ cluster_id: 'p1', instances: 60 }]) });
  try {
    const ids = await pool(Array.from({ length: 60 }, (_, k) => k), 8, async (k) => {
      const r = await create(paged, 'p1', `p1-i${k}`, { mode: k % 3 ? 'REMEDIATION_MODE_REBOOT_VM' : 'REMEDIATION_MODE_VM_ONLY', reason: `r${k}` });
      assert.equal(r.status, 200, r.text);
      return r.json.id;
    });
    for (const k of [0, 3, 6, 7, 8]) {
      const c = await paged.api('POST', rPath('p1', `p1-i${k}`, ids[k], 'cancel'));
      assert.equal(c.status, 200, c.text);
    }
    const api = async (query) => (await paged.api('GET', rPath('p1', '-'), { query: { page_size: '1000', ...query } })).json.remediations.map((r) => r.id);
    const all = await api({});
    const page = await newPage();
    await signIn(page, paged.adminToken, paged);
    const shownIds = () => page.locator('#repairs tbody tr[data-id]').evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
    await page.locator('#repairs tbody tr[data-id]').first().waitFor();
    assert.deepEqual(await shownIds(), all.slice(0, 50), 'page 1: the 50 newest, newest first');
    await page.getByRole('button', { name: 'Older →' }).click();
    await page.locator('.pager', { hasText: 'Page 2' }).waitFor();
    assert.deepEqual(await shownIds(), all.slice(50), 'page 2: the other 10');
    assert.ok(await page.getByRole('button', { name: 'Older →' }).isDisabled());
    await page.getByRole('button', { name: '← Newer' }).click();
    await page.locator('.pager', { hasText: 'Page 1' }).waitFor();
    assert.deepEqual(await shownIds(), all.slice(0, 50));

    await page.getByLabel('Mode').selectOption('REMEDIATION_MODE_VM_ONLY');
    await page.locator('.pager', { hasText: '20 shown' }).waitFor();
    assert.deepEqual(await shownIds(), await api({ mode: 'REMEDIATION_MODE_VM_ONLY' }));
    await page.getByLabel('State').selectOption('CANCELLED');
    await page.locator('.pager', { hasText: '3 shown' }).waitFor();
    const cancelledVmOnly = await api({ mode: 'REMEDIATION_MODE_VM_ONLY', state: 'CANCELLED' });
    assert.deepEqual(await shownIds(), cancelledVmOnly);
    assert.match(page.url(), /#\/clusters\/p1\/repairs\?state=CANCELLED&mode=REMEDIATION_MODE_VM_ONLY$/);
    await page.getByLabel('Trigger').selectOption('REMEDIATION_TRIGGER_AUTOMATED');
    await page.locator('#repairs td.empty', { hasText: 'No repairs match' }).waitFor();
    await page.getByLabel('Trigger').selectOption('');
    await page.locator('.pager', { hasText: '3 shown' }).waitFor();
    await shot(page, '6-filters');
    // The filters live in the address: a reload shows the same view.
    await page.reload();
    await page.locator('.pager', { hasText: '3 shown' }).waitFor();
    assert.deepEqual(await shownIds(), cancelledVmOnly);
    assert.equal(await page.getByLabel('State').inputValue(), 'CANCELLED');
    assertSameOrigin(page, paged);
    await page.context().close();
  } finally {
    await paged.close();
  }
});

test('a change that arrives while a page is in flight is not lost when the page lands', { skip: SKIP }, async () => {
  const page = await newPage();
  // Every list page is read from the server at once but handed to the console only later.
  let release;
  const gate = new Promise((r) => { release = r; });
  await page.route(/\/instances\/-\/remediations\?/, async (route) => {
    const response = await route.fetch();
    await gate;
    await route.fulfill({ response });
  });
  await signIn(page, approver);
  await page.waitForFunction(() => document.documentElement.dataset.live === 'stream');
  const r = await pendingApprovalFor('c1-i4');
  const row = page.locator(`#repairs tr[data-id="${r.id}"]`);
  await row.waitFor({ timeout: 8000 });
  // Watch for the row ever going missing once the older page lands.
  await page.evaluate((id) => {
    window.__lost = false;
    new MutationObserver(() => {
      if (!document.querySelector(`#repairs tr[data-id="${id}"]`)) window.__lost = true;
    }).observe(document.querySelector('main'), { subtree: true, childList: true });
  }, r.id);
  release();
  await page.waitForFunction(() => /Page 1/.test(document.querySelector('.pager').textContent));
  // The page and the row are rendered in the same task; two frames later every mutation of that
  // render has reached the observer.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  assert.equal(await page.evaluate(() => window.__lost), false, 'the row never went missing');
  assert.equal(await row.count(), 1, 'the row stays after the older page lands');
  assert.equal((await row.locator('td.state').textContent()).trim(), 'PENDING_APPROVAL');
  assertSameOrigin(page);
  await page.context().close();
});

test('a failed action shows the server\'s message in an alert', { skip: SKIP }, async () => {
  const page = await newPage();
  await signIn(page, approver);
  const r = await pendingApprovalFor('c1-i3');
  const row = page.locator(`#repairs tr[data-id="${r.id}"]`);
  await row.waitFor({ timeout: 8000 });
  await row.getByRole('button', { name: 'Approve repair of c1-gpu-3' }).click();
  const dialog = page.getByRole('dialog');
  // Someone else cancels it while the dialog is open.
  const cancel = await srv.api('POST', rPath('c1', 'c1-i3', r.id, 'cancel'));
  assert.equal(cancel.status, 200, cancel.text);
  await dialog.getByRole('button', { name: 'Approve' }).click();
  const alert = dialog.getByRole('alert');
  await alert.filter({ hasText: 'HTTP 400' }).waitFor();
  const server = await srv.api('POST', rPath('c1', 'c1-i3', r.id, 'approve'), { token: approver, body: {} });
  assert.equal(server.status, 400);
  const text = await alert.textContent();
  assert.ok(text.includes(server.json.message), `alert "${text}" shows "${server.json.message}"`);
  assert.ok(text.includes('FAILED_PRECONDITION'), text);
  await shot(page, '4-action-error');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await watchText(row.locator('td.state'), 'CANCELLED', 8000);
  assertSameOrigin(page);
  await page.context().close();
});

test('keyboard only: sign in and open a node\'s Repair dialog', { skip: SKIP }, async () => {
  const page = await newPage();
  await page.goto(srv.base + '/');
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return { id: el.id, tag: el.tagName, text: (el.getAttribute('aria-label') || el.textContent || '').trim(),
      outline: getComputedStyle(el).outlineStyle };
  });
  // The token field has focus on arrival; Tab from the top reaches it too.
  assert.equal((await focused()).id, 'token');
  await page.keyboard.press('Shift+Tab');
  for (let k = 0; k < 5 && (await focused()).id !== 'token'; k++) await page.keyboard.press('Tab');
  assert.equal((await focused()).id, 'token');
  await page.keyboard.type(approver);
  await page.keyboard.press('Tab');
  const button = await focused();
  assert.equal(button.text, 'Sign in');
  assert.notEqual(button.outline, 'none', 'focus is visible');
  await page.keyboard.press('Enter');
  await page.locator('#overview').waitFor();

  await page.evaluate(() => { location.hash = '#/clusters/c1/nodes'; });
  await page.getByRole('button', { name: 'Repair c1-gpu-0' }).waitFor();
  let target = null;
  for (let k = 0; k < 10; k++) {
    await page.keyboard.press('Tab');
    target = await focused();
    if (target.text.startsWith('Repair ')) break;
  }
  assert.equal(target.text, 'Repair c1-gpu-0');
  assert.notEqual(target.outline, 'none', 'focus is visible');
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  assert.equal((await focused()).tag, 'SELECT', 'focus moves into the dialog');
  await shot(page, '5-keyboard-dialog');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal((await focused()).text, 'Repair c1-gpu-0', 'focus returns to the button');
  assertSameOrigin(page);
  await page.context().close();
});
