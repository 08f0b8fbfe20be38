// `noderepair policy replay` (docs/http-api.md 11): the recorded signals run through another
// config's automation settings, on a database opened read-only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  BIN, BACKEND, startServer, makeFleet, rPath, alertPayload, runSql, sleep,
} from './lib/server.mjs';
import { waitState } from './lib/engine.mjs';

const CID = 'rp';
const REBOOT = 'REMEDIATION_MODE_REBOOT_VM';
const HOST_AWARE = 'REMEDIATION_MODE_HOST_AWARE';
const VM_ONLY = 'REMEDIATION_MODE_VM_ONLY';
const LIVE_CONFIG = 'automation:\n  cooldown_s: 0\n  max_active_fraction: 1.0\n';

let srv;
let liveModes;

function replay(config, extra = []) {
  const file = path.join(srv.dir, `replay-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, config);
  return new Promise((resolve) => {
    execFile(BIN, ['policy', 'replay', '--db', srv.db, '--config', file, ...extra], { timeout: 60000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

async function fire(instanceId, alertname, fingerprint, status = 'firing') {
  const r = await srv.api('POST', '/v1/integrations/alertmanager', {
    body: alertPayload({ alertname, instanceId, fingerprint, status }),
  });
  assert.equal(r.status, 200, r.text);
}

async function remediationsOf(instanceId, ms = 5000, count = 1) {
  const deadline = Date.now() + ms;
  for (;;) {
    const l = await srv.api('GET', rPath(CID, instanceId));
    if (l.json.remediations.length >= count || Date.now() > deadline) return l.json.remediations;
    await sleep(25);
  }
}

// A dump of everything the database holds, to prove the replay wrote nothing.
async function dump() {
  if (BACKEND === 'sqlite') {
    const r = await runSql(srv.db, '.dump');
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  }
  const r = await runSql(srv.db, "SELECT string_agg(t || ':' || n, ',') FROM (SELECT 'r' t, count(*) n FROM remediations UNION ALL SELECT 'e', count(*) FROM remediation_events UNION ALL SELECT 'a', count(*) FROM alerts UNION ALL SELECT 'o', count(*) FROM signal_occurrences UNION ALL SELECT 'u', count(*) FROM audit_records) x");
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

before(async () => {
  srv = await startServer({ fleet: makeFleet([{ cluster_id: CID, instances: 10 }]), config: LIVE_CONFIG, enginePaused: false });
  // i0: a fault, repaired (approved, the engine runs it), then back: a second remediation.
  await fire('rp-i0', 'GpuEccDoubleBitError', 'fp-i0');
  const [first] = await remediationsOf('rp-i0');
  assert.ok(first);
  const approved = await srv.api('POST', rPath(CID, 'rp-i0', first.id, 'approve'), { body: {} });
  assert.equal(approved.status, 200, approved.text);
  await waitState(srv, first, ['SUCCEEDED'], 15000);
  await fire('rp-i0', 'GpuEccDoubleBitError', 'fp-i0', 'resolved');
  await fire('rp-i0', 'GpuEccDoubleBitError', 'fp-i0b');
  assert.equal((await remediationsOf('rp-i0', 5000, 2)).length, 2);
  // i1..i4: REBOOT_VM faults left waiting for approval; a repeat of one is not a new signal.
  for (let k = 1; k <= 4; k++) await fire(`rp-i${k}`, 'NpdKernelDeadlock', `fp-i${k}`);
  await fire('rp-i1', 'NpdKernelDeadlock', 'fp-i1');
  // i5: a HOST_AWARE fault; i6: a warning that creates nothing; i7: a failed active check.
  await fire('rp-i5', 'DmesgGpuFallenOffBus', 'fp-i5');
  await fire('rp-i6', 'KubeNodeDiskPressure', 'fp-i6');
  await srv.api('POST', '/v1/sim/instances/rp-i7/faults', { body: { kind: 'degraded' } });
  const run = await srv.api('POST', `/v1/compute/clusters/${CID}/instances/rp-i7/health_checks`, { body: { tests: ['gpu_burn'] } });
  assert.equal(run.status, 200, run.text);
  for (let k = 1; k <= 7; k++) {
    if (k === 6) continue;
    assert.equal((await remediationsOf(`rp-i${k}`)).length, 1, `rp-i${k} has its remediation`);
  }
  // i0's fault came back after its REBOOT_VM: the escalation ladder (on by default) made the
  // second one VM_ONLY.
  liveModes = { [REBOOT]: 5, [VM_ONLY]: 1, [HOST_AWARE]: 2 };
  await srv.stop();
});

after(async () => { if (srv) await srv.close(); });

test('replaying the live config reproduces the live run, and writes nothing', async () => {
  const before = await dump();
  const r = await replay(LIVE_CONFIG, ['--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const byMode = Object.fromEntries(report.modes.map((m) => [m.mode, m]));
  for (const [mode, n] of Object.entries(liveModes)) {
    assert.equal(byMode[mode]?.created, n, `${mode}: ${r.stdout}`);
    assert.equal(byMode[mode]?.would_create, n, `${mode}: ${r.stdout}`);
  }
  assert.deepEqual(report.differing_instances, []);
  assert.equal(await dump(), before, 'the database is unchanged');
});

test('a stricter config lists the instances that differ', async () => {
  const before = await dump();
  // A rule removed: the kernel deadlocks create nothing.
  const noRule = await replay(`${LIVE_CONFIG}  rules:\n    NpdKernelDeadlock: none\n`, ['--json']);
  assert.equal(noRule.code, 0, noRule.stderr);
  const a = JSON.parse(noRule.stdout);
  assert.deepEqual(a.differing_instances, ['rp-i1', 'rp-i2', 'rp-i3', 'rp-i4']);
  assert.equal(a.modes.find((m) => m.mode === REBOOT).would_create, 1);
  assert.equal(a.modes.find((m) => m.mode === REBOOT).created, 5);
  // A cooldown: the fault that came back right after its repair waits it out.
  const cooldown = await replay('automation:\n  cooldown_s: 3600\n  max_active_fraction: 1.0\n', ['--json']);
  assert.equal(cooldown.code, 0, cooldown.stderr);
  assert.deepEqual(JSON.parse(cooldown.stdout).differing_instances, ['rp-i0']);
  // A lower blast radius: two at a time, and the waiting ones never ended.
  const radius = await replay('automation:\n  cooldown_s: 0\n  max_active: 2\n', ['--json']);
  assert.equal(radius.code, 0, radius.stderr);
  const c = JSON.parse(radius.stdout);
  const total = c.modes.reduce((s, m) => s + m.would_create, 0);
  assert.ok(total < 8, radius.stdout);
  assert.ok(c.differing_instances.length >= 8 - total, radius.stdout);
  // The table form says the same.
  const text = await replay(`${LIVE_CONFIG}  rules:\n    NpdKernelDeadlock: none\n`);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /REBOOT_VM\s+5\s+1/);
  assert.match(text.stdout, /rp-i3/);
  assert.equal(await dump(), before, 'the database is unchanged');
});

test('replay refuses a bad config, a bad --since and a missing database', async () => {
  const bad = await replay('automation:\n  no_such_key: 1\n');
  assert.equal(bad.code, 2, bad.stderr);
  const since = await replay(LIVE_CONFIG, ['--since', 'yesterday']);
  assert.equal(since.code, 2, since.stderr);
  const later = await replay(LIVE_CONFIG, ['--since', '2999-01-01T00:00:00Z', '--json']);
  assert.equal(later.code, 0, later.stderr);
  assert.deepEqual(JSON.parse(later.stdout), { modes: [], differing_instances: [] });
  const missing = await new Promise((resolve) => {
    execFile(BIN, ['policy', 'replay', '--db', 'sqlite:/nonexistent/x.db', '--config', path.join(srv.dir, 'config.yaml')],
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stderr }));
  });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
});

// Clusters that share no host and no rack are replayed side by side (`--threads`); two that
// share a host stay in one partition, where the host's fault ledger sees both.
test('a replay in partitions decides as one replay does', async () => {
  const fleet = makeFleet([
    { cluster_id: 'pa', instances: 2 },
    { cluster_id: 'pb', instances: [{ instance_id: 'pb-i0', instance_name: 'pb-gpu-0', num_gpus: 8, host: 'shared-h' }] },
    { cluster_id: 'pc', instances: [{ instance_id: 'pc-i0', instance_name: 'pc-gpu-0', num_gpus: 8, host: 'shared-h' }] },
  ]);
  const live = await startServer({ fleet, config: LIVE_CONFIG });
  try {
    const send = async (instanceId, alertname, fingerprint) => {
      const r = await live.api('POST', '/v1/integrations/alertmanager', {
        body: alertPayload({ alertname, instanceId, fingerprint }),
      });
      assert.equal(r.status, 200, r.text);
    };
    await send('pa-i0', 'NpdKernelDeadlock', 'pp-a0');
    await send('pb-i0', 'GpuEccDoubleBitError', 'pp-b0');
    await send('pa-i1', 'NpdKernelDeadlock', 'pp-a1');
    await send('pc-i0', 'NpdKernelDeadlock', 'pp-c0');
    await live.stop();
    const run = (threads) => new Promise((resolve) => {
      const file = path.join(live.dir, `partitions-${threads}.yaml`);
      // The second instance faulting on shared-h makes it suspect: pc-i0's repair is HOST_AWARE.
      writeFileSync(file, `${LIVE_CONFIG}  suspect_host_instances: 2\n`);
      execFile(BIN, ['policy', 'replay', '--db', live.db, '--config', file, '--json', '--threads', String(threads)],
        { timeout: 60000 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
    });
    const one = await run(1);
    assert.equal(one.code, 0, one.stderr);
    const three = await run(3);
    assert.equal(three.code, 0, three.stderr);
    assert.deepEqual(JSON.parse(three.stdout), JSON.parse(one.stdout));
    assert.deepEqual(JSON.parse(one.stdout).differing_instances, ['pc-i0'], one.stdout);
  } finally {
    await live.close();
  }
});
