// The console's Overview (docs/http-api.md 11) over a big seeded history: how long from
// navigation until its charts are drawn, cold (a fresh browser context each run), with the
// token already in sessionStorage. Uses a database bench/stats.sh kept (STATS_KEEP=1):
//
//   STATS_KEEP=1 STATS_OUT=/tmp/stats bash bench/stats.sh
//   node bench/overview_first_paint.mjs /tmp/stats/stats-1000000.db /tmp/stats/fleet.json
//
// Needs build/noderepair, /usr/bin/chromium and `cd tests && npm ci` (playwright-core).
import { createRequire } from 'node:module';
import { spawn, execFileSync } from 'node:child_process';
import { BIN } from '../tests/lib/server.mjs';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const [db, fleet] = process.argv.slice(2);
if (!db || !fleet) {
  console.error('usage: node bench/overview_first_paint.mjs DB.sqlite FLEET.json');
  process.exit(2);
}

const srv = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${db}`, '--fleet', fleet, '--engine-paused'],
  { stdio: ['ignore', 'pipe', 'ignore'] });
const port = await new Promise((resolve) => {
  let out = '';
  srv.stdout.on('data', (d) => {
    out += d;
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    if (m) resolve(m[1]);
  });
});
const token = execFileSync(BIN, ['token', 'create', '--db', `sqlite:${db}`, '--name', `paint-${Date.now()}`,
  '--role', 'viewer']).toString().trim();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--disable-gpu'] });
const times = [];
try {
  for (let k = 0; k < 5; k++) {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    await ctx.addInitScript((t) => sessionStorage.setItem('noderepair.token', t), token);
    const page = await ctx.newPage();
    await page.goto(`http://127.0.0.1:${port}/#/clusters/c0/overview`, { waitUntil: 'commit' });
    await page.waitForSelector('#chart-created svg rect.bar', { timeout: 10000 });
    const ms = await page.evaluate(() => performance.getEntriesByName('nr:overview')[0].startTime);
    const bars = await page.locator('#chart-created svg rect.bar').count();
    times.push(ms);
    console.log(`run ${k + 1}: charts drawn ${ms.toFixed(0)} ms after navigation start (${bars} bars)`);
    await ctx.close();
  }
} finally {
  await browser.close();
  srv.kill();
}
times.sort((a, b) => a - b);
console.log(`median ${times[2].toFixed(0)} ms (target <= 1000 ms)`);
process.exit(times[2] <= 1000 ? 0 : 1);
