// docs/http-api.md 4.7 (inventory), 4.8 (events), 6 (--demo, health endpoints).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, rPath, create, expectStatus, findNullOrEmpty, micros, RFC3339_Z, ZERO_TIMING,
} from './lib/server.mjs';

const FLEET = {
  clusters: [
    {
      cluster_id: 'inv', cluster_name: 'train-inv',
      instances: [
        { instance_id: 'i-a', instance_name: 'gpu-a', num_gpus: 8, host: 'h1' },
        { instance_id: 'i-b', instance_name: 'gpu-b', num_gpus: 8, host: 'h1' },
        { instance_id: 'i-c', instance_name: 'gpu-c', num_gpus: 4, host: 'h2' },
      ],
    },
    {
      cluster_id: 'inv2', cluster_name: 'train-inv2',
      instances: [{ instance_id: 'i-d', instance_name: 'gpu-d', num_gpus: 8, host: 'h2' }],
    },
  ],
  hosts: [
    { host_name: 'h1', gpu_slots: 16 },
    { host_name: 'h2', gpu_slots: 16 },
    { host_name: 'h3', gpu_slots: 8 },
  ],
  timing: ZERO_TIMING,
};

let srv;
let viewer; let op;
const servers = [];

before(async () => {
  srv = await startServer({ fleet: FLEET });
  servers.push(srv);
  viewer = await srv.token('viv', 'viewer');
  op = await srv.token('alice', 'operator');
});

after(async () => { for (const s of servers) await s.close(); });

const nodeOf = (cluster, id) => cluster.gpu_worker_nodes.find((n) => n.instance_id === id);

test('GET /v1/compute/clusters lists every cluster', async () => {
  const r = await srv.api('GET', '/v1/compute/clusters', { token: viewer });
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json.clusters));
  const byId = Object.fromEntries(r.json.clusters.map((c) => [c.cluster_id, c]));
  assert.deepEqual(Object.keys(byId).sort(), ['inv', 'inv2']);
  assert.equal(byId.inv.cluster_name, 'train-inv');
  assert.equal(byId.inv2.cluster_name, 'train-inv2');
  for (const c of r.json.clusters) {
    assert.equal(typeof c.status, 'string');
    assert.ok(c.status.length > 0);
  }
});

test('GET /v1/compute/clusters/{id}: worker nodes with instance_id, node_name, host_name, status, num_gpus', async () => {
  const r = await srv.api('GET', '/v1/compute/clusters/inv', { token: viewer });
  assert.equal(r.status, 200, r.text);
  const c = r.json;
  assert.equal(c.cluster_id, 'inv');
  assert.equal(c.cluster_name, 'train-inv');
  assert.equal(typeof c.status, 'string');
  assert.equal(c.gpu_worker_nodes.length, 3);
  const want = { 'i-a': ['gpu-a', 'h1', 8], 'i-b': ['gpu-b', 'h1', 8], 'i-c': ['gpu-c', 'h2', 4] };
  for (const [id, [name, host, gpus]] of Object.entries(want)) {
    const n = nodeOf(c, id);
    assert.ok(n, `node ${id}`);
    assert.equal(n.node_name, name, 'node_name is the instance_name');
    assert.equal(n.host_name, host);
    assert.equal(n.num_gpus, gpus);
    assert.equal(typeof n.status, 'string');
    assert.ok(n.status.length > 0);
    assert.ok(!('latest_remediation' in n) || n.latest_remediation === undefined, 'no remediation yet → omitted');
  }
  assert.deepEqual(findNullOrEmpty(c), [], 'no null or "" fields');
  expectStatus(assert, await srv.api('GET', '/v1/compute/clusters/nope', { token: viewer }), 404, 5, 'unknown cluster');
  expectStatus(assert, await srv.api('GET', '/v1/compute/clusters/inv', { token: null }), 401, 16, 'no token');
});

function latestId(node) {
  const l = node.latest_remediation;
  if (l === undefined) return undefined;
  return typeof l === 'string' ? l : l.id;
}

test('latest_remediation follows creates and cancels', async () => {
  const a = await create(srv, 'inv', 'i-a', { mode: 'REMEDIATION_MODE_REBOOT_VM', reason: 'inv', token: op });
  assert.equal(a.status, 200, a.text);
  let c = (await srv.api('GET', '/v1/compute/clusters/inv', { token: viewer })).json;
  assert.equal(latestId(nodeOf(c, 'i-a')), a.json.id);
  if (typeof nodeOf(c, 'i-a').latest_remediation === 'object') {
    assert.equal(nodeOf(c, 'i-a').latest_remediation.state, 'PENDING');
  }
  assert.equal(latestId(nodeOf(c, 'i-b')), undefined);
  const x = await srv.api('POST', rPath('inv', 'i-a', a.json.id, 'cancel'), { token: op });
  assert.equal(x.status, 200, x.text);
  c = (await srv.api('GET', '/v1/compute/clusters/inv', { token: viewer })).json;
  if (typeof nodeOf(c, 'i-a').latest_remediation === 'object') {
    assert.equal(nodeOf(c, 'i-a').latest_remediation.state, 'CANCELLED');
  }
  const b = await create(srv, 'inv', 'i-a', { mode: 'REMEDIATION_MODE_VM_ONLY', token: op });
  assert.equal(b.status, 200, b.text);
  c = (await srv.api('GET', '/v1/compute/clusters/inv', { token: viewer })).json;
  assert.equal(latestId(nodeOf(c, 'i-a')), b.json.id, 'the newest one');
  assert.deepEqual(findNullOrEmpty(c), []);
});

test('GET /v1/compute/hosts: slots, used GPUs, cordoned, instances', async () => {
  const r = await srv.api('GET', '/v1/compute/hosts', { token: viewer });
  assert.equal(r.status, 200, r.text);
  const byName = Object.fromEntries(r.json.hosts.map((h) => [h.host_name, h]));
  assert.deepEqual(Object.keys(byName).sort(), ['h1', 'h2', 'h3']);
  const want = { h1: [16, 16, ['i-a', 'i-b']], h2: [16, 12, ['i-c', 'i-d']], h3: [8, 0, []] };
  for (const [name, [slots, used, insts]] of Object.entries(want)) {
    const h = byName[name];
    assert.equal(h.gpu_slots, slots, `${name} gpu_slots`);
    assert.equal(h.used_gpus, used, `${name} used_gpus`);
    assert.equal(h.cordoned, false, `${name} cordoned`);
    assert.deepEqual([...(h.instances || [])].sort(), insts, `${name} instances`);
  }
});

test('cordon and uncordon a host (admin only)', async (t) => {
  const probe = await srv.api('POST', '/v1/compute/hosts/h3:cordon', { token: viewer });
  if (probe.status === 404) { t.skip('POST /v1/compute/hosts/{host}:cordon not implemented yet (404 for a known host)'); return; }
  expectStatus(assert, await srv.api('POST', '/v1/compute/hosts/h3:cordon', { token: op }), 403, 7, 'operator cordons');
  const c = await srv.api('POST', '/v1/compute/hosts/h3:cordon');
  assert.equal(c.status, 200, c.text);
  let h = (await srv.api('GET', '/v1/compute/hosts', { token: viewer })).json.hosts.find((x) => x.host_name === 'h3');
  assert.equal(h.cordoned, true);
  const u = await srv.api('POST', '/v1/compute/hosts/h3:uncordon');
  assert.equal(u.status, 200, u.text);
  h = (await srv.api('GET', '/v1/compute/hosts', { token: viewer })).json.hosts.find((x) => x.host_name === 'h3');
  assert.equal(h.cordoned, false);
  expectStatus(assert, await srv.api('POST', '/v1/compute/hosts/nope:cordon'), 404, 5, 'unknown host');
});

test('events: creation and cancel, oldest first, with time/type/state/actor', async () => {
  const a = await create(srv, 'inv', 'i-c', { mode: 'REMEDIATION_MODE_VM_ONLY', reason: 'events', token: op });
  assert.equal(a.status, 200, a.text);
  const p = rPath('inv', 'i-c', a.json.id) + '/events';
  let e = await srv.api('GET', p, { token: viewer });
  assert.equal(e.status, 200, e.text);
  assert.ok(Array.isArray(e.json.events));
  assert.equal(e.json.events.length, 1, JSON.stringify(e.json));
  const created = e.json.events[0];
  assert.match(created.time, RFC3339_Z);
  assert.equal(typeof created.type, 'string');
  assert.ok(created.type.length > 0);
  assert.equal(created.state, 'PENDING');
  assert.equal(created.actor, 'alice');
  assert.deepEqual(findNullOrEmpty(e.json), []);

  const canceller = await srv.token('carl', 'operator');
  const x = await srv.api('POST', rPath('inv', 'i-c', a.json.id, 'cancel'), { token: canceller });
  assert.equal(x.status, 200, x.text);
  e = await srv.api('GET', p, { token: viewer });
  assert.equal(e.json.events.length, 2, JSON.stringify(e.json));
  const [first, second] = e.json.events;
  assert.deepEqual(first, created, 'history does not change');
  assert.equal(second.state, 'CANCELLED');
  assert.equal(second.actor, 'carl');
  assert.match(second.time, RFC3339_Z);
  assert.ok(micros(second.time) >= micros(first.time), 'oldest first');
  assert.equal(second.time, x.json.update_time, 'the event time is the transition time');
  assert.deepEqual(findNullOrEmpty(e.json), []);

  // a failed transition records nothing
  await srv.api('POST', rPath('inv', 'i-c', a.json.id, 'cancel'), { token: op });
  e = await srv.api('GET', p, { token: viewer });
  assert.equal(e.json.events.length, 2);

  expectStatus(assert, await srv.api('GET', rPath('inv', 'i-b', a.json.id) + '/events', { token: viewer }), 404, 5, 'events under another instance');
  expectStatus(assert, await srv.api('GET', rPath('inv', 'i-c', 'nope') + '/events', { token: viewer }), 404, 5, 'events of unknown remediation');
  expectStatus(assert, await srv.api('GET', p, { token: null }), 401, 16, 'events need a token');
});

test('/healthz and /readyz answer 200 without a token', async () => {
  for (const path of ['/healthz', '/readyz']) {
    const r = await srv.api('GET', path, { token: null });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    const withTok = await srv.api('GET', path, { token: viewer });
    assert.equal(withTok.status, 200);
  }
});

test('--demo starts an embedded fleet that works with no other setup', async () => {
  const demo = await startServer({ demo: true });
  servers.push(demo);
  assert.ok(demo.adminToken, 'the demo prints an admin token on first start');
  const l = await demo.api('GET', '/v1/compute/clusters');
  assert.equal(l.status, 200, l.text);
  assert.ok(l.json.clusters.length > 0, 'demo has clusters');
  const cid = l.json.clusters[0].cluster_id;
  const c = await demo.api('GET', `/v1/compute/clusters/${encodeURIComponent(cid)}`);
  assert.equal(c.status, 200, c.text);
  assert.ok(c.json.gpu_worker_nodes.length > 0, 'demo cluster has worker nodes');
  const node = c.json.gpu_worker_nodes[0];
  assert.ok(node.instance_id && node.node_name && node.host_name);
  const h = await demo.api('GET', '/v1/compute/hosts');
  assert.equal(h.status, 200, h.text);
  assert.ok(h.json.hosts.length > 0);
  const r = await create(demo, cid, node.instance_id, { mode: 'REMEDIATION_MODE_REBOOT_VM', reason: 'demo' });
  assert.equal(r.status, 200, r.text);
  const g = await demo.api('GET', rPath(cid, node.instance_id, r.json.id));
  assert.equal(g.status, 200, g.text);
  const ids = new Set();
  for (const cl of l.json.clusters) {
    const cc = await demo.api('GET', `/v1/compute/clusters/${encodeURIComponent(cl.cluster_id)}`);
    for (const n of cc.json.gpu_worker_nodes) {
      assert.ok(!ids.has(n.instance_id), `instance ids unique across the fleet: ${n.instance_id}`);
      ids.add(n.instance_id);
    }
  }
});
