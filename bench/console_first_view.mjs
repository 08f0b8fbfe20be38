// The web console's first view of a big cluster: how long from navigation until the
// repairs table shows its first rows, cold (a fresh browser context: no cache), with the
// token already in sessionStorage. The cluster gets 10,000 remediations through the API
// (1,000 instances x 10 rounds of create -> SUCCEEDED, zero-latency simulated fleet).
//
//   node bench/console_first_view.mjs [--instances 1000] [--rounds 10] [--runs 5]
//
// Needs build/noderepair, /usr/bin/chromium and `cd tests && npm ci` (playwright-core).
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { startServer, makeFleet, rPath, pool, sleep, BIN } from '../tests/lib/server.mjs';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const arg = (name, def) => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? Number(process.argv[k + 1]) : def;
};
const INSTANCES = arg('instances', 1000);
const ROUNDS = arg('rounds', 10);
const RUNS = arg('runs', 5);
const CLUSTER = 'big';
const ACTIVE = 'PENDING_APPROVAL,PENDING,QUARANTINING,QUARANTINED,RUNNING';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const srv = await startServer({
  fleet: makeFleet([{ cluster_id: CLUSTER, cluster_name: 'big-cluster', instances: INSTANCES }]),
  enginePaused: false,
});
let browser;
try {
  // Seed through the API: every round creates one remediation per instance, then waits for
  // the engine to finish them all (an instance has at most one active remediation).
  const t0 = Date.now();
  const instances = Array.from({ length: INSTANCES }, (_, k) => `${CLUSTER}-i${k}`);
  for (let round = 0; round < ROUNDS; round++) {
    const mode = round % 2 ? 'REMEDIATION_MODE_REBOOT_VM' : 'REMEDIATION_MODE_VM_ONLY';
    await pool(instances, 64, async (i) => {
      const r = await srv.api('POST', rPath(CLUSTER, i), { body: { mode, reason: `bench round ${round}` } });
      if (r.status !== 200) throw new Error(`create ${i}: ${r.status} ${r.text}`);
    });
    for (;;) {
      const l = await srv.api('GET', rPath(CLUSTER, '-'), { query: { state: ACTIVE, page_size: '1' } });
      if (l.status !== 200) throw new Error(`list: ${l.status} ${l.text}`);
      if (l.json.remediations.length === 0) break;
      await sleep(100);
    }
  }
  let total = 0;
  let token = '';
  for (;;) {
    const q = { page_size: '1000', ...(token ? { page_token: token } : {}) };
    const l = await srv.api('GET', rPath(CLUSTER, '-'), { query: q });
    total += l.json.remediations.length;
    if (!l.json.has_next) break;
    token = l.json.next_page_token;
  }
  const seedSeconds = (Date.now() - t0) / 1000;
  console.log(`seeded ${total} remediations in cluster ${CLUSTER} (${INSTANCES} instances) in ${seedSeconds.toFixed(1)} s`);
  if (total !== INSTANCES * ROUNDS) throw new Error(`expected ${INSTANCES * ROUNDS} remediations, found ${total}`);
  const newest = (await srv.api('GET', rPath(CLUSTER, '-'), { query: { page_size: '1' } })).json.remediations[0];

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true, args: ['--disable-gpu', '--disable-quic', '--disable-sync'],
  });
  const url = `${srv.base}/#/clusters/${CLUSTER}/repairs`;
  const inPage = [];
  const wall = [];
  for (let run = 0; run < RUNS; run++) {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    await ctx.addInitScript((tok) => sessionStorage.setItem('noderepair.token', tok), srv.adminToken);
    const page = await ctx.newPage();
    const start = Date.now();
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForSelector('#repairs tbody tr[data-id]', { timeout: 10000 });
    wall.push(Date.now() - start);
    const m = await page.evaluate(() => {
      const mark = performance.getEntriesByName('nr:first-rows')[0];
      return {
        at: mark ? mark.startTime : null,
        rows: document.querySelectorAll('#repairs tbody tr[data-id]').length,
        first: document.querySelector('#repairs tbody tr[data-id]').dataset.id,
      };
    });
    if (m.at === null) throw new Error('no nr:first-rows mark');
    if (m.rows !== 50 || m.first !== newest.id) throw new Error(`unexpected first view: ${JSON.stringify(m)}`);
    inPage.push(m.at);
    console.log(`run ${run + 1}: first rows at ${m.at.toFixed(0)} ms after navigation start (${wall[run]} ms wall, ${m.rows} rows)`);
    await ctx.close();
  }
  let chromiumVersion = '';
  try { chromiumVersion = execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* shown as empty */ }
  console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model || ''}, load average ${os.loadavg()[0].toFixed(2)}; ` +
    `${chromiumVersion}; binary ${BIN}`);
  console.log(`console first view, ${total} remediations: median ${median(inPage).toFixed(0)} ms ` +
    `(navigation start to first rows; runs ${inPage.map((x) => x.toFixed(0)).join(', ')}); ` +
    `wall median ${median(wall)} ms`);
  if (median(inPage) >= 1000) process.exitCode = 1;
} finally {
  await browser?.close();
  await srv.close();
}
