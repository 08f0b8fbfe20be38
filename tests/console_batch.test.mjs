// The console's multi-select approve (docs/http-api.md 11) in Debian's chromium, headless.
// Skips without /usr/bin/chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startServer, makeFleet, rPath, makePendingApproval, sleep } from './lib/server.mjs';

const CHROMIUM = '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? false : `needs Debian chromium at ${CHROMIUM}`;

let srv;
let browser;

before(async () => {
  if (SKIP) return;
  const { chromium } = await import('playwright-core');
  srv = await startServer({
    fleet: makeFleet([{ cluster_id: 'c1', instances: 4 }]),
    config: 'automation:\n  max_active_fraction: 1.0\n',
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: ['--disable-gpu', '--disable-quic', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

async function waitText(locator, pattern, ms = 30000) {
  const deadline = Date.now() + ms;
  let text = '';
  while (Date.now() < deadline) {
    text = ((await locator.textContent({ timeout: 1000 }).catch(() => '')) || '').trim();
    if (pattern.test(text)) return text;
    await sleep(40);
  }
  throw new Error(`never matched ${pattern}; last: ${text}`);
}

test('select waiting repairs, approve them at once, and see each row\'s outcome', { skip: SKIP }, async () => {
  const a = await makePendingApproval(srv, 'c1', 'c1-i0');
  const b = await makePendingApproval(srv, 'c1', 'c1-i1');
  const c = await makePendingApproval(srv, 'c1', 'c1-i2');
  assert.ok(a && b && c);
  const alice = await srv.token('alice', 'approver');
  const bob = await srv.token('bob', 'approver');

  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(30000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(srv.base + '/');
  await page.getByLabel('Access token').fill(alice);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The console opens on the Overview; the batch lives in Repairs.
  await page.locator('#overview').waitFor();
  await page.getByRole('link', { name: 'Repairs', exact: true }).click();
  await page.locator('#repairs').waitFor();

  const approveSelected = page.locator('#approve-selected');
  assert.equal(await approveSelected.isDisabled(), true, 'nothing selected yet');
  for (const r of [a, b, c]) {
    await page.locator(`#repairs tr[data-id="${r.id}"] input.batch-select`).check();
  }
  await waitText(approveSelected, /Approve selected \(3\)/);
  // Someone else approves c meanwhile: the batch refuses it, and says so in its row.
  const other = await srv.api('POST', rPath('c1', 'c1-i2', c.id, 'approve'), { token: bob, body: {} });
  assert.equal(other.status, 200, other.text);

  await approveSelected.click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Comment').fill('rack checked');
  await dialog.getByRole('button', { name: 'Approve' }).click();

  for (const r of [a, b]) {
    const row = page.locator(`#repairs tr[data-id="${r.id}"]`);
    await waitText(row.locator('td.state'), /^PENDING$/);
    await waitText(row.locator('td.select'), /approved/);
  }
  await waitText(page.locator(`#repairs tr[data-id="${c.id}"] td.select`), /cannot approve/);
  await waitText(approveSelected, /^Approve selected$/);
  for (const r of [a, b]) {
    const got = await srv.api('GET', rPath('c1', r.instance_id, r.id));
    assert.equal(got.json.state, 'PENDING');
    assert.equal(got.json.reviewed_by, 'alice');
    assert.equal(got.json.review_comment, 'rack checked');
  }
  assert.equal((await srv.api('GET', rPath('c1', 'c1-i2', c.id))).json.reviewed_by, 'bob');
  assert.deepEqual(errors, []);
  await ctx.close();
});
