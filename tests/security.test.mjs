// docs/http-api.md 10: scope on every route and the response headers. The three holes found by
// trying the service as a new user would, kept as regression tests: a cluster-scoped operator
// creating automated remediations in another cluster through the Alertmanager webhook, and
// injecting simulated faults into another cluster; and the console framed by another site.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import {
  startServer, makeFleet, rPath, create, expectStatus, alertPayload, rawConnect, rawRequest,
} from './lib/server.mjs';
import { EventStream } from './lib/sse.mjs';

let srv;
let scopedOp; let scopedViewer; let scopedAdmin; let op;

before(async () => {
  srv = await startServer({
    fleet: makeFleet([{ cluster_id: 'c1', instances: 3 }, { cluster_id: 'c2', instances: 3 }],
      { extraHosts: [{ host_name: 'spare-h0', gpu_slots: 16 }] }),
    // Room for an automated remediation on every instance: the blast radius is not under test.
    config: 'automation:\n  max_active_fraction: 1.0\n',
  });
  scopedOp = await srv.token('sam', 'operator', ['c1']);
  scopedViewer = await srv.token('vera', 'viewer', ['c1']);
  scopedAdmin = await srv.token('ada', 'admin', ['c1']);
  op = await srv.token('olga', 'operator');
});
after(async () => { if (srv) await srv.close(); });

const webhook = (payload, token) => srv.api('POST', '/v1/integrations/alertmanager', { token, body: payload });
const fault = (instance, body, token) => srv.api('POST', `/v1/sim/instances/${instance}/faults`, { token, body });

async function alertsOf(cluster) {
  const r = await srv.api('GET', `/v1/compute/clusters/${cluster}/health/alerts`, { query: { page_size: '1000' } });
  assert.equal(r.status, 200, r.text);
  return r.json.alerts;
}

async function remediationsOf(cluster) {
  const r = await srv.api('GET', rPath(cluster, '-'), { query: { page_size: '1000' } });
  assert.equal(r.status, 200, r.text);
  return r.json.remediations;
}

test('hole 1: a scoped operator\'s webhook for another cluster\'s instance → 200, out_of_scope 1, nothing stored, nothing created', async () => {
  const other = alertPayload({ instanceId: 'c2-i0', fingerprint: 'fp-hole-1' });
  const r = await webhook(other, scopedOp);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { alerts: 0, remediations_created: 0, out_of_scope: 1 });
  assert.deepEqual((await alertsOf('c2')).filter((a) => a.fingerprint === 'fp-hole-1'), [], 'alert stored');
  assert.deepEqual(await remediationsOf('c2'), [], 'remediation created in c2');

  // An unknown instance is out of scope for a scoped token too.
  const unknown = await webhook(alertPayload({ instanceId: 'nobody' }), scopedOp);
  assert.deepEqual(unknown.json, { alerts: 0, remediations_created: 0, out_of_scope: 1 });

  // One payload holding both: the in-scope alert is taken, the other counted.
  const mixed = alertPayload({ instanceId: 'c1-i0', fingerprint: 'fp-mixed-c1' });
  mixed.alerts.push(alertPayload({ instanceId: 'c2-i1', fingerprint: 'fp-mixed-c2' }).alerts[0]);
  const m = await webhook(mixed, scopedOp);
  assert.equal(m.status, 200, m.text);
  assert.deepEqual(m.json, { alerts: 1, remediations_created: 1, out_of_scope: 1 });
  assert.ok((await alertsOf('c1')).some((a) => a.fingerprint === 'fp-mixed-c1'));
  assert.deepEqual(await remediationsOf('c2'), [], 'remediation created in c2');

  // An unscoped token's webhook is unchanged: every alert counts.
  const u = await webhook(alertPayload({ instanceId: 'nobody-either' }), op);
  assert.deepEqual(u.json, { alerts: 1, remediations_created: 0, out_of_scope: 0 });

  // The dropped alerts are counted for the operators too.
  const metrics = await srv.api('GET', '/metrics', { token: null });
  const dropped = metrics.text.match(/^noderepair_alerts_matched_total\{outcome="out_of_scope"\} (\d+)/m);
  assert.ok(dropped, 'no out_of_scope series in /metrics');
  assert.equal(Number(dropped[1]), 3);
});

test('hole 2: a scoped operator\'s fault on another cluster\'s instance → 404, nothing injected', async () => {
  const r = await fault('c2-i2', { kind: 'xid', xid: 79 }, scopedOp);
  expectStatus(assert, r, 404, 5, 'fault outside the scope');
  const unknown = await fault('no-such-instance', { kind: 'xid', xid: 79 }, scopedOp);
  assert.equal(r.json.message.replace('c2-i2', 'X'), unknown.json.message.replace('no-such-instance', 'X'),
    'answered as if the instance did not exist');
  assert.deepEqual((await alertsOf('c2')).filter((a) => a.instance_id === 'c2-i2'), []);
  assert.deepEqual(await remediationsOf('c2'), []);
  // Had the fault been recorded, clearing it would resolve its alert.
  const cleared = await fault('c2-i2', { kind: 'clear' }, op);
  assert.equal(cleared.status, 200, cleared.text);
  assert.equal(cleared.json.alerts, 0, 'a fault was recorded');

  const mine = await fault('c1-i2', { kind: 'xid', xid: 79 }, scopedOp);
  assert.equal(mine.status, 200, mine.text);
  assert.deepEqual(mine.json, { alerts: 1, remediations_created: 1, out_of_scope: 0 });
});

const CONSOLE_FILES = ['/', '/index.html', '/app.js', '/style.css', '/favicon.svg'];

test('hole 3: the console cannot be framed: CSP header with frame-ancestors \'none\', X-Frame-Options, Referrer-Policy', async () => {
  for (const p of CONSOLE_FILES) {
    const r = await fetch(srv.base + p);
    assert.equal(r.status, 200, p);
    const csp = r.headers.get('content-security-policy') || '';
    const directives = csp.split(';').map((d) => d.trim());
    assert.ok(directives.includes("default-src 'self'"), `${p}: ${csp}`);
    assert.ok(directives.includes("frame-ancestors 'none'"), `${p}: ${csp}`);
    assert.equal(r.headers.get('x-frame-options'), 'DENY', p);
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer', p);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
    const body = await r.text();
    if (p === '/') assert.doesNotMatch(body, /http-equiv="Content-Security-Policy"/i, 'the header replaces the <meta> tag');
  }
});

const CHROMIUM = '/usr/bin/chromium';

test('hole 3 in a real browser: another site\'s page cannot show the console in a frame', { skip: existsSync(CHROMIUM) ? false : `needs ${CHROMIUM}` }, async () => {
  // Another origin: a page on its own port that frames the console, and /healthz as a control.
  const site = http.createServer((req, res) => {
    const src = req.url === '/control' ? `${srv.base}/healthz` : `${srv.base}/`;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>other site</title><iframe id="f" src="${src}"></iframe>`);
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--disable-gpu'] });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(10000);
    // The frame's address and text once the other site's page has loaded.
    const framed = async (p) => {
      await page.goto(`http://localhost:${site.address().port}${p}`, { waitUntil: 'load' });
      const frame = page.frames().find((f) => f !== page.mainFrame());
      let text = '';
      try {
        text = await frame.evaluate(() => document.body?.innerText || '');
      } catch { /* an error page the test cannot read */ }
      return { url: frame.url(), text };
    };
    const control = await framed('/control');
    assert.equal(control.url, `${srv.base}/healthz`, 'the control frame loads');
    assert.match(control.text, /"status":"ok"/);
    const framedConsole = await framed('/');
    assert.notEqual(framedConsole.url, `${srv.base}/`, `the console loaded in another site's frame: ${framedConsole.text}`);
    assert.doesNotMatch(framedConsole.text, /noderepair|Access token/, 'the console rendered in another site\'s frame');
  } finally {
    await browser.close();
    site.close();
  }
});

function noStoreNoSniff(headers, what) {
  const get = (k) => (typeof headers.get === 'function' ? headers.get(k) : headers[k]);
  assert.equal(get('cache-control'), 'no-store', `${what}: cache-control`);
  assert.equal(get('x-content-type-options'), 'nosniff', `${what}: x-content-type-options`);
}

test('every API response has Cache-Control: no-store and nosniff: JSON, errors, the event stream, /metrics, refusals', async () => {
  const answers = {
    'JSON list': await srv.api('GET', '/v1/compute/clusters'),
    'JSON create': await create(srv, 'c1', 'c1-i1', { reason: 'headers' }),
    '401': await srv.api('GET', '/v1/compute/clusters', { token: null }),
    '403': await srv.api('POST', '/v1/engine:pause', { token: scopedAdmin }),
    '404': await srv.api('GET', '/v1/no/such/path'),
    '400 bad JSON': await srv.api('POST', rPath('c1', 'c1-i1'), { rawBody: '{"mode":' }),
    '/healthz': await srv.api('GET', '/healthz', { token: null }),
    '/readyz': await srv.api('GET', '/readyz', { token: null }),
    '/metrics': await srv.api('GET', '/metrics', { token: null }),
  };
  for (const [what, r] of Object.entries(answers)) noStoreNoSniff(r.headers, `${what} (${r.status})`);
  assert.equal(answers['401'].status, 401);
  assert.equal(answers['403'].status, 403);
  assert.equal(answers['404'].status, 404);
  assert.equal(answers['400 bad JSON'].status, 400);

  const stream = await EventStream.open(srv, `${rPath('c1', '-')}:watch`);
  try {
    assert.equal(stream.response.status, 200);
    noStoreNoSniff(stream.response.headers, 'event stream');
  } finally {
    stream.close();
  }

  // Refused by the HTTP server before any handler: a body over 1 MiB, a malformed request.
  const big = await rawConnect(srv.port);
  big.write(rawRequest({ method: 'POST', path: rPath('c1', 'c1-i1'), token: srv.adminToken, body: 'x'.repeat((1 << 20) + 1) }));
  const [tooLarge] = await big.next(1);
  big.destroy();
  assert.equal(tooLarge.status, 413);
  noStoreNoSniff(tooLarge.headers, '413');
  const bad = await rawConnect(srv.port);
  bad.write('GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n');
  const [malformed] = await bad.next(1);
  bad.destroy();
  assert.equal(malformed.status, 400);
  noStoreNoSniff(malformed.headers, 'malformed request');
});

test('scoped tokens see only their clusters and the hosts that carry their instances', async () => {
  const clusters = await srv.api('GET', '/v1/compute/clusters', { token: scopedViewer });
  assert.deepEqual(clusters.json.clusters.map((c) => c.cluster_id), ['c1']);
  const hosts = await srv.api('GET', '/v1/compute/hosts', { token: scopedViewer });
  assert.equal(hosts.status, 200, hosts.text);
  assert.deepEqual(hosts.json.hosts.map((h) => h.host_name).sort(), ['c1-h0', 'c1-h1', 'c1-h2']);
  assert.deepEqual(hosts.json.hosts.flatMap((h) => h.instances).sort(), ['c1-i0', 'c1-i1', 'c1-i2']);
  const all = await srv.api('GET', '/v1/compute/hosts');
  assert.ok(all.json.hosts.some((h) => h.host_name === 'spare-h0'), 'an unscoped token sees every host');
  assert.ok(all.json.hosts.some((h) => h.host_name === 'c2-h0'));
  const vms = await srv.api('GET', '/v1/sim/vms', { token: scopedViewer });
  assert.equal(vms.status, 200, vms.text);
  assert.ok(vms.json.vms.length > 0);
  assert.ok(vms.json.vms.every((v) => v.instance_id.startsWith('c1-')), vms.text);
});

test('fleet-wide changes need an unscoped token: cordon, uncordon, engine pause and resume → 403 for a scoped admin; GET /v1/engine is readable', async () => {
  const engine = await srv.api('GET', '/v1/engine', { token: scopedViewer });
  assert.equal(engine.status, 200, engine.text);
  assert.equal(typeof engine.json.paused, 'boolean');
  for (const p of ['/v1/compute/hosts/c1-h0:cordon', '/v1/compute/hosts/c1-h0:uncordon', '/v1/engine:pause', '/v1/engine:resume']) {
    expectStatus(assert, await srv.api('POST', p, { token: scopedAdmin }), 403, 7, `scoped admin ${p}`);
  }
  const hosts = await srv.api('GET', '/v1/compute/hosts');
  assert.equal(hosts.json.hosts.find((h) => h.host_name === 'c1-h0').cordoned, false, 'cordoned by a scoped token');
  // The same calls with an unscoped admin go through.
  assert.equal((await srv.api('POST', '/v1/compute/hosts/c1-h0:cordon')).status, 200);
  assert.equal((await srv.api('POST', '/v1/compute/hosts/c1-h0:uncordon')).status, 200);
  // Its own cluster's settings are a scoped admin's to change.
  const patched = await srv.api('PATCH', '/v1/compute/clusters/c1', { token: scopedAdmin, body: { automation: { policy: 'approve' } } });
  assert.equal(patched.status, 200, patched.text);
  expectStatus(assert, await srv.api('PATCH', '/v1/compute/clusters/c2', { token: scopedAdmin, body: { automation: { policy: 'approve' } } }), 403, 7, 'scoped admin patches c2');
});
