// Several replicas on one PostgreSQL database (issue 13), in one run on a private server
// (tools/private-postgres.sh), so the ratios compare like with like on a shared machine:
//   1. engine claims/s at 8 engine threads of one replica... against pgbench at 8 clients
//      running a bare `FOR UPDATE SKIP LOCKED` claim of a PENDING row;
//   2. takeover time after kill -9 of the replica holding the work, for two lease lengths;
//   3. durable create throughput through one replica and through three (round-robin).
//   1b. the same, claims only: every first step waits ten minutes, so nothing follows a claim;
// Usage: node bench/replicas.mjs   (REPLICA_BENCH_CLAIMS=2000 REPLICA_BENCH_CREATES=3000;
//        REPLICA_BENCH_ONLY=claims for the claim measurements alone)
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, Server, makeFleet, create, createPgDatabase, listAll } from '../tests/lib/server.mjs';

const PG_BIN = process.env.PG_BIN || '/usr/lib/postgresql/15/bin';
const CLAIMS = Number(process.env.REPLICA_BENCH_CLAIMS || 2000);
const CREATES = Number(process.env.REPLICA_BENCH_CREATES || 3000);
const dir = mkdtempSync(path.join(tmpdir(), 'noderepair-replica-bench-'));
const log = (...a) => console.error(`[replica-bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function pg(verb) {
  return execFileSync(path.join(REPO, 'tools', 'private-postgres.sh'), [verb, path.join(dir, 'pg')], { encoding: 'utf8' }).trim();
}

const servers = [];
async function replica(db, id, fleet, { config = '', enginePaused = false } = {}) {
  const s = new Server({ fleet, db, enginePaused, config, extraArgs: ['--replica-id', id] });
  servers.push(s);
  await s.start();
  return s;
}

async function waitUntil(fn, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await sleep(25);
  }
  return null;
}

// 1. Claims: N PENDING remediations made with the engine paused, then the engine resumed; the
// time until none is PENDING. Zero timing: every claim is followed by the whole (instant)
// workflow, so this is claims with their work, an upper bound on the claim's own cost.
// claimOnly: every step takes ten minutes, so after its claim (which records the first step's
// intent and starts its call) a remediation costs nothing more during the measurement: claims
// alone, like for like with pgbench's.
const SLOW = { cordon: 600000, drain: 600000, delete_vm: 600000, provision_vm: 600000, boot: 600000, reboot: 600000, power_cycle: 600000 };
// Two figures per run. `engine`: CLAIMS / the wall time from the resume request until the
// metrics (polled every 25 ms) show nothing PENDING: the measure of the runs before
// 2026-12-07 03:00Z, kept for comparison; with 1,000 claims its fixed costs (up to one 50 ms claim
// scan interval after the resume, the poll's resolution, the resume request) are a fifth to a
// half of it. `steady`: from the remediations' own timestamps, the rate between the first claim
// and the last one ("picked up by the engine", written inside each claim's transaction):
// (claims - 1) / (last - first), like pgbench's tps over its run. REPLICA_BENCH_PARALLEL sets
// engine.max_parallel (default: the number of claims, so every claim is made in one go).
const PARALLEL = Number(process.env.REPLICA_BENCH_PARALLEL || Math.max(1000, CLAIMS));
async function claims(base, { claimOnly = false } = {}) {
  const db = createPgDatabase(base);
  const fleet = makeFleet([{ cluster_id: 'c', instances: CLAIMS, gpu_slots: 16 }], claimOnly ? { timing: SLOW } : {});
  const a = await replica(db, 'A', fleet, { config: `engine:\n  max_parallel: ${PARALLEL}\n`, enginePaused: true });
  const op = await a.token('op', 'operator');
  let k = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (k < CLAIMS) {
      const i = k++;
      const r = await create(a, 'c', `c-i${i}`, { token: op });
      if (r.status !== 200) throw new Error(`create ${r.status} ${r.text}`);
    }
  }));
  const t0 = Date.now();
  await a.api('POST', '/v1/engine:resume');
  await waitUntil(async () => {
    const r = await a.api('GET', '/metrics', { token: null });
    const m = /^noderepair_engine_queue_depth (\S+)$/m.exec(r.text);
    return m && Number(m[1]) === 0;
  }, 300000);
  const secs = (Date.now() - t0) / 1000;
  await a.close();
  const span = execFileSync('psql', ['-X', '-q', '-t', '-A', '-d', db, '-c',
    "SELECT count(*), max(time) - min(time) FROM remediation_events WHERE detail = 'picked up by the engine'"], { encoding: 'utf8' }).trim().split('|').map(Number);
  const steady = span[0] > 1 && span[1] > 0 ? (span[0] - 1) / (span[1] / 1e6) : NaN;
  // The reference: pgbench, 8 clients, each transaction claims one PENDING row.
  const refDb = createPgDatabase(base);
  const u = new URL(refDb);
  const psql = (sql) => execFileSync('psql', ['-X', '-q', '-d', refDb, '-c', sql]);
  psql(`CREATE TABLE q(id bigserial PRIMARY KEY, state int NOT NULL, owner text); INSERT INTO q(state) SELECT 0 FROM generate_series(1, 200000); CREATE INDEX q_pending ON q(state, id);`);
  const script = path.join(dir, 'claim.sql');
  writeFileSync(script, 'BEGIN;\nSELECT id AS claimed FROM q WHERE state = 0 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED \\gset\nUPDATE q SET state = 1, owner = \'bench\' WHERE id = :claimed;\nCOMMIT;\n');
  const out = execFileSync(`${PG_BIN}/pgbench`, ['-n', '-c', '8', '-j', '2', '-T', '5', '-f', script,
    '-h', u.hostname, '-p', u.port, '-U', decodeURIComponent(u.username) || 'postgres', u.pathname.slice(1)], { encoding: 'utf8' });
  const tps = Number(/tps = ([\d.]+)/.exec(out)[1]);
  return { engine: CLAIMS / secs, steady, pgbench: tps };
}

// 2. Takeover: 6 remediations in a 20 s drain held by A (B and C stopped while it claims),
// kill -9 of A; the time until each has a "taken over" note.
async function takeover(base, leaseS) {
  const db = createPgDatabase(base);
  const fleet = makeFleet([{ cluster_id: 't', instances: 6 }], {
    timing: { cordon: 0, drain: 20000, delete_vm: 0, provision_vm: 0, boot: 0, reboot: 0, power_cycle: 0 },
  });
  const config = `engine:\n  lease_s: ${leaseS}\n`;
  const a = await replica(db, 'A', fleet, { config });
  const b = await replica(db, 'B', fleet, { config });
  const c = await replica(db, 'C', fleet, { config });
  for (const s of [b, c]) { s.adminToken = a.adminToken; s.proc.kill('SIGSTOP'); }
  const ids = [];
  for (let i = 0; i < 6; i++) ids.push((await create(a, 't', `t-i${i}`)).json.id);
  await waitUntil(async () => (await listAll(a, 't', '-')).all.every((r) => r.state === 'RUNNING'), 10000);
  await a.kill9();
  const killed = Date.now();
  for (const s of [b, c]) s.proc.kill('SIGCONT');
  let last = 0;
  for (let i = 0; i < 6; i++) {
    const ev = await waitUntil(async () => {
      const r = await b.api('GET', `/v1/compute/clusters/t/instances/t-i${i}/remediations/${ids[i]}/events`);
      return (r.json.events || []).find((e) => /taken over/.test(e.detail || ''));
    }, 10 * leaseS * 1000);
    last = Math.max(last, Date.parse(ev.time) - killed);
  }
  for (const s of [b, c]) await s.close();
  return last / 1000;
}

// 3. Creates: durable creates at 16 concurrent clients through one replica, then three.
async function creates(base, n) {
  const db = createPgDatabase(base);
  const fleet = makeFleet([{ cluster_id: 'w', instances: CREATES, gpu_slots: 16 }]);
  const list = [];
  for (const id of ['A', 'B', 'C'].slice(0, n)) list.push(await replica(db, id, fleet, { enginePaused: true }));
  const admin = list.find((s) => s.adminToken).adminToken;
  for (const s of list) s.adminToken = admin;
  let k = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (k < CREATES) {
      const i = k++;
      const r = await create(list[i % n], 'w', `w-i${i}`);
      if (r.status !== 200) throw new Error(`create ${r.status} ${r.text}`);
    }
  }));
  const rate = CREATES / ((Date.now() - t0) / 1000);
  for (const s of list) await s.close();
  return rate;
}

try {
  const base = pg('start');
  log('postgres at', base);
  const c = await claims(base);
  log(`claims/s: engine ${c.engine.toFixed(0)} (with their zero-latency workflows), pgbench SKIP LOCKED claim ${c.pgbench.toFixed(0)}, ratio ${(c.engine / c.pgbench).toFixed(2)}; steady ${c.steady.toFixed(0)}, ratio ${(c.steady / c.pgbench).toFixed(2)}`);
  const only = await claims(base, { claimOnly: true });
  log(`claims/s, claim only (each first step waits): engine ${only.engine.toFixed(0)}, pgbench SKIP LOCKED claim ${only.pgbench.toFixed(0)}, ratio ${(only.engine / only.pgbench).toFixed(2)}; steady ${only.steady.toFixed(0)}, ratio ${(only.steady / only.pgbench).toFixed(2)}`);
  if (process.env.REPLICA_BENCH_ONLY !== 'claims') {
    for (const lease of [2, 4]) {
      const t = await takeover(base, lease);
      log(`takeover after kill -9, lease_s ${lease}: last remediation taken over after ${t.toFixed(2)} s = ${(t / lease).toFixed(2)} × lease`);
    }
    const one = await creates(base, 1);
    const three = await creates(base, 3);
    log(`creates/s (16 clients, durable): one replica ${one.toFixed(0)}, three replicas ${three.toFixed(0)} (${(three / one).toFixed(2)}×)`);
  }
} finally {
  for (const s of servers) { try { s.proc?.kill('SIGCONT'); } catch { /* gone */ } await s.close(); }
  try { pg('stop'); } catch { /* already */ }
  rmSync(dir, { recursive: true, force: true });
}
void execFile;
