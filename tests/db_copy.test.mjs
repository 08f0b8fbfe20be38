// docs/http-api.md 9: `noderepair db copy --from sqlite:A --to postgres://…` moves a whole
// installation — remediations and their timelines, alerts, tokens, the audit chain — and
// refuses a target that already holds data. Runs when a PostgreSQL server is given
// (NODEREPAIR_TEST_PG, set by `make test` for its PostgreSQL pass).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { Server, BIN, makeFleet, rPath, create, listAll } from './lib/server.mjs';
import { getEvents } from './lib/engine.mjs';

const PG = process.env.NODEREPAIR_TEST_PG;
const servers = [];
after(async () => { for (const s of servers) await s.close(); });

function run(args) {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

function newDatabase(name) {
  execFileSync('psql', [PG, '-qc', `DROP DATABASE IF EXISTS ${name}`, '-c', `CREATE DATABASE ${name}`]);
  return PG.replace(/\/[^/]*$/, `/${name}`);
}

// Everything the API shows of the installation, in a stable order.
async function snapshot(srv) {
  const out = { remediations: [], events: {}, alerts: [], audit: [], stats: {} };
  for (const c of ['cp', 'cq']) {
    out.remediations.push(...(await listAll(srv, c, '-', {}, { pageSize: 7 })).all);
    // The overview's daily aggregates travel too (docs/http-api.md 11).
    const stats = await srv.api('GET', `/v1/compute/clusters/${c}/stats?days=2`);
    assert.equal(stats.status, 200, stats.text);
    out.stats[c] = stats.json;
    const a = await srv.api('GET', `/v1/compute/clusters/${c}/health/alerts`);
    assert.equal(a.status, 200, a.text);
    out.alerts.push(...a.json.alerts);
  }
  for (const r of out.remediations) out.events[r.id] = await getEvents(srv, r);
  let after_ = '';
  for (;;) {
    const a = await srv.api('GET', '/v1/audit', { query: after_ ? { page_token: after_ } : {} });
    assert.equal(a.status, 200, a.text);
    out.audit.push(...a.json.records);
    if (!a.json.next_page_token) break;
    after_ = a.json.next_page_token;
  }
  return out;
}

test('db copy moves every remediation, event, alert, token and the audit chain to PostgreSQL', { skip: !PG && 'NODEREPAIR_TEST_PG is not set' }, async () => {
  // The source is SQLite whatever the suite's backend.
  const srv = new Server({ fleet: makeFleet([{ cluster_id: 'cp', instances: 12 }, { cluster_id: 'cq', instances: 3 }]), sqlite: true });
  servers.push(srv);
  await srv.start();
  const operator = await srv.token('copy-operator', 'operator');
  const viewer = await srv.token('copy-viewer', 'viewer', ['cq']);
  await srv.token('copy-gone', 'viewer');
  assert.equal((await run(['token', 'revoke', '--db', srv.db, '--name', 'copy-gone'])).code, 0);
  const made = [];
  for (let k = 0; k < 10; k++) {
    const r = await create(srv, 'cp', `cp-i${k}`, { mode: 'REMEDIATION_MODE_VM_ONLY', reason: `copy ${k}`, token: operator });
    assert.equal(r.status, 200, r.text);
    made.push(r.json);
  }
  const cancelled = await srv.api('POST', rPath('cp', 'cp-i3', made[3].id, 'cancel'), { token: operator, body: {} });
  assert.equal(cancelled.status, 200, cancelled.text);
  const alert = {
    status: 'firing', labels: { alertname: 'DmesgGpuFallenOffBus', cluster_id: 'cq', instance_id: 'cq-i1' },
    annotations: { summary: 'gpu gone' }, startsAt: new Date().toISOString(),
    endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://127.0.0.1:9090/graph', fingerprint: 'copy-fp-1',
  };
  const hook = await srv.api('POST', '/v1/integrations/alertmanager', {
    token: operator,
    body: { receiver: 'noderepair', status: 'firing', alerts: [alert], groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://127.0.0.1:9093', version: '4', groupKey: 'g', truncatedAlerts: 0 },
  });
  assert.ok(hook.status < 300, hook.text);
  const before = await snapshot(srv);
  assert.equal(before.remediations.length, 11, 'ten manual and one automated');
  assert.equal(before.alerts.length, 1);
  assert.equal(before.stats.cp.days[1].created.REMEDIATION_MODE_VM_ONLY, 10);
  assert.equal(before.stats.cp.stages[1].count, 1, 'the cancelled one was queued');
  await srv.stop();
  const tokensBefore = (await run(['token', 'list', '--db', srv.db])).stdout;

  const target = newDatabase(`nr_copy_${process.pid}`);
  const copied = await run(['db', 'copy', '--from', srv.db, '--to', target]);
  assert.equal(copied.code, 0, copied.stderr);
  assert.match(copied.stdout, /remediation_events/);
  // A second copy into the same database is refused and changes nothing.
  const again = await run(['db', 'copy', '--from', srv.db, '--to', target]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already holds noderepair data/);

  srv.db = target;
  await srv.start();
  const afterCopy = await snapshot(srv);
  // The restart's own fleet import may add audit records after the copied chain.
  assert.deepEqual(afterCopy.audit.slice(0, before.audit.length), before.audit);
  afterCopy.audit = before.audit;
  assert.deepEqual(afterCopy, before);
  assert.equal((await run(['token', 'list', '--db', target])).stdout, tokensBefore);
  assert.equal((await srv.api('GET', '/v1/compute/clusters/cq', { token: viewer })).status, 200, 'a copied token works');
  const verified = await run(['audit', 'verify', '--db', target]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  // New work continues after the copied history: a new remediation and its timeline.
  const next = await create(srv, 'cp', 'cp-i11', { mode: 'REMEDIATION_MODE_VM_ONLY', reason: 'after copy', token: operator });
  assert.equal(next.status, 200, next.text);
  const cancel = await srv.api('POST', rPath('cp', 'cp-i0', made[0].id, 'cancel'), { token: operator, body: {} });
  assert.equal(cancel.status, 200, cancel.text);
  const events = await getEvents(srv, made[0]);
  assert.equal(events.at(-1).state, 'CANCELLED', JSON.stringify(events));
  assert.equal(events.length, before.events[made[0].id].length + 1);
});

test('db copy refuses bad arguments with a usage error', async () => {
  for (const args of [['--from', 'mysql://x', '--to', 'postgres://u@127.0.0.1:1/x'],
    ['--from', 'sqlite:/nonexistent/x.db', '--to', 'sqlite:/tmp/y.db']]) {
    const r = await run(['db', 'copy', ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, /--from must be sqlite:PATH|--to must be a postgres/);
  }
  const missing = await run(['db', 'copy', '--from', 'sqlite:/nonexistent/x.db', '--to', 'postgres://u@127.0.0.1:1/x']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /does not exist/);
});
