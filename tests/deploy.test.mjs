// deploy/ (deploy/README.md): the Prometheus rules pass `promtool check rules`, and every series
// the Grafana dashboard queries exists in a running server's /metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, startServer, makeFleet, create, makePendingApproval } from './lib/server.mjs';
import { waitState } from './lib/engine.mjs';

const PROMTOOL = '/usr/bin/promtool';
const RULES = path.join(REPO, 'deploy', 'prometheus', 'noderepair-rules.yml');
const DASHBOARD = path.join(REPO, 'deploy', 'grafana', 'noderepair-dashboard.json');

// Every PromQL expression of the dashboard: panel targets and template variable queries.
function dashboardExpressions(dashboard) {
  const out = [];
  const walk = (panels) => {
    for (const p of panels || []) {
      for (const t of p.targets || []) if (t.expr) out.push(t.expr);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list || []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (v.type === 'query' && q) out.push(q);
  }
  return out;
}

// The metric names noderepair exports that an expression reads, histogram suffixes removed.
function seriesOf(expr) {
  return [...expr.matchAll(/\bnoderepair_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

test('promtool check rules deploy/prometheus/noderepair-rules.yml',
  { skip: existsSync(PROMTOOL) ? false : 'needs promtool (Debian package prometheus)' }, async () => {
    const out = await new Promise((resolve) => {
      execFile(PROMTOOL, ['check', 'rules', RULES], (err, stdout, stderr) => resolve({ err, stdout, stderr }));
    });
    assert.equal(out.err, null, `${out.stdout}\n${out.stderr}`);
    assert.match(out.stdout, /SUCCESS: \d+ rules found/);
  });

test('every series the Grafana dashboard queries exists in /metrics', { timeout: 60000 }, async (t) => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
  const wanted = new Set(dashboardExpressions(dashboard).flatMap(seriesOf));
  assert.ok(wanted.size >= 10, `the dashboard reads noderepair's series: ${[...wanted]}`);

  // A server that repaired a node and received an alert has every labelled series too.
  const srv = await startServer({ fleet: makeFleet([{ cluster_id: 'dash', instances: 2 }]), enginePaused: false });
  t.after(() => srv.close());
  const r = await create(srv, 'dash', 'dash-i0', { mode: 'REMEDIATION_MODE_REBOOT_VM' });
  assert.equal(r.status, 200, r.text);
  await waitState(srv, r.json, ['SUCCEEDED'], 30000);
  assert.ok(await makePendingApproval(srv, 'dash', 'dash-i1'));
  const metrics = await srv.api('GET', '/metrics', { token: null });
  assert.equal(metrics.status, 200);
  const exported = new Set([...metrics.text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  const samples = new Set([...metrics.text.matchAll(/^([a-z_]+)[{ ]/gm)].map((m) => m[1].replace(/_(bucket|sum|count)$/, '')));
  const missing = [...wanted].filter((name) => !exported.has(name) || !samples.has(name));
  assert.deepEqual(missing, [], 'series the dashboard queries that /metrics lacks (or has no sample of)');
});
