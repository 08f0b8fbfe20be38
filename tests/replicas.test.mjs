// docs/http-api.md 12: three replicas on one PostgreSQL database. Any replica serves the whole
// API; engine work is shared under leases (engine.lease_s) and taken over when a replica dies;
// a replica paused past its lease commits nothing stale; a replica cut off from the database
// answers 503 within 5 s and recovers; the blast radius stays exact with alerts arriving
// through all three; the database restarting under load loses nothing acknowledged.
// Runs on a private PostgreSQL server of its own (tools/private-postgres.sh), in the PostgreSQL
// pass of `make test` only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import {
  TEST_PG, Server, privatePostgresServer, makeFleet, rPath, create, listAll, createPgDatabase, sleep,
} from './lib/server.mjs';
import { waitFor, getEvents, getHosts, byHost } from './lib/engine.mjs';
import { Lab } from './lib/lab.mjs';
import { EventStream } from './lib/sse.mjs';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const skip = !TEST_PG ? 'PostgreSQL pass only (NODEREPAIR_TEST_PG)'
  : (existsSync(`${PG_BIN}/pg_ctl`) ? false : `needs PostgreSQL 15 in ${PG_BIN}`);
const VM = 'REMEDIATION_MODE_VM_ONLY';
const LEASE_S = 2;
const WEBHOOK = '/v1/integrations/alertmanager';
const ACTIVE = ['PENDING_APPROVAL', 'PENDING', 'QUARANTINING', 'QUARANTINED', 'RUNNING'];

let pgDir;
let base;

const privatePostgres = (verb) => privatePostgresServer(verb, pgDir);

const servers = [];
after(async () => {
  for (const s of servers) {
    if (s.proc) { try { s.proc.kill('SIGCONT'); } catch { /* gone */ } }
    await s.close();
  }
  if (pgDir) {
    await privatePostgres('stop');
    rmSync(pgDir, { recursive: true, force: true });
  }
});

before(async () => {
  if (skip) return;
  pgDir = mkdtempSync(path.join(tmpdir(), 'noderepair-replicas-'));
  base = await privatePostgres('start');
});

const config = (extra = '') => `engine:\n  lease_s: ${LEASE_S}\n${extra}`;

// Three replicas A, B, C on one new database; the fleet is imported by each (the same file).
async function threeReplicas(fleet, { extraConfig = '', db } = {}) {
  const uri = db || createPgDatabase(base);
  const out = [];
  for (const id of ['A', 'B', 'C']) {
    const s = new Server({ fleet, db: uri, enginePaused: false, config: config(extraConfig), extraArgs: ['--replica-id', id] });
    servers.push(s);
    await s.start();
    out.push(s);
  }
  const admin = out.find((s) => s.adminToken).adminToken;
  for (const s of out) s.adminToken = admin;
  return out;
}

async function closeAll(list) {
  for (const s of list) {
    if (s.proc) { try { s.proc.kill('SIGCONT'); } catch { /* gone */ } }
    await s.close();
  }
}

const stop = (s) => s.proc.kill('SIGSTOP');
const cont = (s) => s.proc.kill('SIGCONT');

async function vms(srv) {
  const r = await srv.api('GET', '/v1/sim/vms');
  assert.equal(r.status, 200, r.text);
  return r.json.vms;
}

function assertOneVmPerInstance(list, instances) {
  const by = new Map();
  for (const vm of list) by.set(vm.instance_id, (by.get(vm.instance_id) || 0) + 1);
  for (const i of instances) assert.equal(by.get(i), 1, `instance ${i} has exactly one VM: ${JSON.stringify(list.filter((v) => v.instance_id === i))}`);
}

async function states(srv, c) {
  return (await listAll(srv, c, '-')).all;
}

// Creates N VM_ONLY remediations through `holder` while `others` are stopped (SIGSTOP), so the
// holder surely claims them all; resolves their ids once all are RUNNING. `others` stay stopped.
async function claimAllOn(holder, others, c, N) {
  for (const o of others) stop(o);
  const made = [];
  for (let k = 0; k < N; k++) {
    const m = await create(holder, c, `${c}-i${k}`, { mode: VM });
    assert.equal(m.status, 200, m.text);
    made.push(m.json.id);
  }
  const running = await waitFor(async () => {
    const all = await states(holder, c);
    return all.length === N && all.every((r) => r.state === 'RUNNING') ? all : null;
  }, 10000, 50);
  assert.ok(running, `${c}: the holder claimed every remediation`);
  return made;
}

async function metric(srv, name) {
  const r = await srv.api('GET', '/metrics', { token: null });
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : NaN;
}

test('three replicas: create through A, get through B, list through C; /v1/replicas names them and one leader', { skip }, async () => {
  const fleet = makeFleet([{ cluster_id: 'k', instances: 6 }]);
  const [a, b, c] = await threeReplicas(fleet);
  try {
    const made = await create(a, 'k', 'k-i0', { mode: VM });
    assert.equal(made.status, 200, made.text);
    const got = await b.api('GET', rPath('k', 'k-i0', made.json.id));
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.id, made.json.id);
    const listed = await listAll(c, 'k', 'k-i0');
    assert.deepEqual(listed.all.map((r) => r.id), [made.json.id]);
    const replicas = await waitFor(async () => {
      const r = await c.api('GET', '/v1/replicas');
      assert.equal(r.status, 200, r.text);
      const leaders = r.json.replicas.filter((x) => x.leader);
      return leaders.length === 1 ? r.json.replicas : null;
    }, 5000, 100);
    assert.ok(replicas, 'exactly one leader');
    assert.deepEqual(replicas.map((r) => r.id), ['A', 'B', 'C']);
    for (const r of replicas) {
      assert.ok(Date.parse(r.last_seen) >= Date.parse(r.started_at), JSON.stringify(r));
    }
    // Viewers do not list replicas: admin only.
    const viewer = await a.token('v', 'viewer');
    assert.equal((await a.api('GET', '/v1/replicas', { token: viewer })).status, 403);
    // The leader stops: another takes the lead within two leases.
    const leader = replicas.find((r) => r.leader).id;
    const srv = { A: a, B: b, C: c }[leader];
    const other = leader === 'A' ? b : a;
    await srv.stop();
    const next = await waitFor(async () => {
      const r = await other.api('GET', '/v1/replicas');
      const l = r.json.replicas.find((x) => x.leader);
      return l && l.id !== leader ? l.id : null;
    }, 2 * LEASE_S * 1000 + 2000, 100);
    assert.ok(next, `another replica leads after ${leader} stopped`);
  } finally {
    await closeAll([a, b, c]);
  }
});

test('three replicas: creates round-robin all succeed, each instance keeps exactly one VM', { skip }, async () => {
  const N = 24;
  const fleet = makeFleet([{ cluster_id: 'rr', instances: N, gpu_slots: 16 }]);
  const list = await threeReplicas(fleet);
  try {
    const made = await Promise.all(Array.from({ length: N }, (_, k) => create(list[k % 3], 'rr', `rr-i${k}`, { mode: VM })));
    for (const m of made) assert.equal(m.status, 200, m.text);
    const done = await waitFor(async () => {
      const all = await states(list[1], 'rr');
      return all.length === N && all.every((r) => r.state === 'SUCCEEDED') ? all : null;
    }, 30000, 200);
    assert.ok(done, `every remediation succeeded: ${JSON.stringify((await states(list[1], 'rr')).map((r) => r.state))}`);
    assertOneVmPerInstance(await vms(list[2]), Array.from({ length: N }, (_, k) => `rr-i${k}`));
  } finally {
    await closeAll(list);
  }
});

test('kill -9 of the replica holding remediations mid-step: the others take them over within 2 × lease, nothing doubled or lost', { skip }, async () => {
  const N = 6;
  const fleet = makeFleet([{ cluster_id: 'kd', instances: N }], {
    timing: { cordon: 0, drain: 3000, delete_vm: 0, provision_vm: 0, boot: 0, reboot: 0, power_cycle: 0 },
  });
  const [a, b, c] = await threeReplicas(fleet);
  try {
    const made = await claimAllOn(a, [b, c], 'kd', N);
    await a.kill9();
    const killedAt = Date.now();
    cont(b); cont(c);
    const taken = await waitFor(async () => {
      const evs = await Promise.all(made.map((id, k) => b.api('GET', `${rPath('kd', `kd-i${k}`, id)}/events`)));
      const t = evs.map((e) => (e.json.events || []).find((x) => /taken over by replica [BC]/.test(x.detail || '')));
      return t.every(Boolean) ? t : null;
    }, 4 * LEASE_S * 1000, 100);
    assert.ok(taken, 'every remediation was taken over by B or C');
    for (const ev of taken) {
      const after = Date.parse(ev.time) - killedAt;
      assert.ok(after <= 2 * LEASE_S * 1000 + 500, `taken over ${after} ms after the kill (lease ${LEASE_S} s): ${ev.detail}`);
    }
    const done = await waitFor(async () => {
      const all = await states(b, 'kd');
      return all.every((r) => r.state === 'SUCCEEDED') ? all : null;
    }, 20000, 200);
    assert.ok(done, `all finished: ${JSON.stringify((await states(b, 'kd')).map((r) => r.state))}`);
    assertOneVmPerInstance(await vms(c), Array.from({ length: N }, (_, k) => `kd-i${k}`));
  } finally {
    await closeAll([a, b, c]);
  }
});

test('a replica paused past its lease: its stale commits are refused and counted, the work finishes once', { skip }, async () => {
  const N = 4;
  const fleet = makeFleet([{ cluster_id: 'sp', instances: N }], {
    timing: { cordon: 0, drain: 1500, delete_vm: 0, provision_vm: 0, boot: 0, reboot: 0, power_cycle: 0, blocking: true },
  });
  const [a, b, c] = await threeReplicas(fleet);
  try {
    const made = await claimAllOn(a, [b, c], 'sp', N);
    // A is paused in its blocking drain calls for longer than two leases; B and C take over.
    stop(a);
    cont(b); cont(c);
    assert.ok(await waitFor(async () => {
      const evs = await Promise.all(made.map((id, k) => b.api('GET', `${rPath('sp', `sp-i${k}`, id)}/events`)));
      return evs.every((e) => (e.json.events || []).some((x) => /taken over by replica [BC]/.test(x.detail || '')));
    }, 4 * LEASE_S * 1000, 100), 'B and C took the work over while A was paused');
    cont(a);
    // A's calls answered while it was paused: their outcomes are refused, and counted.
    const refused = await waitFor(async () => {
      const n = await metric(a, 'noderepair_engine_fence_refused_total');
      return n >= 1 ? n : null;
    }, 10000, 100);
    assert.ok(refused >= 1, 'A counted its refused commits');
    const done = await waitFor(async () => {
      const all = await states(c, 'sp');
      return all.every((r) => r.state === 'SUCCEEDED') ? all : null;
    }, 20000, 200);
    assert.ok(done, `all finished: ${JSON.stringify((await states(c, 'sp')).map((r) => r.state))}`);
    assertOneVmPerInstance(await vms(a), Array.from({ length: N }, (_, k) => `sp-i${k}`));
    // Nothing doubled: one drain outcome per remediation after the takeover's.
    for (let k = 0; k < N; k++) {
      const evs = (await b.api('GET', `${rPath('sp', `sp-i${k}`, made[k])}/events`)).json.events;
      const provisioned = evs.filter((e) => e.step === 'provision_vm' && /^done/.test(e.detail || ''));
      assert.equal(provisioned.length, 1, `one provision outcome on sp-i${k}`);
    }
  } finally {
    await closeAll([a, b, c]);
  }
});

// A loopback TCP proxy in front of PostgreSQL that can be paused: connections stay open, bytes
// stop flowing both ways (what a network partition looks like to the replica).
function pgProxy(target) {
  let paused = false;
  const pending = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const pipe = (from, to) => from.on('data', (d) => {
      if (paused) { pending.add(() => to.write(d)); } else { to.write(d); }
    });
    pipe(client, upstream);
    pipe(upstream, client);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end); upstream.on('error', end); client.on('close', end); upstream.on('close', end);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: server.address().port,
    pause() { paused = true; },
    heal() { paused = false; for (const f of pending) f(); pending.clear(); },
    close() { return new Promise((r) => server.close(r)); },
  })));
}

test('a replica cut off from the database: writes 503 within 5 s, /readyz fails, the others go on, it recovers', { skip }, async () => {
  const fleet = makeFleet([{ cluster_id: 'cut', instances: 8 }]);
  const db = createPgDatabase(base);
  const [a, b] = await threeReplicas(fleet, { db });
  const u = new URL(db);
  const proxy = await pgProxy({ host: u.hostname, port: Number(u.port) });
  const viaProxy = new URL(db);
  viaProxy.port = String(proxy.port);
  const d = new Server({ fleet, db: viaProxy.toString(), enginePaused: false, config: config(), extraArgs: ['--replica-id', 'D'] });
  servers.push(d);
  try {
    await d.start();
    d.adminToken = a.adminToken;
    assert.equal((await create(d, 'cut', 'cut-i0', { mode: VM })).status, 200);
    proxy.pause();
    const t0 = Date.now();
    const r = await create(d, 'cut', 'cut-i1', { mode: VM });
    const took = Date.now() - t0;
    assert.equal(r.status, 503, r.text);
    assert.ok(took <= 5000, `503 after ${took} ms`);
    const ready = await waitFor(async () => ((await d.api('GET', '/readyz', { token: null, timeoutMs: 8000 })).status === 503 ? true : null), 8000, 200);
    assert.ok(ready, '/readyz fails while cut off');
    // The others are unaffected.
    const other = await create(b, 'cut', 'cut-i2', { mode: VM });
    assert.equal(other.status, 200, other.text);
    proxy.heal();
    const back = await waitFor(async () => ((await create(d, 'cut', 'cut-i3', { mode: VM })).status === 200 ? true : null), 15000, 250);
    assert.ok(back, 'D writes again once the network heals');
    assert.equal((await d.api('GET', '/readyz', { token: null })).status, 200);
  } finally {
    await closeAll([...servers.slice(-4)]);
    await proxy.close();
  }
});

test('PostgreSQL restarted (-m immediate) under creates through all three: nothing acknowledged lost, all recover', { skip }, async () => {
  const N = 60;
  const fleet = makeFleet([{ cluster_id: 'rs', instances: N }]);
  const list = await threeReplicas(fleet, { extraConfig: '' });
  try {
    const acked = [];
    let k = 0;
    let restarted = false;
    const load = (async () => {
      while (k < N) {
        const i = k++;
        const srv = list[i % 3];
        const r = await create(srv, 'rs', `rs-i${i}`, { mode: VM }).catch(() => ({ status: 0 }));
        if (r.status === 200) acked.push({ i, id: r.json.id });
        else if (![503, 0].includes(r.status)) throw new Error(`unexpected ${r.status}: ${r.text}`);
        if (!restarted) await sleep(20);
      }
    })();
    // The restart lands under load: creates are being acknowledged through the replicas.
    const underLoad = Date.now() + 10000;
    while (acked.length < 5) {
      if (Date.now() > underLoad) throw new Error('no creates acknowledged before the restart');
      await sleep(20);
    }
    await privatePostgres('restart');
    restarted = true;
    await load;
    for (const srv of list) {
      const ok = await waitFor(async () => ((await srv.api('GET', '/readyz', { token: null })).status === 200 ? true : null), 15000, 200);
      assert.ok(ok, 'every replica is ready again');
    }
    const all = new Set((await listAll(list[0], 'rs', '-')).all.map((r) => r.id));
    for (const a of acked) assert.ok(all.has(a.id), `acknowledged ${a.id} (rs-i${a.i}) is stored`);
    assert.ok(acked.length > 0);
  } finally {
    await closeAll(list);
  }
});

test('an alert storm split across the three replicas keeps the blast radius exact', { skip }, async () => {
  const N = 30;
  const fleet = makeFleet([{ cluster_id: 'st', instances: N }]);
  const list = await threeReplicas(fleet, { extraConfig: 'automation: {max_active_fraction: 0.2, cooldown_s: 0}\n' });
  try {
    const op = await list[0].token('op', 'operator');
    const iso = () => new Date().toISOString();
    const alert = (k) => ({
      status: 'firing',
      labels: { alertname: 'GpuEccDoubleBitError', instance_id: `st-i${k}` },
      annotations: {},
      startsAt: iso(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://127.0.0.1:9090/graph',
      fingerprint: `storm-${k}`,
    });
    const hook = (alerts) => ({
      receiver: 'noderepair', status: 'firing', alerts, groupLabels: {}, commonLabels: {}, commonAnnotations: {},
      externalURL: 'http://127.0.0.1:9093', version: '4', groupKey: '{}:{}', truncatedAlerts: 0,
    });
    // One alert a request, all at once, round-robin over the replicas.
    const answers = await Promise.all(Array.from({ length: N }, (_, k) => list[k % 3].api('POST', WEBHOOK, { token: op, body: hook([alert(k)]) })));
    for (const r of answers) assert.equal(r.status, 200, r.text);
    const created = answers.reduce((n, r) => n + r.json.remediations_created, 0);
    const limit = Math.floor(N * 0.2);
    assert.equal(created, limit, `exactly the blast radius (${limit}) created`);
    const active = (await listAll(list[1], 'st', '-')).all.filter((r) => ACTIVE.includes(r.state));
    assert.equal(active.length, limit);
  } finally {
    await closeAll(list);
  }
});

test('three replicas starting together on an empty database: one admin token, one fleet', { skip }, async () => {
  const fleet = makeFleet([{ cluster_id: 'st3', instances: 4 }]);
  const db = createPgDatabase(base);
  const list = ['A', 'B', 'C'].map((id) => {
    const s = new Server({ fleet, db, config: config(), extraArgs: ['--replica-id', id] });
    servers.push(s);
    return s;
  });
  try {
    await Promise.all(list.map((s) => s.start()));
    const printed = list.filter((s) => s.starts[0].adminTokenPrinted);
    assert.equal(printed.length, 1, 'exactly one replica printed the first admin token');
    for (const s of list) s.adminToken = printed[0].adminToken;
    const clusters = await list[2].api('GET', '/v1/compute/clusters');
    assert.equal(clusters.status, 200, clusters.text);
    assert.deepEqual(clusters.json.clusters.map((c) => c.cluster_id), ['st3']);
    assert.equal((await vms(list[1])).length, 4, 'the simulated world adopted each instance once');
  } finally {
    await closeAll(list);
  }
});


// docs/http-api.md 9 ("Live updates on every replica"): the change stream is the database's,
// so a watch on B carries A's and C's commits in commit order, and an event id means the same
// on every replica and after a restart.
test('a watch stream on B receives every change committed through A and C, in commit order; Last-Event-ID resumes on another replica and after a restart', { skip }, async () => {
  const N = 8;
  const fleet = makeFleet([{ cluster_id: 'wx', instances: N }]);
  const [a, b, c] = await threeReplicas(fleet);
  const streams = [];
  const open = async (srv, opts) => {
    const s = await EventStream.open(srv, '/v1/compute/clusters/wx/instances/-/remediations:watch', opts);
    assert.equal(s.response.status, 200);
    streams.push(s);
    return s;
  };
  const terminal = (st) => ['SUCCEEDED', 'FAILED', 'CANCELLED', 'AUTO_RESOLVED'].includes(st);
  const key = (e) => `${e.id} ${e.data.id} ${e.data.state} ${e.data.update_time}`;
  try {
    const onB = await open(b);
    const made = [];
    for (let k = 0; k < N; k++) {
      const m = await create(k % 2 ? c : a, 'wx', `wx-i${k}`, { mode: VM });
      assert.equal(m.status, 200, m.text);
      made.push(m.json);
    }
    for (const r of made) await onB.waitFor((e) => e.data?.id === r.id && terminal(e.data.state), 20000);
    const got = onB.events.filter((e) => e.event === 'remediation');
    assert.ok(!onB.events.some((e) => e.event === 'reset'));
    // Ids are the database's change numbers: increasing by one, whichever replica committed.
    const ids = got.map((e) => Number(e.id));
    for (let k = 1; k < ids.length; k++) assert.equal(ids[k], ids[k - 1] + 1, `ids ${ids.join(',')}`);
    // Every state change of every remediation, once, in the order the timeline recorded them.
    for (const r of made) {
      const seen = got.filter((e) => e.data.id === r.id).map((e) => e.data.state);
      const timeline = (await getEvents(a, r)).filter((e) => e.type === 'state_change').map((e) => e.state);
      assert.deepEqual(seen, timeline, `${r.id}: every committed change, in commit order`);
    }

    // A client of B reconnects to C with B's id: it gets exactly what followed, no reset.
    const cut = got[Math.floor(got.length / 2)];
    const expected = got.filter((e) => Number(e.id) > Number(cut.id)).map(key);
    const onC = await open(c, { lastEventId: cut.id });
    await onC.waitFor((e) => e.id === got[got.length - 1].id, 5000);
    assert.deepEqual(onC.events.filter((e) => e.event === 'remediation').map(key), expected);
    assert.ok(!onC.events.some((e) => e.event === 'reset'));

    // A restarted replica replays from the database too.
    await a.restart();
    const onA = await open(a, { lastEventId: cut.id });
    await onA.waitFor((e) => e.id === got[got.length - 1].id, 5000);
    assert.deepEqual(onA.events.filter((e) => e.event === 'remediation').map(key), expected);
    assert.ok(!onA.events.some((e) => e.event === 'reset'));
    // And it streams the others' new commits at once.
    const more = await create(c, 'wx', 'wx-i0', { mode: VM });
    assert.equal(more.status, 200, more.text);
    await onA.waitFor((e) => e.data?.id === more.json.id && terminal(e.data.state), 20000);
  } finally {
    for (const s of streams) s.close?.();
    await closeAll([a, b, c]);
  }
});

// docs/design.md 12: only the leader polls the BMCs; what it reads is recorded in the database,
// so a replica that does not lead shows the same power, not `unknown`.
const noIpmi = existsSync('/usr/bin/ipmi_sim') ? false : 'needs openipmi (ipmi_sim)';
test('a replica that does not lead shows the power the leader read from the BMC', { skip: skip || noIpmi }, async (t) => {
  const lab = new Lab(t);
  await lab.addBmc('h1');
  const fleet = {
    hosts: [{ host_name: 'h1', gpu_slots: 8, bmc: lab.bmcEntry('h1') }, { host_name: 'h2', gpu_slots: 8 }],
    clusters: [{ cluster_id: 'p', instances: [{ instance_id: 'p-i0', instance_name: 'p-n0', num_gpus: 2, host: 'h1' }] }],
  };
  const list = await threeReplicas(fleet, { extraConfig: 'power:\n  driver: ipmi\n  timeout_s: 2\n  poll_s: 1\n' });
  try {
    const leader = await waitFor(async () => {
      const r = await list[0].api('GET', '/v1/replicas');
      const l = r.json.replicas.filter((x) => x.leader);
      return l.length === 1 ? l[0].id : null;
    }, 10000, 50);
    assert.ok(leader, 'one replica leads');
    const followers = ['A', 'B', 'C'].map((id, k) => [id, list[k]]).filter(([id]) => id !== leader);
    for (const [id, s] of followers) {
      const hosts = await waitFor(async () => {
        const h = byHost(await getHosts(s));
        return h.h1.power === 'on' ? h : null;
      }, 10000, 100);
      assert.ok(hosts, `replica ${id} (not the leader ${leader}) shows h1's power as on: ${JSON.stringify(byHost(await getHosts(s)).h1)}`);
      assert.ok(!('power' in hosts.h2), 'a host without a BMC has no power field');
    }
  } finally {
    await closeAll(list);
  }
});
