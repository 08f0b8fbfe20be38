// docs/http-api.md 8 (provider work never holds up the rest; co-tenants), 2.1, 6 (kill -9
// resumes): the engine's provider calls run outside every transaction, a power cycle drains and
// rejoins every VM of its host, and a kill -9 in the middle of each mode's step leaves the
// simulated world with exactly the VMs the engine's records say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, sleep, ZERO_TIMING } from './lib/server.mjs';
import {
  VM_ONLY, HOST_AWARE, EVICT, REBOOT, POWER_CYCLE, engineServer, fmtEvents, getRem, getEvents, waitFor, waitState,
  getHosts, getNodes, placementViolations,
} from './lib/engine.mjs';


async function mustCreate(srv, cluster, instance, mode) {
  const r = await create(srv, cluster, instance, { mode, token: srv.op, reason: `isolation ${mode}` });
  assert.equal(r.status, 200, `create ${mode} on ${instance}: ${r.text}`);
  return r.json;
}

// The simulated world runs exactly the VMs the engine's records say, where they say: no VM
// doubled by a repeated provision, none lost by a repeated delete.
async function worldViolations(srv, clusters) {
  const vms = (await srv.api('GET', '/v1/sim/vms')).json.vms;
  const nodes = await getNodes(srv, clusters);
  const bad = [];
  const byInstance = {};
  for (const v of vms) (byInstance[v.instance_id] ||= []).push(v.host_name);
  for (const [id, n] of Object.entries(nodes)) {
    const want = n.host_name === undefined ? [] : [n.host_name];
    const got = byInstance[id] || [];
    if (JSON.stringify(got) !== JSON.stringify(want)) bad.push(`${id}: the world runs VMs on [${got}], the records say [${want}]`);
  }
  return bad;
}

const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

// A synchronous power API that takes 3 s per power cycle (timing.blocking): while five of them
// block, creates answer as fast as before and other remediations run to the end.
test('blocking power cycles delay only their own remediations: creates and other repairs go on', async (t) => {
  const instances = Array.from({ length: 25 }, (_, k) => ({ instance_id: `bl-${k}`, num_gpus: 8, host: `hb-${k}` }));
  const fleet = {
    clusters: [{ cluster_id: 'bl', cluster_name: 'blocking', instances }],
    hosts: instances.map((i) => ({ host_name: i.host, gpu_slots: 8 })),
    timing: { ...ZERO_TIMING, power_cycle: 3000, blocking: true },
  };
  const srv = await engineServer(t, fleet);
  const createMs = async (k) => {
    const t0 = performance.now();
    const r = await mustCreate(srv, 'bl', `bl-${k}`, REBOOT);
    return { ms: performance.now() - t0, r };
  };
  // Without blocked calls: ten reboots, created one after the other.
  const before = [];
  for (let k = 5; k < 10; k++) before.push(await createMs(k));
  for (const { r } of before) await waitState(srv, r, ['SUCCEEDED'], 10000);
  // Five power cycles whose provider calls block for 3 s each.
  const cycles = [];
  for (let k = 0; k < 5; k++) cycles.push(await mustCreate(srv, 'bl', `bl-${k}`, POWER_CYCLE));
  assert.ok(await waitFor(async () => {
    for (const c of cycles) if ((await getRem(srv, c)).state !== 'QUARANTINED') return false;
    return true;
  }, 5000), 'every power cycle is in its (blocking) call');
  const blockedAt = performance.now();
  const during = [];
  for (let k = 10; k < 25; k++) during.push(await createMs(k));
  for (const { r } of during) {
    const g = await waitState(srv, r, ['SUCCEEDED'], 10000);
    assert.equal(g.state, 'SUCCEEDED');
  }
  const elapsed = performance.now() - blockedAt;
  // The reboots all finished while the power cycles were still blocked in their calls.
  assert.ok(elapsed < 2500, `fifteen reboots took ${elapsed.toFixed(0)} ms beside the blocked calls`);
  for (const c of cycles) assert.equal((await getRem(srv, c)).state, 'QUARANTINED', 'still in its 3 s call');
  const p = (xs) => quantile(xs.map((x) => x.ms), 0.9);
  t.diagnostic(`create p90 ${p(before).toFixed(1)} ms before, ${p(during).toFixed(1)} ms beside five blocked calls`);
  assert.ok(p(during) < Math.max(5 * p(before), 100), `creates slowed down: p90 ${p(before)} → ${p(during)} ms`);
  for (const c of cycles) await waitState(srv, c, ['SUCCEEDED'], 15000);
  assert.deepEqual(await worldViolations(srv, ['bl']), []);
});

// A power cycle takes every VM of the host down: the co-tenant of another cluster is drained
// before and rejoined after, and the timeline names it.
test('a power cycle drains and rejoins every VM of its host, of every cluster', async (t) => {
  const fleet = {
    clusters: [
      { cluster_id: 'ca', cluster_name: 'a', instances: [{ instance_id: 'ca-0', instance_name: 'a-node', num_gpus: 4, host: 'shared' }] },
      { cluster_id: 'cb', cluster_name: 'b', instances: [{ instance_id: 'cb-0', instance_name: 'b-node', num_gpus: 4, host: 'shared' }] },
    ],
    hosts: [{ host_name: 'shared', gpu_slots: 8 }],
    timing: { ...ZERO_TIMING, drain: 600, power_cycle: 300 },
  };
  const srv = await engineServer(t, fleet);
  const r = await mustCreate(srv, 'ca', 'ca-0', POWER_CYCLE);
  const coTenantDrained = await waitFor(async () => {
    const n = (await getNodes(srv, ['cb']))['cb-0'];
    return n.status === 'Draining' || n.status === 'Drained' ? n.status : null;
  }, 5000, 20);
  assert.ok(coTenantDrained, 'the co-tenant of cluster cb is drained too');
  const g = await waitState(srv, r, ['SUCCEEDED', 'FAILED'], 10000);
  const ev = await getEvents(srv, r);
  assert.equal(g.state, 'SUCCEEDED', fmtEvents(ev));
  const names = ev.filter((e) => e.type === 'step' && /co-tenants cb-0/.test(e.detail)).map((e) => e.step);
  assert.deepEqual([...new Set(names)], ['drain', 'wait_ready', 'rejoin'], fmtEvents(ev));
  assert.ok(ev.some((e) => e.step === 'rejoin' && e.detail === 'done: cb-0'), fmtEvents(ev));
  const nodes = await getNodes(srv, ['ca', 'cb']);
  assert.equal(nodes['ca-0'].status, 'Ready');
  assert.equal(nodes['cb-0'].status, 'Ready');
  const hosts = await getHosts(srv);
  assert.equal(hosts[0].cordoned, false);
  assert.deepEqual(await worldViolations(srv, ['ca', 'cb']), []);
});

// kill -9 while each mode is in its step that changes the world (its call running), restart:
// the remediation finishes once, nothing is doubled or lost, no slot leaks.
test('kill -9 in the middle of each mode\'s step: resumes, no doubled or lost VM, no leaked slot', async (t) => {
  const cases = [
    { mode: VM_ONLY, step: 'provision_vm' },
    { mode: HOST_AWARE, step: 'delete_vm' },
    { mode: EVICT, step: 'evict_vm' },
    { mode: REBOOT, step: 'reboot_vm' },
    { mode: POWER_CYCLE, step: 'power_cycle_host' },
  ];
  const instances = cases.map((c, k) => ({ instance_id: `kk-${k}`, num_gpus: 4, host: `hk-${k}` }));
  instances.push({ instance_id: 'kk-co', num_gpus: 4, host: 'hk-4' });  // the power cycle's co-tenant
  const fleet = {
    clusters: [{ cluster_id: 'kk', cluster_name: 'kills', instances }],
    hosts: [...cases.map((c, k) => ({ host_name: `hk-${k}`, gpu_slots: 8 })), { host_name: 'hk-spare', gpu_slots: 8 }],
    timing: { ...ZERO_TIMING, delete_vm: 1500, provision_vm: 1500, reboot: 1500, power_cycle: 1500 },
  };
  const srv = await engineServer(t, fleet);
  for (const [k, c] of cases.entries()) {
    const r = await mustCreate(srv, 'kk', `kk-${k}`, c.mode);
    // Its step's intent is recorded and the provider works on it.
    const started = await waitFor(async () => (await getEvents(srv, r)).some((e) => e.step === c.step && e.detail === 'started'), 5000, 20);
    assert.ok(started, `${c.mode} reached ${c.step}:\n${fmtEvents(await getEvents(srv, r))}`);
    await srv.kill9();
    await srv.start();
    const g = await waitState(srv, r, ['SUCCEEDED', 'FAILED'], 12000);
    const ev = await getEvents(srv, r);
    assert.equal(g.state, 'SUCCEEDED', `${c.mode}: ${JSON.stringify(g)}\n${fmtEvents(ev)}`);
    assert.equal(ev.filter((e) => e.type === 'state_change' && e.state === 'SUCCEEDED').length, 1);
    const [hosts, nodes] = [await getHosts(srv), await getNodes(srv, ['kk'])];
    assert.deepEqual(placementViolations(fleet, hosts, nodes, { atRest: true }), [], `${c.mode}: placement at rest`);
    assert.deepEqual(await worldViolations(srv, ['kk']), [], `${c.mode}: the world agrees`);
  }
});
