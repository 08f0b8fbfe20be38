// docs/http-api.md 2.1 (modes), 2.2 (states), 4.6 (cancel vs pick-up), 4.7 (hosts, cordons), 4.8 (events),
// 6 (engine pause, timing), 7 (engine.capacity_wait_s, max_parallel): the engine carrying
// remediations out on the simulated fleet.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Server, makeFleet, rPath, create, sleep, scannedAfter, pool, expectStatus, micros, RFC3339_Z, ZERO_TIMING, MODES,
} from './lib/server.mjs';
import {
  VM_ONLY, HOST_AWARE, EVICT, REBOOT, POWER_CYCLE, TIMELINE, markers, fmtEvents, getRem, getEvents,
  waitFor, waitState, getHosts, byHost, getNodes, placementViolations, outcomeViolations, isTerminal,
} from './lib/engine.mjs';

const servers = new Set();
after(async () => { for (const s of servers) await s.close(); });

// A running engine (not --engine-paused) with an operator token `op`; stopped (kill -9) and
// its temp dir removed when the test ends, so a wedged server cannot slow the next tests.
async function engineServer(t, fleet, { config, enginePaused = false } = {}) {
  const s = new Server({ fleet, config, enginePaused });
  servers.add(s);
  t.after(async () => { servers.delete(s); await s.close(); });
  await s.start();
  s.op = await s.token('op', 'operator');
  return s;
}

const slow = (ms) => ({ cordon: ms, drain: ms, delete_vm: ms, provision_vm: ms, boot: ms, reboot: ms, power_cycle: ms });

// Creates (as `op`) and asserts the 200 PENDING reply.
async function mustCreate(srv, cluster, instance, mode) {
  const r = await create(srv, cluster, instance, { mode, token: srv.op, reason: `engine test ${mode}` });
  assert.equal(r.status, 200, `create ${mode} on ${instance}: ${r.text}`);
  assert.equal(r.json.state, 'PENDING');
  return r.json;
}

// The checks every succeeded remediation passes: times, fields, and its timeline (docs/http-api.md 2, 4.8).
async function checkSucceeded(srv, r, { requestedBy = 'op' } = {}) {
  const g = await getRem(srv, r);
  const ev = await getEvents(srv, r);
  const ctx = `${r.instance_id} ${r.mode}\n${fmtEvents(ev)}`;
  assert.equal(g.state, 'SUCCEEDED', `${ctx}\n${JSON.stringify(g)}`);
  assert.ok(!('error_message' in g), `no error_message on SUCCEEDED: ${ctx}`);
  for (const f of ['create_time', 'update_time', 'start_time', 'end_time']) assert.match(g[f] || '', RFC3339_Z, `${f}: ${ctx}`);
  assert.ok(micros(g.create_time) <= micros(g.start_time), `create_time ≤ start_time: ${ctx}`);
  assert.ok(micros(g.start_time) <= micros(g.end_time), `start_time ≤ end_time: ${ctx}`);
  assert.equal(g.update_time, g.end_time, `update_time = end_time once terminal: ${ctx}`);
  assert.deepEqual(markers(ev), TIMELINE[r.mode], `timeline of ${ctx}`);
  assert.equal(ev[0].actor, requestedBy, `the PENDING event's actor is the creator: ${ctx}`);
  for (const e of ev.slice(1)) assert.equal(e.actor, 'engine', `engine events have actor "engine": ${ctx}`);
  for (let k = 1; k < ev.length; k++) assert.ok(micros(ev[k - 1].time) <= micros(ev[k].time), `events oldest first: ${ctx}`);
  assert.ok(micros(ev[ev.length - 1].time) <= micros(g.end_time) && micros(ev[0].time) >= micros(g.create_time), `events within the remediation's life: ${ctx}`);
  return { rem: g, events: ev };
}

async function fleetState(srv, clusters) {
  return { hosts: await getHosts(srv), nodes: await getNodes(srv, clusters) };
}

// ---------------------------------------------------------------------------------------------
test('every mode end to end at zero latency: SUCCEEDED, placement and cordon effects, timeline', async (t) => {
  const fleet = {
    clusters: [{
      cluster_id: 'e',
      instances: [
        { instance_id: 'e-vm', instance_name: 'gpu-vm', num_gpus: 8, host: 'h-vm' },
        { instance_id: 'e-ha', instance_name: 'gpu-ha', num_gpus: 8, host: 'h-ha' },
        { instance_id: 'e-ev', instance_name: 'gpu-ev', num_gpus: 8, host: 'h-ev' },
        { instance_id: 'e-rb', instance_name: 'gpu-rb', num_gpus: 8, host: 'h-rb' },
        { instance_id: 'e-pc', instance_name: 'gpu-pc', num_gpus: 4, host: 'h-pc' },
      ],
    }],
    // h-ha has the most free slots: a HOST_AWARE that ignored "different host" would stay there
    hosts: [
      { host_name: 'h-vm', gpu_slots: 8 }, { host_name: 'h-ha', gpu_slots: 64 },
      { host_name: 'h-ev', gpu_slots: 16 }, { host_name: 'h-rb', gpu_slots: 16 },
      { host_name: 'h-pc', gpu_slots: 8 }, { host_name: 'spare-1', gpu_slots: 16 },
      { host_name: 'spare-2', gpu_slots: 16 },
    ],
    timing: ZERO_TIMING,
  };
  const srv = await engineServer(t, fleet);
  const before = await fleetState(srv, ['e']);
  assert.deepEqual(placementViolations(fleet, before.hosts, before.nodes, { atRest: true }), []);
  const plan = [['e-vm', VM_ONLY], ['e-ha', HOST_AWARE], ['e-ev', EVICT], ['e-rb', REBOOT], ['e-pc', POWER_CYCLE]];
  const rems = [];
  for (const [inst, mode] of plan) rems.push(await mustCreate(srv, 'e', inst, mode));
  for (const r of rems) await waitState(srv, r, null, 10000);
  const afterState = await fleetState(srv, ['e']);
  for (const r of rems) {
    await checkSucceeded(srv, r);
    const bad = outcomeViolations(r.mode, before.nodes[r.instance_id], afterState.nodes[r.instance_id], afterState.hosts);
    assert.deepEqual(bad, [], `${r.mode} effects`);
    assert.equal(afterState.nodes[r.instance_id].latest_remediation?.id, r.id, 'latest_remediation is this one');
    assert.equal(afterState.nodes[r.instance_id].latest_remediation?.state, 'SUCCEEDED');
  }
  assert.deepEqual(placementViolations(fleet, afterState.hosts, afterState.nodes, { atRest: true }), []);
  const hb = byHost(afterState.hosts);
  // A replacement may have landed on h-ev once its slots were free, so the check is that e-ev
  // left and h-ev counts exactly the slots of what it now runs.
  assert.ok(!hb['h-ev'].instances.includes('e-ev'), 'the evicted VM left its host');
  const onEv = hb['h-ev'].instances.reduce((sum, id) => sum + afterState.nodes[id].num_gpus, 0);
  assert.equal(hb['h-ev'].used_gpus, onEv, 'the evicted VM freed its slots');
  assert.equal(hb['h-ha'].cordoned, true, 'HOST_AWARE leaves the old host cordoned');
  assert.equal(hb['h-pc'].cordoned, false, 'HOST_POWER_CYCLE uncordons the host at the end');
  for (const h of ['h-vm', 'h-ev', 'h-rb', 'spare-1', 'spare-2']) assert.equal(hb[h].cordoned, false, `${h} not cordoned`);
  // the ones that moved (VM_ONLY, HOST_AWARE) left their old hosts
  assert.ok(!hb['h-ha'].instances.includes('e-ha'));
  // the engine runs the same workflow again on the same instance (a second remediation)
  const again = await mustCreate(srv, 'e', 'e-rb', REBOOT);
  await waitState(srv, again, null, 10000);
  await checkSucceeded(srv, again);
});

test('VM_ONLY on a fully packed fleet takes its own slots on the same host; on a cordoned host it moves (docs/http-api.md 2.1)', async (t) => {
  // Every host full: no spare capacity anywhere, the usual case of a GPU cloud.
  const fleet = {
    clusters: [{
      cluster_id: 'pk',
      instances: [0, 1, 2, 3].map((k) => ({ instance_id: `pk-${k}`, num_gpus: 8, host: `hp${k >> 1}` })),
    }],
    hosts: [{ host_name: 'hp0', gpu_slots: 16 }, { host_name: 'hp1', gpu_slots: 16 }],
    timing: ZERO_TIMING,
  };
  const srv = await engineServer(t, fleet, { config: 'engine:\n  capacity_wait_s: 1\n' });
  const rs = [];
  for (let k = 0; k < 4; k++) rs.push(await mustCreate(srv, 'pk', `pk-${k}`, VM_ONLY));
  for (const r of rs) {
    await waitState(srv, r, null, 10000);
    await checkSucceeded(srv, r);
    const ev = await getEvents(srv, r);
    assert.ok(ev.some((e) => e.step === 'reserve_capacity' && /keeps its 8 GPU slots on hp/.test(e.detail)), fmtEvents(ev));
  }
  let st = await fleetState(srv, ['pk']);
  for (let k = 0; k < 4; k++) assert.equal(st.nodes[`pk-${k}`].host_name, `hp${k >> 1}`, `pk-${k} stays on its host`);
  assert.deepEqual(placementViolations(fleet, st.hosts, st.nodes, { atRest: true }), []);
  // The simulated world agrees: one VM per instance, where the engine says it is.
  const vms = (await srv.api('GET', '/v1/sim/vms')).json.vms;
  assert.deepEqual(vms.map((v) => `${v.instance_id}@${v.host_name}`).sort(), ['pk-0@hp0', 'pk-1@hp0', 'pk-2@hp1', 'pk-3@hp1']);
  // On a cordoned host it needs room elsewhere: with none, it FAILS and the VM stays.
  assert.equal((await srv.api('POST', '/v1/compute/hosts/hp0:cordon')).status, 200);
  const moved = await mustCreate(srv, 'pk', 'pk-0', VM_ONLY);
  const g = await waitState(srv, moved, null, 6000);
  assert.equal(g.state, 'FAILED', JSON.stringify(g));
  assert.match(g.error_message, /free GPU slots/);
  // ... and with room on another host, it moves there.
  assert.equal((await srv.api('POST', '/v1/compute/hosts/hp1:cordon')).status, 200);
  const ev3 = await mustCreate(srv, 'pk', 'pk-3', EVICT);
  await waitState(srv, ev3, null, 5000);
  assert.equal((await srv.api('POST', '/v1/compute/hosts/hp1:uncordon')).status, 200);
  const again = await mustCreate(srv, 'pk', 'pk-0', VM_ONLY);
  await waitState(srv, again, null, 5000);
  await checkSucceeded(srv, again);
  st = await fleetState(srv, ['pk']);
  assert.equal(st.nodes['pk-0'].host_name, 'hp1', 'moved off its cordoned host');
  assert.deepEqual(placementViolations(fleet, st.hosts, st.nodes, { atRest: true }), []);
});

test('VM_ONLY may reuse its own host when that is the only one with room', async (t) => {
  const fleet = {
    clusters: [{
      cluster_id: 'v',
      instances: [
        { instance_id: 'v-0', num_gpus: 8, host: 'hv0' },
        { instance_id: 'v-1', num_gpus: 8, host: 'hv1' },
      ],
    }],
    hosts: [{ host_name: 'hv0', gpu_slots: 16 }, { host_name: 'hv1', gpu_slots: 8 }],
    timing: ZERO_TIMING,
  };
  const srv = await engineServer(t, fleet);
  const r = await mustCreate(srv, 'v', 'v-0', VM_ONLY);
  await waitState(srv, r, null, 10000);
  await checkSucceeded(srv, r);
  const st = await fleetState(srv, ['v']);
  assert.equal(st.nodes['v-0'].host_name, 'hv0');
  assert.deepEqual(placementViolations(fleet, st.hosts, st.nodes, { atRest: true }), []);
  assert.equal(byHost(st.hosts).hv0.used_gpus, 8, 'the old VM and the reservation are gone: 8 used');
});

test('instances without a VM: VM_ONLY provisions one, REBOOT_VM fails cleanly, HOST_AWARE does one or the other', async (t) => {
  const fleet = {
    clusters: [{
      cluster_id: 'nv',
      instances: [
        { instance_id: 'nv-0', num_gpus: 8 }, { instance_id: 'nv-1', num_gpus: 8 },
        { instance_id: 'nv-2', num_gpus: 8 }, { instance_id: 'nv-3', num_gpus: 8, host: 'hn0' },
      ],
    }],
    hosts: [{ host_name: 'hn0', gpu_slots: 16 }, { host_name: 'hn1', gpu_slots: 16 }, { host_name: 'hn2', gpu_slots: 16 }],
    timing: { ...ZERO_TIMING, cordon: 200 },
  };
  const srv = await engineServer(t, fleet);
  const nodes0 = await getNodes(srv, ['nv']);
  assert.equal(nodes0['nv-0'].status, 'Evicted');
  assert.ok(!('host_name' in nodes0['nv-0']));
  const vm = await mustCreate(srv, 'nv', 'nv-0', VM_ONLY);
  const rb = await mustCreate(srv, 'nv', 'nv-1', REBOOT);
  const ha = await mustCreate(srv, 'nv', 'nv-2', HOST_AWARE);
  for (const r of [vm, rb, ha]) await waitState(srv, r, null, 10000);
  await checkSucceeded(srv, vm);
  const rbDone = await getRem(srv, rb);
  assert.equal(rbDone.state, 'FAILED');
  assert.match(rbDone.error_message || '', /nv-1/, 'error_message names the instance');
  const st = await fleetState(srv, ['nv']);
  assert.ok(st.nodes['nv-0'].host_name, 'VM_ONLY gave nv-0 a VM');
  assert.equal(st.nodes['nv-0'].status, 'Ready');
  assert.equal(st.nodes['nv-1'].status, 'Evicted');
  assert.deepEqual(placementViolations(fleet, st.hosts, st.nodes, { atRest: true }), []);
  const haDone = await getRem(srv, ha);
  const haEv = await getEvents(srv, ha);
  if (haDone.state === 'FAILED') {
    // like REBOOT_VM: a clear message about the missing VM, not a provider error about host ""
    assert.doesNotMatch(haDone.error_message || '', /host\s+not found|host "" /i,
      `HOST_AWARE on an instance without a VM fails with an internal-looking message: ${JSON.stringify(haDone)}\n${fmtEvents(haEv)}`);
    assert.match(haDone.error_message || '', /nv-2/, 'error_message names the instance');
  } else {
    assert.equal(haDone.state, 'SUCCEEDED', JSON.stringify(haDone));
  }
});

// ---------------------------------------------------------------------------------------------
// Polls as fast as it can until terminal; returns the distinct states seen, in order.
async function observeStates(srv, r, ms, onState = () => {}) {
  const seen = [r.state];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const g = await getRem(srv, r);
    if (seen[seen.length - 1] !== g.state) { seen.push(g.state); await onState(g); }
    if (isTerminal(g.state)) break;
  }
  return seen;
}

const isSubsequence = (seq, of) => { let k = 0; for (const x of of) if (x === seq[k]) k++; return k === seq.length; };
const ORDER = {
  [HOST_AWARE]: ['PENDING', 'QUARANTINING', 'QUARANTINED', 'RUNNING', 'SUCCEEDED'],
  [POWER_CYCLE]: ['PENDING', 'QUARANTINING', 'QUARANTINED', 'RUNNING', 'SUCCEEDED'],
  [VM_ONLY]: ['PENDING', 'RUNNING', 'SUCCEEDED'],
  [REBOOT]: ['PENDING', 'RUNNING', 'SUCCEEDED'],
  [EVICT]: ['PENDING', 'RUNNING', 'SUCCEEDED'],
};

function slowFleet(prefix, ms) {
  return makeFleet([{ cluster_id: prefix, instances: 5 }], {
    timing: slow(ms),
    extraHosts: [{ host_name: `${prefix}-spare1`, gpu_slots: 16 }, { host_name: `${prefix}-spare2`, gpu_slots: 16 }],
  });
}

test('slow timing: intermediate states are observed in order; cancel once picked up → 400 FAILED_PRECONDITION', async (t) => {
  const fleet = slowFleet('s', 300);
  const srv = await engineServer(t, fleet);
  const hosts0 = await getHosts(srv);
  const base = hosts0.reduce((a, h) => a + h.used_gpus, 0);
  const plan = [['s-i0', HOST_AWARE], ['s-i1', POWER_CYCLE], ['s-i2', VM_ONLY], ['s-i3', REBOOT], ['s-i4', EVICT]];
  const rems = [];
  for (const [inst, mode] of plan) rems.push(await mustCreate(srv, 's', inst, mode));
  // meanwhile: the placement invariants hold at every sample, and a reservation shows in used_gpus
  let sampling = true;
  let maxExtra = 0;
  const violations = [];
  const sampler = (async () => {
    while (sampling) {
      const hosts = await getHosts(srv);
      violations.push(...placementViolations(fleet, hosts, null));
      const listed = hosts.reduce((a, h) => a + h.instances.length * 8, 0);
      maxExtra = Math.max(maxExtra, hosts.reduce((a, h) => a + h.used_gpus, 0) - listed);
      await sleep(20);
    }
  })();
  const cancels = [];
  const tryCancel = async (r, g) => {
    if (g.state === 'PENDING' || isTerminal(g.state)) return;
    const c = await srv.api('POST', rPath(r.cluster_id, r.instance_id, r.id, 'cancel'), { token: srv.op });
    cancels.push({ mode: r.mode, state: g.state, res: c });
  };
  const seen = await Promise.all(rems.map((r) => observeStates(srv, r, 15000, async (g) => {
    if (g.state !== 'PENDING' && !isTerminal(g.state)) {
      assert.match(g.start_time || '', RFC3339_Z, `start_time set once picked up (${g.state})`);
      assert.ok(!('end_time' in g), `no end_time while ${g.state}`);
    }
    await tryCancel(r, g);
  })));
  sampling = false;
  await sampler;
  for (let k = 0; k < rems.length; k++) {
    const r = rems[k];
    assert.ok(isSubsequence(seen[k], ORDER[r.mode]), `${r.mode}: states seen ${seen[k].join('→')} out of order`);
    assert.equal(seen[k][seen[k].length - 1], 'SUCCEEDED', `${r.mode}: ${seen[k].join('→')}`);
    if (r.mode === HOST_AWARE || r.mode === POWER_CYCLE) {
      assert.ok(seen[k].includes('QUARANTINING'), `${r.mode}: QUARANTINING observed (${seen[k].join('→')})`);
    }
    assert.ok(seen[k].includes('RUNNING'), `${r.mode}: RUNNING observed (${seen[k].join('→')})`);
    await checkSucceeded(srv, r);
  }
  assert.deepEqual(violations, [], 'placement invariants during the run');
  assert.ok(maxExtra >= 8, `a replacement's reserved slots show in used_gpus (max extra seen ${maxExtra})`);
  assert.ok(maxExtra <= 16, `at most the two replacements (VM_ONLY, HOST_AWARE) are reserved at once (saw ${maxExtra})`);
  // every cancel attempt made after pick-up failed with FAILED_PRECONDITION and changed nothing
  assert.ok(cancels.some((c) => c.state === 'RUNNING'), 'a cancel of a RUNNING remediation was tried');
  assert.ok(cancels.some((c) => c.state === 'QUARANTINING'), 'a cancel of a QUARANTINING remediation was tried');
  for (const c of cancels) expectStatus(assert, c.res, 400, 9, `cancel of ${c.mode} in ${c.state}`);
  for (const r of rems) {
    const ev = await getEvents(srv, r);
    assert.ok(!ev.some((e) => e.state === 'CANCELLED'), `${r.mode}: no CANCELLED in the timeline`);
  }
  const st = await fleetState(srv, ['s']);
  assert.deepEqual(placementViolations(fleet, st.hosts, st.nodes, { atRest: true }), []);
  assert.equal(st.hosts.reduce((a, h) => a + h.used_gpus, 0), base - 8, 'all reservations released; the evicted VM freed 8');
});

test('slow timing: QUARANTINED is observable for the host-cordoning modes (docs/http-api.md 7: "slowly enough to observe each state")', async (t) => {
  const fleet = slowFleet('q', 400);
  const srv = await engineServer(t, fleet);
  const rems = [await mustCreate(srv, 'q', 'q-i0', HOST_AWARE), await mustCreate(srv, 'q', 'q-i1', POWER_CYCLE)];
  const seen = await Promise.all(rems.map((r) => observeStates(srv, r, 15000)));
  for (let k = 0; k < rems.length; k++) {
    assert.deepEqual(seen[k], ORDER[rems[k].mode],
      `${rems[k].mode}: every state observable at 400 ms per operation; seen ${seen[k].join('→')}\n${fmtEvents(await getEvents(srv, rems[k]))}`);
  }
});

// ---------------------------------------------------------------------------------------------
test('sixteen concurrent remediations of mixed modes: all SUCCEEDED, capacity never exceeded', async (t) => {
  const instances = Array.from({ length: 16 }, (_, k) => ({
    instance_id: `p-${k}`, instance_name: `gpu-p-${k}`, num_gpus: k % 2 ? 4 : 8, host: `hp-${k}`,
  }));
  const fleet = {
    clusters: [{ cluster_id: 'p', instances }],
    hosts: [
      ...instances.map((i) => ({ host_name: i.host, gpu_slots: 8 })),
      ...Array.from({ length: 6 }, (_, k) => ({ host_name: `hp-spare-${k}`, gpu_slots: 16 })),
    ],
    timing: { cordon: 30, drain: 60, delete_vm: 40, provision_vm: 80, boot: 50, reboot: 50, power_cycle: 80 },
  };
  const srv = await engineServer(t, fleet);
  const before = await fleetState(srv, ['p']);
  const rems = await Promise.all(instances.map((i, k) => mustCreate(srv, 'p', i.instance_id, MODES[k % MODES.length])));
  let sampling = true;
  const violations = [];
  let maxActive = 0;
  const sampler = (async () => {
    while (sampling) {
      const [hosts, nodes] = [await getHosts(srv), await getNodes(srv, ['p'])];
      violations.push(...placementViolations(fleet, hosts, nodes));
      const active = Object.values(nodes).filter((n) => n.latest_remediation && !isTerminal(n.latest_remediation.state) && n.latest_remediation.state !== 'PENDING').length;
      maxActive = Math.max(maxActive, active);
      await sleep(10);
    }
  })();
  try {
    for (const r of rems) await waitState(srv, r, null, 20000);
  } finally {
    sampling = false;
    await sampler;
  }
  assert.deepEqual(violations, [], 'placement invariants while 16 remediations run');
  const st = await fleetState(srv, ['p']);
  for (const r of rems) {
    await checkSucceeded(srv, r);
    assert.deepEqual(outcomeViolations(r.mode, before.nodes[r.instance_id], st.nodes[r.instance_id], st.hosts), [], `${r.instance_id} ${r.mode}`);
  }
  assert.deepEqual(placementViolations(fleet, st.hosts, st.nodes, { atRest: true }), []);
  const hb = byHost(st.hosts);
  const wantCordoned = new Set(rems.filter((r) => r.mode === HOST_AWARE).map((r) => before.nodes[r.instance_id].host_name));
  for (const h of st.hosts) assert.equal(h.cordoned, wantCordoned.has(h.host_name), `host ${h.host_name} cordoned = ${h.cordoned}`);
  assert.ok(hb, 'hosts listed');
  assert.ok(maxActive > 1, `remediations ran concurrently (at most ${maxActive} at once seen)`);
});

test('engine.max_parallel bounds how many remediations run at once, and the rest still run', async (t) => {
  const fleet = makeFleet([{ cluster_id: 'mp', instances: 6 }], { timing: { ...ZERO_TIMING, drain: 100, reboot: 100, boot: 100 } });
  // created while paused, so that the creates cannot race the engine filling its slots
  const srv = await engineServer(t, fleet, { config: 'engine:\n  max_parallel: 2\n', enginePaused: true });
  const rems = [];
  for (let k = 0; k < 6; k++) rems.push(await mustCreate(srv, 'mp', `mp-i${k}`, REBOOT));
  assert.deepEqual((await srv.api('POST', '/v1/engine:resume')).json, { paused: false });
  let maxRunning = 0;
  let states = [];
  const done = await waitFor(async () => {
    // One list is one read transaction: a consistent snapshot, unlike six GETs at six moments.
    const page = await srv.api('GET', rPath('mp', '-'), { query: { page_size: '10' }, timeoutMs: 2000 });
    states = page.json.remediations.map((r) => r.state);
    maxRunning = Math.max(maxRunning, states.filter((s) => s === 'RUNNING').length);
    return states.length === rems.length && states.every(isTerminal);
  }, 6000, 5);
  const ev = await getEvents(srv, rems[0]);
  assert.ok(done, `six 300 ms REBOOT_VMs, two at a time, finish within 6 s; states now ${states.join(',')}\nfirst one's timeline:\n${fmtEvents(ev)}`);
  assert.ok(maxRunning <= 2, `at most 2 RUNNING at once with max_parallel 2 (saw ${maxRunning})`);
  assert.equal(maxRunning, 2, 'and 2 do run at once');
  for (const r of rems) await checkSucceeded(srv, r);
});

// ---------------------------------------------------------------------------------------------
test('cancel racing the pick-up (100 rounds): exactly one of them wins, and the timeline agrees', async (t) => {
  const N = 100;
  const fleet = makeFleet([{ cluster_id: 'r', instances: N }], {
    extraHosts: Array.from({ length: 4 }, (_, k) => ({ host_name: `r-spare${k}`, gpu_slots: 64 })),
  });
  const srv = await engineServer(t, fleet);
  const before = await getNodes(srv, ['r']);
  const outcomes = await pool(Array.from({ length: N }, (_, k) => k), 5, async (k) => {
    const mode = [VM_ONLY, REBOOT, HOST_AWARE, POWER_CYCLE, EVICT][k % 5];
    const rem = await mustCreate(srv, 'r', `r-i${k}`, mode);
    const delay = k % 4 === 0 ? 0 : Math.floor(Math.random() * 80);
    if (delay) await sleep(delay);
    const c = await srv.api('POST', rPath('r', rem.instance_id, rem.id, 'cancel'), { token: srv.op });
    return { rem, c, delay };
  });
  let cancelled = 0; let pickedUp = 0;
  // Every pick-up that won runs to its end first: by then the engine has acted on all it held,
  // so a cancelled one it (wrongly) still held would show it.
  for (const { rem, c } of outcomes) if (c.status !== 200) await waitState(srv, rem, null, 10000);
  for (const { rem, c } of outcomes) {
    const ctx = `${rem.instance_id} ${rem.mode}`;
    if (c.status === 200) {
      cancelled++;
      assert.equal(c.json.state, 'CANCELLED', ctx);
      assert.match(c.json.end_time || '', RFC3339_Z, ctx);
      const g = await getRem(srv, rem);
      const ev = await getEvents(srv, rem);
      assert.equal(g.state, 'CANCELLED', `${ctx}: cancel answered 200, later ${g.state}\n${fmtEvents(ev)}`);
      assert.ok(!('start_time' in g), `${ctx}: a cancelled one was never started: ${JSON.stringify(g)}`);
      assert.deepEqual(markers(ev), ['S:PENDING', 'S:CANCELLED'], `${ctx}: timeline\n${fmtEvents(ev)}`);
      assert.ok(!ev.some((e) => e.actor === 'engine'), `${ctx}: no engine events after a won cancel`);
    } else {
      pickedUp++;
      expectStatus(assert, c, 400, 9, `${ctx}: cancel lost the race`);
      const g = await waitState(srv, rem, null, 10000);
      const ev = await getEvents(srv, rem);
      assert.equal(g.state, 'SUCCEEDED', `${ctx}: picked up (cancel refused) but ended ${g.state}\n${fmtEvents(ev)}`);
      assert.ok(!ev.some((e) => e.state === 'CANCELLED'), `${ctx}: CANCELLED in a picked-up one's timeline`);
      assert.deepEqual(markers(ev), TIMELINE[rem.mode], `${ctx}: timeline\n${fmtEvents(ev)}`);
    }
  }
  t.diagnostic(`${cancelled} cancels won, ${pickedUp} pick-ups won`);
  assert.equal(cancelled + pickedUp, N);
  assert.ok(cancelled > 0 && pickedUp > 0, `both outcomes happen (${cancelled} cancelled, ${pickedUp} picked up)`);
  // cancelled ones' instances are untouched
  const st = await fleetState(srv, ['r']);
  for (const { rem, c } of outcomes) {
    if (c.status === 200) {
      assert.equal(st.nodes[rem.instance_id].host_name, before[rem.instance_id].host_name, `${rem.instance_id} untouched`);
      assert.equal(st.nodes[rem.instance_id].status, 'Ready');
    }
  }
  assert.deepEqual(placementViolations(fleet, st.hosts, st.nodes, { atRest: true }), []);
});

test('engine.step_timeout_s: a step that takes too long FAILS the remediation and releases its slots', async (t) => {
  const fleet = makeFleet([{ cluster_id: 'to', instances: 3 }], {
    timing: { ...ZERO_TIMING, provision_vm: 3000, power_cycle: 3000 },
    extraHosts: [{ host_name: 'to-spare', gpu_slots: 16 }],
  });
  const srv = await engineServer(t, fleet, { config: 'engine:\n  step_timeout_s: 1\n' });
  const vm = await mustCreate(srv, 'to', 'to-i0', VM_ONLY);
  const pc = await mustCreate(srv, 'to', 'to-i1', POWER_CYCLE);
  for (const [r, step] of [[vm, 'provision_vm'], [pc, 'power_cycle_host']]) {
    const g = await waitState(srv, r, null, 6000);
    const ev = await getEvents(srv, r);
    const ctx = `${r.mode}: ${JSON.stringify(g)}\n${fmtEvents(ev)}`;
    assert.equal(g.state, 'FAILED', ctx);
    r.failedAt = Number(micros(g.end_time) / 1000n);
    assert.match(g.error_message || '', new RegExp(step), `error_message names the step: ${ctx}`);
    assert.match(g.error_message || '', /time/i, `error_message says it timed out: ${ctx}`);
    const waited = Number(micros(g.end_time) - micros(g.start_time)) / 1e6;
    assert.ok(waited >= 1 && waited < 2.9, `failed after the 1 s step timeout, not after the 3 s operation (${waited} s): ${ctx}`);
    const m = markers(ev);
    assert.equal(m[m.length - 1], 'S:FAILED', ctx);
    assert.equal(ev.filter((e) => e.type === 'state_change' && isTerminal(e.state)).length, 1, ctx);
  }
  // Each 3 s operation was due at most 2 s after its remediation FAILED (the step timed out 1 s
  // into it). Wait past that moment and for two engine scans after it: an operation that could
  // still land late would have landed by then.
  const due = Math.max(...[vm, pc].map((r) => r.failedAt)) + 2000;
  while (Date.now() < due) await sleep(50);
  await scannedAfter(srv, { n: 2 });
  const hosts = await getHosts(srv);
  const nodes = await getNodes(srv, ['to']);
  assert.deepEqual(placementViolations(fleet, hosts, nodes), []);
  for (const h of hosts) {
    const listed = h.instances.reduce((a, id) => a + nodes[id].num_gpus, 0);
    assert.equal(h.used_gpus, listed, `${h.host_name}: the failed replacement's reservation was released`);
  }
  assert.deepEqual(byHost(hosts)['to-spare'].instances, [], 'the timed-out provision never landed');
  assert.equal((await getRem(srv, vm)).state, 'FAILED', 'still FAILED');
});

// ---------------------------------------------------------------------------------------------
test('engine pause holds PENDING work, lets in-flight work finish, and resume picks it up', async (t) => {
  const fleet = makeFleet([{ cluster_id: 'z', instances: 4 }], { timing: slow(150), extraHosts: [{ host_name: 'z-spare', gpu_slots: 16 }] });
  const srv = await engineServer(t, fleet);
  const e0 = await srv.api('GET', '/v1/engine');
  assert.equal(e0.status, 200, e0.text);
  assert.deepEqual(e0.json, { paused: false });
  const a = await mustCreate(srv, 'z', 'z-i0', VM_ONLY);
  await waitState(srv, a, ['RUNNING'], 5000);
  const p = await srv.api('POST', '/v1/engine:pause');
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(p.json, { paused: true });
  expectStatus(assert, await srv.api('POST', '/v1/engine:resume', { token: srv.op }), 403, 7, 'operator resumes');
  const b = await mustCreate(srv, 'z', 'z-i1', REBOOT);
  const c = await mustCreate(srv, 'z', 'z-i2', HOST_AWARE);
  const t0 = Date.now();
  // in-flight work continues while paused
  await waitState(srv, a, null, 8000);
  await checkSucceeded(srv, a);
  // a's last steps (150 ms each) ran after b and c were committed, through many of the engine's
  // rounds, each of which looks for PENDING work every 50 ms: had the pause not held b and c,
  // one of those rounds would have taken them.
  for (const r of [b, c]) {
    const g = await getRem(srv, r);
    assert.equal(g.state, 'PENDING', `${r.mode} waits while paused (${Date.now() - t0} ms)`);
    assert.ok(!('start_time' in g), 'not started while paused');
  }
  assert.deepEqual((await srv.api('GET', '/v1/engine')).json, { paused: true });
  const res = await srv.api('POST', '/v1/engine:resume');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { paused: false });
  for (const r of [b, c]) {
    await waitState(srv, r, null, 10000);
    await checkSucceeded(srv, r);
  }
});

test('serve --engine-paused: PENDING waits until resumed', async (t) => {
  const fleet = makeFleet([{ cluster_id: 'y', instances: 2 }]);
  const srv = await engineServer(t, fleet, { enginePaused: true });
  assert.deepEqual((await srv.api('GET', '/v1/engine')).json, { paused: true });
  const r = await mustCreate(srv, 'y', 'y-i0', VM_ONLY);
  await scannedAfter(srv, { n: 3 });
  const g = await getRem(srv, r);
  assert.equal(g.state, 'PENDING', 'held by --engine-paused');
  assert.ok(!('start_time' in g));
  assert.deepEqual((await srv.api('POST', '/v1/engine:resume')).json, { paused: false });
  await waitState(srv, r, null, 5000);
  await checkSucceeded(srv, r);
});

// ---------------------------------------------------------------------------------------------
test('no host with room for capacity_wait_s: VM_ONLY (of a cordoned host) and HOST_AWARE FAIL, the old VM stays, no slot leaks', async (t) => {
  const fleet = makeFleet([{ cluster_id: 'n', instances: 3, gpu_slots: 8 }]);
  const srv = await engineServer(t, fleet, { config: 'engine:\n  capacity_wait_s: 1\n' });
  // docs/http-api.md 2.1: VM_ONLY needs room elsewhere only when its own host is cordoned.
  const own = (await getNodes(srv, ['n']))['n-i0'].host_name;
  assert.equal((await srv.api('POST', `/v1/compute/hosts/${own}:cordon`)).status, 200);
  const before = await fleetState(srv, ['n']);
  const vm = await mustCreate(srv, 'n', 'n-i0', VM_ONLY);
  const ha = await mustCreate(srv, 'n', 'n-i1', HOST_AWARE);
  // while it waits for room it is picked up (RUNNING / QUARANTINING), not yet FAILED
  const mid = await waitFor(async () => {
    const [x, y] = [await getRem(srv, vm), await getRem(srv, ha)];
    return x.state === 'RUNNING' && y.state === 'QUARANTINING' ? [x, y] : null;
  }, 900, 10);
  assert.ok(mid, 'waiting for room in RUNNING (VM_ONLY) and QUARANTINING (HOST_AWARE)');
  for (const r of [vm, ha]) {
    const g = await waitState(srv, r, null, 8000);
    const ev = await getEvents(srv, r);
    const ctx = `${r.mode}: ${JSON.stringify(g)}\n${fmtEvents(ev)}`;
    assert.equal(g.state, 'FAILED', ctx);
    assert.match(g.error_message || '', /no host/i, ctx);
    assert.match(g.error_message || '', /free GPU slots/i, ctx);
    assert.match(g.end_time || '', RFC3339_Z, ctx);
    assert.match(g.start_time || '', RFC3339_Z, ctx);
    const waited = Number(micros(g.end_time) - micros(g.start_time)) / 1e6;
    assert.ok(waited >= 1 && waited < 5, `waited ${waited} s (capacity_wait_s 1): ${ctx}`);
    const m = markers(ev);
    assert.equal(m[m.length - 1], 'S:FAILED', ctx);
    assert.equal(ev.filter((e) => e.type === 'state_change' && isTerminal(e.state)).length, 1, ctx);
    for (const s of ['drain', 'delete_vm', 'provision_vm']) assert.ok(!m.includes(s), `no ${s} when no slot was reserved: ${ctx}`);
  }
  const st = await fleetState(srv, ['n']);
  for (const id of ['n-i0', 'n-i1']) {
    assert.equal(st.nodes[id].host_name, before.nodes[id].host_name, `${id}: the old VM stays where it was`);
    assert.equal(st.nodes[id].status, 'Ready', `${id}: left as it was`);
  }
  for (const h of st.hosts) {
    const h0 = byHost(before.hosts)[h.host_name];
    assert.equal(h.used_gpus, h0.used_gpus, `${h.host_name}: used_gpus back to ${h0.used_gpus}`);
    assert.deepEqual(h.instances, h0.instances, `${h.host_name}: same instances`);
  }
  assert.deepEqual(placementViolations(fleet, st.hosts, st.nodes, { atRest: true }), []);
});

test('a replacement waiting for room proceeds when room frees up within capacity_wait_s', async (t) => {
  const fleet = makeFleet([{ cluster_id: 'w', instances: 2, gpu_slots: 8 }]);
  const srv = await engineServer(t, fleet, { config: 'engine:\n  capacity_wait_s: 20\n' });
  // Its own host cordoned, VM_ONLY needs another host with room (docs/http-api.md 2.1).
  const own = (await getNodes(srv, ['w']))['w-i0'].host_name;
  assert.equal((await srv.api('POST', `/v1/compute/hosts/${own}:cordon`)).status, 200);
  const vm = await mustCreate(srv, 'w', 'w-i0', VM_ONLY);
  await waitState(srv, vm, ['RUNNING'], 3000);
  // The engine looked for room, found none and said so: only then is RUNNING "still waiting".
  const deadline = Date.now() + 5000;
  while (!(await getEvents(srv, vm)).some((e) => /waiting for a host with free GPU slots/.test(e.detail || ''))) {
    assert.ok(Date.now() < deadline, 'the remediation never said it waits for room');
    await sleep(25);
  }
  assert.equal((await getRem(srv, vm)).state, 'RUNNING', 'still waiting for room');
  const ev = await mustCreate(srv, 'w', 'w-i1', EVICT);
  await waitState(srv, ev, null, 5000);
  await checkSucceeded(srv, ev);
  await waitState(srv, vm, null, 5000);
  await checkSucceeded(srv, vm);
  const st = await fleetState(srv, ['w']);
  assert.equal(st.nodes['w-i0'].host_name, 'w-h1', 'placed on the host the eviction freed');
  assert.deepEqual(placementViolations(fleet, st.hosts, st.nodes, { atRest: true }), []);
});

// ---------------------------------------------------------------------------------------------
test('cordoned hosts are never chosen as targets, even when they have the most room', async (t) => {
  const fleet = {
    clusters: [{
      cluster_id: 'k',
      instances: [0, 1, 2, 3].map((k) => ({ instance_id: `k-${k}`, num_gpus: 8, host: `hk${k}` })),
    }],
    hosts: [
      ...[0, 1, 2, 3].map((k) => ({ host_name: `hk${k}`, gpu_slots: 8 })),
      { host_name: 'bigA', gpu_slots: 64 }, { host_name: 'bigB', gpu_slots: 64 }, { host_name: 'small', gpu_slots: 8 },
    ],
    timing: ZERO_TIMING,
  };
  const srv = await engineServer(t, fleet, { config: 'engine:\n  capacity_wait_s: 1\n' });
  const cordon = async (h, on = true) => {
    const c = await srv.api('POST', `/v1/compute/hosts/${h}:${on ? 'cordon' : 'uncordon'}`);
    assert.equal(c.status, 200, c.text);
    assert.deepEqual(c.json, { host_name: h, cordoned: on });
  };
  for (const h of ['bigA', 'bigB']) await cordon(h);
  // k-0's own host cordoned too: VM_ONLY must move, and only `small` is uncordoned with room
  await cordon('hk0');
  const r0 = await mustCreate(srv, 'k', 'k-0', VM_ONLY);
  await waitState(srv, r0, null, 5000);
  await checkSucceeded(srv, r0);
  let nodes = await getNodes(srv, ['k']);
  assert.equal(nodes['k-0'].host_name, 'small', 'VM_ONLY avoided its cordoned host and the cordoned big hosts');
  // now only hk0 (freed by k-0, uncordoned again) has room outside the cordoned hosts
  await cordon('hk0', false);
  const r1 = await mustCreate(srv, 'k', 'k-1', HOST_AWARE);
  await waitState(srv, r1, null, 5000);
  await checkSucceeded(srv, r1);
  nodes = await getNodes(srv, ['k']);
  assert.equal(nodes['k-1'].host_name, 'hk0');
  // k-2's host cordoned: only hk1 (cordoned by the HOST_AWARE) and the big hosts (cordoned by
  // the admin) have room
  await cordon('hk2');
  const r2 = await mustCreate(srv, 'k', 'k-2', VM_ONLY);
  const g2 = await waitState(srv, r2, null, 6000);
  assert.equal(g2.state, 'FAILED', `no uncordoned host has room: ${JSON.stringify(g2)}`);
  assert.match(g2.error_message || '', /free GPU slots/i);
  nodes = await getNodes(srv, ['k']);
  assert.equal(nodes['k-2'].host_name, 'hk2', 'k-2 stays put');
  // uncordoning makes a host eligible again
  const u = await srv.api('POST', '/v1/compute/hosts/bigA:uncordon');
  assert.equal(u.status, 200, u.text);
  assert.deepEqual(u.json, { host_name: 'bigA', cordoned: false });
  await cordon('hk3');
  const r3 = await mustCreate(srv, 'k', 'k-3', VM_ONLY);
  await waitState(srv, r3, null, 5000);
  await checkSucceeded(srv, r3);
  const st = await fleetState(srv, ['k']);
  assert.equal(st.nodes['k-3'].host_name, 'bigA');
  const hb = byHost(st.hosts);
  assert.deepEqual(hb.bigB.instances, [], 'nothing was placed on the cordoned bigB');
  assert.deepEqual(hb.hk1.instances, [], 'nothing was placed on hk1, cordoned by HOST_AWARE');
  assert.equal(hb.hk1.cordoned, true);
  assert.equal(hb.bigB.cordoned, true);
  assert.deepEqual(placementViolations(fleet, st.hosts, st.nodes, { atRest: true }), []);
});

test('a HOST_AWARE cordon survives a later power cycle of another instance on that host (docs/http-api.md 2.1)', async (t) => {
  const fleet = {
    clusters: [{
      cluster_id: 'cc',
      instances: [
        { instance_id: 'cc-a', num_gpus: 8, host: 'shared' },
        { instance_id: 'cc-b', num_gpus: 8, host: 'shared' },
      ],
    }],
    hosts: [{ host_name: 'shared', gpu_slots: 16 }, { host_name: 'other', gpu_slots: 16 }],
    timing: ZERO_TIMING,
  };
  const srv = await engineServer(t, fleet);
  const ha = await mustCreate(srv, 'cc', 'cc-a', HOST_AWARE);
  await waitState(srv, ha, null, 5000);
  await checkSucceeded(srv, ha);
  assert.equal(byHost(await getHosts(srv)).shared.cordoned, true, 'HOST_AWARE cordoned the suspect host');
  const pc = await mustCreate(srv, 'cc', 'cc-b', POWER_CYCLE);
  await waitState(srv, pc, null, 5000);
  const ev = await getEvents(srv, pc);
  assert.equal((await getRem(srv, pc)).state, 'SUCCEEDED', fmtEvents(ev));
  const st = await fleetState(srv, ['cc']);
  assert.equal(st.nodes['cc-b'].host_name, 'shared');
  assert.equal(byHost(st.hosts).shared.cordoned, true,
    `"after HOST_AWARE the old host stays cordoned until an operator uncordons it", but the power cycle of cc-b uncordoned it:\n${fmtEvents(ev)}`);
});

// ---------------------------------------------------------------------------------------------
test('two power cycles of one host run one after the other, and the host ends uncordoned', async (t) => {
  const fleet = {
    clusters: [{
      cluster_id: 'pc',
      instances: [
        { instance_id: 'pc-a', instance_name: 'pc-gpu-a', num_gpus: 4, host: 'pc-h1' },
        { instance_id: 'pc-b', instance_name: 'pc-gpu-b', num_gpus: 4, host: 'pc-h1' },
      ],
    }],
    hosts: [{ host_name: 'pc-h1', gpu_slots: 8 }],
    timing: { ...ZERO_TIMING, cordon: 150, drain: 150, power_cycle: 150, boot: 150 },
  };
  const srv = await engineServer(t, fleet, { enginePaused: true });
  const a = await mustCreate(srv, 'pc', 'pc-a', POWER_CYCLE);
  const b = await mustCreate(srv, 'pc', 'pc-b', POWER_CYCLE);
  assert.equal((await srv.api('POST', '/v1/engine:resume')).status, 200);
  let overlap = false;
  const done = await waitFor(async () => {
    const page = await srv.api('GET', rPath('pc', '-'), { timeoutMs: 2000 });
    const states = page.json.remediations.map((r) => r.state);
    if (states.filter((s) => !['PENDING', 'SUCCEEDED', 'FAILED', 'CANCELLED'].includes(s)).length > 1) overlap = true;
    return states.every(isTerminal);
  }, 10000, 10);
  assert.ok(done, 'both finish');
  assert.ok(!overlap, 'never both working on the host at once');
  for (const r of [a, b]) assert.equal((await getRem(srv, r)).state, 'SUCCEEDED');
  const waited = [];
  for (const r of [a, b]) {
    const ev = await getEvents(srv, r);
    if (ev.some((e) => e.step === 'claim' && /waiting: another host-level remediation is working on host pc-h1/.test(e.detail))) waited.push(r.id);
  }
  assert.equal(waited.length, 1, 'exactly one of them waited, and said so once');
  const hosts = byHost(await getHosts(srv));
  assert.equal(hosts['pc-h1'].cordoned, false, 'the host is not left cordoned');
});
