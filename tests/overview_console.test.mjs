// The console's Overview (README "Web console", docs/http-api.md 11) in a real browser:
// npm playwright-core driving Debian's chromium, headless, over a history seeded across three
// UTC days. Screenshots go to tests/artifacts/console/ (git-ignored). Skips without
// /usr/bin/chromium or libfaketime.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO, startServer, makeFleet } from './lib/server.mjs';
import { HISTORY_SKIP, seedHistory, utcDate } from './lib/history.mjs';
import { fmtSeconds } from '../web/app.js';

const CHROMIUM = '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? HISTORY_SKIP : `needs Debian chromium at ${CHROMIUM}`;
const ARTIFACTS = path.join(REPO, 'tests', 'artifacts', 'console');

let srv;
let browser;
let viewer;
let waiting;

before(async () => {
  if (SKIP) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  srv = await startServer({
    fleet: makeFleet([{ cluster_id: 'ovc', cluster_name: 'train', instances: 6 }]),
    enginePaused: false,
    config: 'automation: {max_active_fraction: 1.0}\n',
  });
  waiting = await seedHistory(srv, 'ovc');
  viewer = await srv.token('olga', 'viewer');
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: ['--disable-gpu', '--disable-quic', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

test('the Overview\'s duration format', () => {
  assert.equal(fmtSeconds(null), '–');
  assert.equal(fmtSeconds(0.0123), '12 ms');
  assert.equal(fmtSeconds(7.25), '7.3 s');
  assert.equal(fmtSeconds(90), '1.5 min');
  assert.equal(fmtSeconds(5400), '1.5 h');
  assert.equal(fmtSeconds(172800), '2 d');
});

test('the console opens on the Overview: counts, charts of the seeded history, a count link opens the filtered view',
  { skip: SKIP, timeout: 60000 }, async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(10000);
    const errors = [];
    const foreign = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => { if (!r.url().startsWith(srv.base + '/')) foreign.push(r.url()); });
    await page.goto(srv.base + '/');
    await page.getByLabel('Access token').fill(viewer);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#overview .needs').waitFor();
    assert.match(page.url(), /#\/clusters\/ovc\/overview$/, 'the console opens on the Overview');

    // What needs a person, as the stats endpoint says.
    const count = (key) => page.locator(`#overview a[data-need="${key}"] .n`).textContent();
    assert.equal(await count('approvals_waiting'), '1');
    assert.equal(await count('attention'), '0');
    assert.equal(await count('suspect_hosts'), '0');
    assert.equal(await count('open_incidents'), '0');

    // Repairs started per day by mode: two days ago VM_ONLY and REBOOT_VM, yesterday HOST_AWARE,
    // today VM_ONLY and REBOOT_VM: five bars; ended per day (all succeeded): three.
    const bars = (chart) => page.locator(`#${chart} svg rect.bar`).evaluateAll((rects) =>
      rects.map((r) => `${r.dataset.date} ${r.dataset.series}`));
    assert.deepEqual((await bars('chart-created')).sort(), [
      `${utcDate(2)} REMEDIATION_MODE_VM_ONLY`, `${utcDate(2)} REMEDIATION_MODE_REBOOT_VM`,
      `${utcDate(1)} REMEDIATION_MODE_HOST_AWARE`,
      `${utcDate(0)} REMEDIATION_MODE_VM_ONLY`, `${utcDate(0)} REMEDIATION_MODE_REBOOT_VM`,
    ].sort());
    assert.deepEqual((await bars('chart-outcomes')).sort(),
      [`${utcDate(2)} succeeded`, `${utcDate(1)} succeeded`, `${utcDate(0)} succeeded`].sort());
    // Every day of the window is in the data table, and each stage is drawn.
    assert.equal(await page.locator('#chart-created table tbody tr').count(), 30);
    assert.equal(await page.locator('#chart-stages g.stage').count(), 5);
    assert.equal(await page.locator('#chart-stages g.stage[data-stage="recovery"] rect.p90').count(), 1);
    assert.equal(await page.locator('#chart-stages g.stage[data-stage="waiting_for_approval"] rect').count(), 0,
      'nothing ended that waited for approval');
    // It fits a laptop screen's width.
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 1366, `no horizontal scrolling (${width} px)`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview.png'), fullPage: true });

    // From the keyboard: Tab to "Approvals waiting" and open it: Repairs, filtered.
    let focused = '';
    for (let k = 0; k < 20 && focused !== 'approvals_waiting'; k++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.dataset?.need || '');
    }
    assert.equal(focused, 'approvals_waiting', 'the count links are reachable with Tab');
    await page.keyboard.press('Enter');
    await page.locator('#repairs tbody tr[data-id]').first().waitFor();
    assert.match(page.url(), /#\/clusters\/ovc\/repairs\?state=PENDING_APPROVAL$/);
    const ids = await page.locator('#repairs tbody tr[data-id]').evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
    assert.deepEqual(ids, [waiting.id], 'only the remediation waiting for approval');
    assert.equal(await page.locator('.toolbar label', { hasText: 'State' }).locator('select').inputValue(),
      'PENDING_APPROVAL', 'the state filter shows it');
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview-approvals-waiting.png'), fullPage: true });
    assert.deepEqual(foreign, [], 'nothing from another origin');
    assert.deepEqual(errors, [], 'no page errors');
    await ctx.close();
  });
