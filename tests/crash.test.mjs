// docs/http-api.md 2.1, 4.7, 6 ("after a restart, in-flight remediations resume within 10 s"): kill -9 the
// server again and again while slow remediations of every mode run, restart it on the same
// database, and check that everything finishes exactly once and the fleet stays consistent.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, create, sleep, MODES, micros } from './lib/server.mjs';
import {
  VM_ONLY, HOST_AWARE, EVICT, REBOOT, POWER_CYCLE, TIMELINE, markers, fmtEvents, getRem, getEvents,
  getHosts, byHost, getNodes, placementViolations, isTerminal,
} from './lib/engine.mjs';

const servers = [];
after(async () => { for (const s of servers) await s.close(); });

const N = 20;
const ROUNDS = 30;
const ROUNDS_BUDGET_MS = 45000;

function crashFleet() {
  // Every instance fills its own host, so replacements go to the spares or to hosts that
  // VM_ONLY / EVICT emptied; the power-cycled hosts never receive another VM.
  const instances = Array.from({ length: N }, (_, k) => ({
    instance_id: `k9-${k}`, instance_name: `gpu-k9-${k}`, num_gpus: k % 3 === 2 ? 4 : 8, host: `hk9-${k}`,
  }));
  return {
    clusters: [{ cluster_id: 'k9', cluster_name: 'crash', instances }],
    hosts: [
      ...instances.map((i) => ({ host_name: i.host, gpu_slots: i.num_gpus })),
      ...Array.from({ length: 16 }, (_, k) => ({ host_name: `hk9-spare-${k}`, gpu_slots: 16 })),
    ],
    timing: { cordon: 100, drain: 200, delete_vm: 150, provision_vm: 300, boot: 200, reboot: 250, power_cycle: 300 },
  };
}

test('kill -9 at random moments while remediations run: all finish once, placement stays consistent', async (t) => {
  const fleet = crashFleet();
  const srv = new Server({ fleet, enginePaused: false });
  servers.push(srv);
  await srv.start();
  const op = await srv.token('op', 'operator');
  const nodes0 = await getNodes(srv, ['k9']);
  // id → {rem, hostBefore, startTime}
  const tracked = new Map();
  const latest = new Map(); // instance → remediation id
  const track = async (inst, mode, rid) => {
    const before = await getNodes(srv, ['k9']);
    const r = await create(srv, 'k9', inst, { mode, token: op, remediationId: rid, reason: `crash test ${mode}` });
    assert.equal(r.status, 200, `create ${mode} on ${inst}: ${r.text}`);
    tracked.set(r.json.id, { rem: r.json, hostBefore: before[inst].host_name, startTime: null });
    latest.set(inst, r.json.id);
  };
  for (let k = 0; k < N; k++) await track(`k9-${k}`, MODES[k % MODES.length], `first-${k}`);

  const t0 = Date.now();
  let rounds = 0; let wave2 = 0; let haMore = 0;
  for (let round = 0; round < ROUNDS && Date.now() - t0 < ROUNDS_BUDGET_MS; round++) {
    await sleep(Math.floor(Math.random() * 800));
    await srv.kill9();
    await srv.start();
    rounds++;
    // every acknowledged remediation is there; once started, it keeps its start_time
    for (const [id, x] of tracked) {
      const g = await getRem(srv, x.rem);
      assert.equal(g.id, id);
      if (g.start_time) {
        if (x.startTime) assert.equal(g.start_time, x.startTime, `${id}: start_time changed across a restart (picked up twice?)`);
        x.startTime = g.start_time;
      }
    }
    // invariants that hold even with work in flight
    const [hosts, nodes] = [await getHosts(srv), await getNodes(srv, ['k9'])];
    assert.deepEqual(placementViolations(fleet, hosts, nodes), [], `round ${round}: placement while in flight`);
    // a few more remediations for instances whose last one finished (no HOST_POWER_CYCLE: its
    // uncordon would race a HOST_AWARE cordon of a shared host; a few HOST_AWARE)
    if (round >= 1) {
      let made = 0;
      for (let k = 0; k < N && made < 3; k++) {
        const inst = `k9-${(k + round * 7) % N}`;
        const last = tracked.get(latest.get(inst));
        const g = await getRem(srv, last.rem);
        if (!isTerminal(g.state)) continue;
        const evicted = (await getNodes(srv, ['k9']))[inst].host_name === undefined;
        let mode = [VM_ONLY, REBOOT, HOST_AWARE][(round + made) % 3];
        if (mode === HOST_AWARE && haMore >= 4) mode = REBOOT;
        if (evicted) mode = VM_ONLY;
        if (mode === HOST_AWARE) haMore++;
        await track(inst, mode, `more-${round}-${made}`);
        made++; wave2++;
      }
    }
  }
  t.diagnostic(`${rounds} kill -9 rounds in ${Date.now() - t0} ms, ${tracked.size} remediations (${wave2} created between rounds)`);

  // one last crash, then everything in flight must move on within 10 s and finish
  await srv.kill9();
  await srv.start();
  const progress = new Map();
  for (const [id, x] of tracked) {
    const g = await getRem(srv, x.rem);
    if (!isTerminal(g.state)) progress.set(id, { events: (await getEvents(srv, x.rem)).length, state: g.state });
  }
  t.diagnostic(`${progress.size} remediations unfinished at the last restart`);
  const restartAt = Date.now();
  const stalled = new Set(progress.keys());
  const unfinished = new Set(progress.keys());
  while ((stalled.size || unfinished.size) && Date.now() - restartAt < 25000) {
    for (const id of [...unfinished]) {
      const x = tracked.get(id);
      const g = await getRem(srv, x.rem);
      if (stalled.has(id) && (isTerminal(g.state) || (await getEvents(srv, x.rem)).length > progress.get(id).events)) {
        stalled.delete(id);
        const late = Date.now() - restartAt;
        if (late > 11000) {
          // what the server and the timeline said, so a slow resume can be told apart from a lost one
          const ev = await getEvents(srv, x.rem);
          const stderr = srv.starts.at(-1).stderr.split('\n').slice(-40).join('\n');
          assert.fail(`${id} (${x.rem.mode}, ${g.state}) resumed only ${late} ms after the restart\n${fmtEvents(ev)}\nserver stderr:\n${stderr}`);
        }
      }
      if (isTerminal(g.state)) unfinished.delete(id);
    }
    await sleep(50);
  }
  assert.deepEqual([...stalled], [], 'remediations that made no progress within 10 s of the restart');
  assert.deepEqual([...unfinished], [], 'remediations not terminal 25 s after the last restart');

  // every remediation SUCCEEDED exactly once, with its workflow's timeline
  for (const [id, x] of tracked) {
    const g = await getRem(srv, x.rem);
    const ev = await getEvents(srv, x.rem);
    const ctx = `${id} ${x.rem.instance_id} ${x.rem.mode}: ${JSON.stringify(g)}\n${fmtEvents(ev)}`;
    assert.equal(g.state, 'SUCCEEDED', ctx);
    if (x.startTime) assert.equal(g.start_time, x.startTime, `start_time kept: ${ctx}`);
    const terminal = ev.filter((e) => e.type === 'state_change' && isTerminal(e.state));
    assert.equal(terminal.length, 1, `exactly one terminal state_change: ${ctx}`);
    assert.equal(ev[ev.length - 1], terminal[0], `the terminal state_change is the last event: ${ctx}`);
    assert.deepEqual(markers(ev), TIMELINE[x.rem.mode], `timeline: ${ctx}`);
    for (let k = 1; k < ev.length; k++) assert.ok(micros(ev[k - 1].time) <= micros(ev[k].time), `events oldest first: ${ctx}`);
  }

  // the fleet at rest
  const [hosts, nodes] = [await getHosts(srv), await getNodes(srv, ['k9'])];
  assert.deepEqual(placementViolations(fleet, hosts, nodes, { atRest: true }), [], 'placement at rest');
  const hb = byHost(hosts);
  const haSources = new Set([...tracked.values()].filter((x) => x.rem.mode === HOST_AWARE).map((x) => x.hostBefore));
  for (const [inst, id] of latest) {
    const x = tracked.get(id);
    const n = nodes[inst];
    const ctx = `${inst} after ${x.rem.mode} (was on ${x.hostBefore})`;
    if (x.rem.mode === EVICT) {
      assert.equal(n.host_name, undefined, ctx);
      assert.equal(n.status, 'Evicted', ctx);
      continue;
    }
    assert.equal(n.status, 'Ready', ctx);
    assert.ok(n.host_name, ctx);
    if (x.rem.mode === REBOOT || x.rem.mode === POWER_CYCLE) assert.equal(n.host_name, x.hostBefore, `same host: ${ctx}`);
    if (x.rem.mode === HOST_AWARE) assert.notEqual(n.host_name, x.hostBefore, `different host: ${ctx}`);
    assert.equal(n.latest_remediation?.id, id, ctx);
  }
  for (const h of hosts) {
    assert.equal(h.cordoned, haSources.has(h.host_name),
      `host ${h.host_name}: cordoned ${h.cordoned}; only HOST_AWARE's old hosts stay cordoned (HOST_POWER_CYCLE uncordons)`);
  }
  for (const h of Object.values(nodes0)) assert.ok(hb[h.host_name], `host ${h.host_name} still listed`);
  // the simulated world runs exactly the VMs the engine's records say: none doubled or lost
  const vms = (await srv.api('GET', '/v1/sim/vms')).json.vms;
  const runs = {};
  for (const v of vms) (runs[v.instance_id] ||= []).push(v.host_name);
  for (const [id, n] of Object.entries(nodes)) {
    assert.deepEqual(runs[id] || [], n.host_name === undefined ? [] : [n.host_name], `${id}: the world and the records`);
  }
  // the fleet file, imported again on every start, never undid what the engine did
  const moved = [...latest.values()].filter((id) => [VM_ONLY, HOST_AWARE].includes(tracked.get(id).rem.mode));
  assert.ok(moved.length > 0);
});
