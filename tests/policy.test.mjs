// docs/http-api.md 11: the policy engine's fleet intelligence through the API: the escalation
// ladder and `attention`, a cooldown that holds a signal until it ends, the host fault ledger and
// suspect hosts (GET /v1/compute/hosts/{host}, :clear), and racks with max_active_per_rack.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  BIN, startServer, makeFleet, rPath, listAll, expectStatus, RFC3339_Z,
} from './lib/server.mjs';
import {
  VM_ONLY, HOST_AWARE, REBOOT, waitFor, waitState,
} from './lib/engine.mjs';

const WEBHOOK = '/v1/integrations/alertmanager';
const ACTIVE = ['PENDING_APPROVAL', 'PENDING', 'QUARANTINING', 'QUARANTINED', 'RUNNING'];
const servers = [];
after(async () => { for (const s of servers) await s.close(); });

async function serve(opts) {
  const srv = await startServer(opts);
  servers.push(srv);
  return srv;
}

let fpSeq = 0;
// A fresh occurrence (its own fingerprint) of a firing alert.
function firing(alertname, instanceId) {
  return {
    status: 'firing',
    labels: { alertname, instance_id: instanceId },
    annotations: {},
    startsAt: new Date().toISOString(),
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: `pol-${process.pid}-${++fpSeq}`,
  };
}

async function post(srv, alerts) {
  const r = await srv.api('POST', WEBHOOK, {
    body: { version: '4', status: 'firing', receiver: 'noderepair', alerts, groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: '', groupKey: 'k', truncatedAlerts: 0 },
  });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function active(srv, c, i) {
  return (await listAll(srv, c, i)).all.find((r) => ACTIVE.includes(r.state)) || null;
}

// The instance's remediation not in `seen`, whatever its state by now: an automatic one may
// run to its end between two looks.
async function another(srv, c, i, seen) {
  return (await listAll(srv, c, i)).all.find((r) => !seen.has(r.id)) || null;
}

async function alertByFp(srv, c, fp) {
  const r = await srv.api('GET', `/v1/compute/clusters/${c}/health/alerts`, { query: { page_size: 1000 } });
  assert.equal(r.status, 200, r.text);
  return r.json.alerts.find((a) => a.fingerprint === fp);
}

// The CLI against `srv` with its admin token; resolves {code, stdout, stderr}.
function cli(srv, args) {
  return new Promise((resolve) => {
    execFile(BIN, args, { env: { ...process.env, NODEREPAIR_SERVER: srv.base, NODEREPAIR_TOKEN: srv.adminToken }, timeout: 15000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

async function node(srv, c, i) {
  const r = await srv.api('GET', `/v1/compute/clusters/${c}`);
  assert.equal(r.status, 200, r.text);
  return r.json.gpu_worker_nodes.find((n) => n.instance_id === i);
}

test('ladder: REBOOT_VM held, fault back in the cooldown waits, then VM_ONLY, HOST_AWARE, then attention and nothing', async () => {
  const srv = await serve({
    fleet: makeFleet([{ cluster_id: 'l', instances: 2 }]),
    enginePaused: false,
    config: 'automation: {max_active_fraction: 1.0, cooldown_s: 1}\n',
  });
  const patch = await srv.api('PATCH', '/v1/compute/clusters/l', { body: { automation: { policy: 'automatic' } } });
  assert.equal(patch.status, 200, patch.text);
  const i = 'l-i0';

  assert.equal((await post(srv, [firing('NpdKernelDeadlock', i)])).remediations_created, 1);
  let r = await active(srv, 'l', i);
  assert.equal(r.mode, REBOOT);
  r = await waitState(srv, r, ['SUCCEEDED']);

  // Back within the cooldown: it waits, visible, and is taken up a rung higher when it ends.
  const back = firing('NpdKernelDeadlock', i);
  assert.equal((await post(srv, [back])).remediations_created, 0);
  const held = await alertByFp(srv, 'l', back.fingerprint);
  assert.equal(held?.waiting, true, JSON.stringify(held));
  const seen = new Set([r.id]);
  r = await waitFor(() => another(srv, 'l', i, seen), 10000);
  assert.ok(r, 'taken up when the cooldown ended');
  assert.equal(r.mode, VM_ONLY);
  assert.match(r.reason, /escalated from REMEDIATION_MODE_REBOOT_VM: the fault came back within/);
  assert.equal(r.passive_health_check_event_id, (await alertByFp(srv, 'l', back.fingerprint)).passive_health_check_alert_id);
  await waitState(srv, r, ['SUCCEEDED']);

  seen.add(r.id);
  await post(srv, [firing('NpdKernelDeadlock', i)]);
  r = await waitFor(() => another(srv, 'l', i, seen), 10000);
  assert.equal(r?.mode, HOST_AWARE);
  assert.match(r.reason, /escalated from REMEDIATION_MODE_VM_ONLY/);
  await waitState(srv, r, ['SUCCEEDED']);

  const last = firing('NpdKernelDeadlock', i);
  await post(srv, [last]);
  const n = await waitFor(async () => { const x = await node(srv, 'l', i); return x.attention ? x : null; }, 5000);
  assert.ok(n, 'attention set past the top rung');
  assert.match(n.attention, /top of the escalation ladder/);
  assert.equal(await active(srv, 'l', i), null, 'nothing is created');
  const all = (await listAll(srv, 'l', i)).all;
  assert.equal(all.length, 3);
  // The other instance never faulted: untouched.
  assert.equal((await node(srv, 'l', 'l-i1')).attention, undefined);

  const metrics = await (await fetch(`${srv.base}/metrics`)).text();
  assert.match(metrics, /noderepair_policy_decisions_total\{decision="escalation"\} 2/);
  assert.match(metrics, /noderepair_policy_decisions_total\{decision="attention"\} 1/);
});

test('suspect host: two instances faulting on one host make it suspect and cordoned; HOST_AWARE there; :clear keeps the cordon', async () => {
  const fleet = {
    clusters: [{
      cluster_id: 's', cluster_name: 's',
      instances: [
        { instance_id: 's-a', instance_name: 's-a', num_gpus: 8, host: 'sh0' },
        { instance_id: 's-b', instance_name: 's-b', num_gpus: 8, host: 'sh0' },
        { instance_id: 's-c', instance_name: 's-c', num_gpus: 8, host: 'sh1' },
      ],
    }],
    hosts: [{ host_name: 'sh0', gpu_slots: 16, rack: 'ra' }, { host_name: 'sh1', gpu_slots: 16 }],
    timing: makeFleet([]).timing,
  };
  const srv = await serve({ fleet, config: 'automation: {max_active_fraction: 1.0, suspect_host_instances: 2}\n' });
  const viewer = await srv.token('v', 'viewer');

  await post(srv, [firing('NpdKernelDeadlock', 's-a')]);
  const first = await active(srv, 's', 's-a');
  assert.equal(first.mode, REBOOT);
  let h = await srv.api('GET', '/v1/compute/hosts/sh0', { token: viewer });
  assert.equal(h.status, 200, h.text);
  assert.equal(h.json.suspect, false);
  assert.equal(h.json.rack, 'ra');

  await post(srv, [firing('GpuEccDoubleBitError', 's-b')]);
  h = await srv.api('GET', '/v1/compute/hosts/sh0', { token: viewer });
  assert.equal(h.json.suspect, true);
  assert.equal(h.json.cordoned, true);
  assert.match(h.json.suspect_reason, /2 different instances/);
  assert.deepEqual(h.json.faults.map((f) => [f.instance, f.alertname]),
    [['s-b', 'GpuEccDoubleBitError'], ['s-a', 'NpdKernelDeadlock']]);
  for (const f of h.json.faults) assert.match(f.time, RFC3339_Z);
  const second = await active(srv, 's', 's-b');
  assert.equal(second.mode, HOST_AWARE);
  assert.match(second.reason, /host sh0 is suspect/);
  assert.equal((await active(srv, 's', 's-a')).mode, HOST_AWARE, 'the waiting one is escalated in place');
  const events = await srv.api('GET', rPath('s', 's-a', first.id, 'events'));
  assert.ok(events.json.events.some((e) => e.type === 'mode_change'), JSON.stringify(events.json));
  // The list shows rack and suspicion too.
  const list = await srv.api('GET', '/v1/compute/hosts');
  const sh0 = list.json.hosts.find((x) => x.host_name === 'sh0');
  assert.equal(sh0.suspect, true);
  assert.equal(sh0.rack, 'ra');
  assert.equal(list.json.hosts.find((x) => x.host_name === 'sh1').suspect, false);

  const got = await cli(srv, ['hosts', 'get', 'sh0']);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, /Suspect:\s+yes/);
  assert.match(got.stdout, /GpuEccDoubleBitError/);

  expectStatus(assert, await srv.api('POST', '/v1/compute/hosts/sh0:clear', { token: viewer }), 403, 7, 'viewer');
  expectStatus(assert, await srv.api('POST', '/v1/compute/hosts/nope:clear'), 404, 5, 'unknown host');
  expectStatus(assert, await srv.api('GET', '/v1/compute/hosts/nope'), 404, 5, 'unknown host');
  const cleared = await cli(srv, ['hosts', 'clear', 'sh0']);
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.match(cleared.stdout, /sh0: not suspect \(still cordoned\)/);
  h = await srv.api('GET', '/v1/compute/hosts/sh0');
  assert.equal(h.json.suspect, false);
  assert.equal(h.json.cordoned, true, 'the cordon stays');
});

test('racks: max_active_per_rack is exact under a storm of concurrent webhooks, and a freed slot is taken up', async () => {
  const racks = 4;
  const perRack = 5;
  const fleet = makeFleet([{ cluster_id: 'r', instances: racks * perRack }]);
  const rackOf = {};
  fleet.hosts.forEach((h, k) => { h.rack = `rack${Math.floor(k / perRack)}`; rackOf[h.host_name] = h.rack; });
  const srv = await serve({ fleet, config: 'automation: {max_active_fraction: 1.0, max_active_per_rack: 2}\n' });
  const hostOf = Object.fromEntries(fleet.clusters[0].instances.map((i) => [i.instance_id, i.host]));
  const names = ['NpdKernelDeadlock', 'GpuEccDoubleBitError', 'NpdXfsShutdown', 'DmesgGpuFallenOffBus', 'KubeNodeMemoryPressure'];
  const results = await Promise.all(names.map((name) => post(srv, Object.keys(hostOf).map((i) => firing(name, i)))));
  assert.equal(results.reduce((n, r) => n + r.remediations_created, 0), racks * 2);

  const perRackActive = async () => {
    const counts = {};
    for (const i of Object.keys(hostOf)) {
      if (await active(srv, 'r', i)) counts[rackOf[hostOf[i]]] = (counts[rackOf[hostOf[i]]] || 0) + 1;
    }
    return counts;
  };
  const counts = await perRackActive();
  assert.deepEqual(counts, { rack0: 2, rack1: 2, rack2: 2, rack3: 2 });
  const hosts = await srv.api('GET', '/v1/compute/hosts');
  assert.equal(hosts.json.hosts.find((h) => h.host_name === fleet.hosts[0].host_name).rack, 'rack0');

  // Free one slot of rack0: the sweeper fills it from rack0's waiting signals, no more.
  const inRack0 = Object.keys(hostOf).filter((i) => rackOf[hostOf[i]] === 'rack0');
  let victim = null;
  for (const i of inRack0) victim = victim || await active(srv, 'r', i);
  const c = await srv.api('POST', rPath('r', victim.instance_id, victim.id, 'cancel'));
  assert.equal(c.status, 200, c.text);
  const refilled = await waitFor(async () => {
    const now = await perRackActive();
    return now.rack0 === 2 ? now : null;
  }, 5000, 100);
  assert.deepEqual(refilled, { rack0: 2, rack1: 2, rack2: 2, rack3: 2 });
});

test('incidents: six signals from one rack (threshold 5) open one incident; nothing active until released, then under the limits', async () => {
  const fleet = makeFleet([{ cluster_id: 'n', instances: 8 }]);
  fleet.hosts.forEach((h, k) => { h.rack = k < 6 ? 'nr0' : 'nr1'; });
  const srv = await serve({ fleet, config: 'automation: {max_active_fraction: 1.0, incident_threshold: 5, max_active_per_rack: 2}\n' });
  const [viewer, approver] = await Promise.all([srv.token('v', 'viewer'), srv.token('a', 'approver')]);
  const created = [];
  for (let k = 0; k < 6; k++) created.push((await post(srv, [firing('NpdKernelDeadlock', `n-i${k}`)])).remediations_created);
  assert.deepEqual(created, [1, 1, 0, 0, 0, 0], 'two under the rack limit, then the incident');
  const rackActive = async () => {
    let n = 0;
    for (let k = 0; k < 6; k++) if (await active(srv, 'n', `n-i${k}`)) n++;
    return n;
  };
  assert.equal(await rackActive(), 0, 'the two waiting for approval were cancelled');
  const cancelled = (await listAll(srv, 'n', 'n-i0')).all[0];
  assert.equal(cancelled.state, 'CANCELLED');
  assert.equal(cancelled.reviewed_by, 'system:incidents');

  const list = await srv.api('GET', '/v1/compute/clusters/n/incidents', { token: viewer });
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.incidents.length, 1);
  const inc = list.json.incidents[0];
  assert.equal(inc.state, 'OPEN');
  assert.equal(inc.scope, 'rack:nr0');
  assert.equal(inc.signals, 6);
  assert.deepEqual([...inc.instances].sort(), ['n-i0', 'n-i1', 'n-i2', 'n-i3', 'n-i4', 'n-i5']);
  assert.match(inc.first_seen, RFC3339_Z);
  assert.match(inc.last_seen, RFC3339_Z);
  // Another rack is not covered.
  assert.equal((await post(srv, [firing('NpdKernelDeadlock', 'n-i6')])).remediations_created, 1);

  const path = `/v1/compute/clusters/n/incidents/${inc.id}`;
  expectStatus(assert, await srv.api('POST', `${path}:release`, { token: viewer }), 403, 7, 'viewer');
  expectStatus(assert, await srv.api('POST', '/v1/compute/clusters/n/incidents/nope:release', { token: approver }), 404, 5, 'unknown');
  const rel = await srv.api('POST', `${path}:release`, { token: approver });
  assert.equal(rel.status, 200, rel.text);
  assert.equal(rel.json.state, 'RELEASED');
  expectStatus(assert, await srv.api('POST', `${path}:dismiss`, { token: approver }), 400, 9, 'already closed');
  // Handed back: considered again under the rack's limit of two.
  assert.equal(await waitFor(async () => ((await rackActive()) === 2 ? 2 : null), 5000, 100), 2);

  const shown = await cli(srv, ['incidents', 'list', '-c', 'n']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /rack:nr0\s+RELEASED/);
});
