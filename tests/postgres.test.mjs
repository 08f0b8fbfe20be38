// docs/http-api.md 4.1 and 6 on PostgreSQL (README "PostgreSQL"): acknowledged creates survive
// kill -9 of the server and an immediate restart of the database; while the database is away
// the server answers 503, never 500 or nothing, and it reconnects on its own; two servers
// starting together on an empty database migrate it and print the first admin token once.
// Starts, crashes and restarts a private server of its own (tools/private-postgres.sh), never
// the one NODEREPAIR_TEST_PG names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  REPO, Server, makeFleet, rPath, create, createOnPort, listAll, createPgDatabase, sleep,
} from './lib/server.mjs';
import { waitFor } from './lib/engine.mjs';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const skip = existsSync(`${PG_BIN}/initdb`) && existsSync(`${PG_BIN}/pg_ctl`)
  ? false : `needs PostgreSQL 15 in ${PG_BIN} (Debian package postgresql-15)`;
const VM = 'REMEDIATION_MODE_VM_ONLY';

let pgDir;
let base;

function privatePostgres(verb) {
  return new Promise((resolve, reject) => {
    execFile(path.join(REPO, 'tools', 'private-postgres.sh'), [verb, pgDir], { timeout: 60000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${verb}: ${err.message}\n${stderr}`)) : resolve(stdout.trim())));
  });
}

const servers = [];
function newServer(opts) {
  const s = new Server(opts);
  servers.push(s);
  return s;
}

before(async () => {
  if (skip) return;
  pgDir = mkdtempSync(path.join(tmpdir(), 'noderepair-pgtest-'));
  base = await privatePostgres('start');
});

after(async () => {
  for (const s of servers) await s.close();
  if (pgDir) {
    await privatePostgres('stop');
    rmSync(pgDir, { recursive: true, force: true });
  }
});

test('PostgreSQL: acknowledged creates survive kill -9 of the server (10 rounds, creates in flight)', { skip }, async (t) => {
  const ROUNDS = 10;
  const PER_ROUND = 12;
  const srv = newServer({ fleet: makeFleet([{ cluster_id: 'k', instances: ROUNDS * PER_ROUND }]), db: createPgDatabase(base) });
  await srv.start();
  assert.ok(srv.adminToken, 'the first start prints an admin token');
  const token = await srv.token('durable', 'operator');
  const acked = new Map();
  let unacked = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const proc = srv.proc;
    const port = srv.port;
    let killed = false;
    const killNow = () => { if (!killed) { killed = true; proc.kill('SIGKILL'); } };
    const attempts = Array.from({ length: PER_ROUND }, (_, k) => {
      const inst = `k-i${round * PER_ROUND + k}`;
      const rid = `k${round}-${k}`;
      return createOnPort(port, token, 'k', inst, rid, { mode: VM, reason: `round ${round}` }).then(({ status, json }) => {
        if (status === 200) {
          acked.set(rid, json);
          killNow(); // kill -9 right after the first acknowledgement
        }
        return { rid, inst, status };
      });
    });
    const results = await Promise.all(attempts);
    killNow();
    await srv.kill9();
    await srv.start();
    assert.ok(!srv.starts.at(-1).adminTokenPrinted, 'no admin token on a restart');
    for (const r of acked.values()) {
      const g = await srv.api('GET', rPath('k', r.instance_id, r.id), { token });
      assert.equal(g.status, 200, `round ${round}: acknowledged ${r.id} lost after kill -9: ${g.text}`);
      assert.deepEqual(g.json, r, `round ${round}: ${r.id} differs from what was acknowledged`);
    }
    for (const a of results.filter((x) => x.status !== 200)) {
      const g = await srv.api('GET', rPath('k', a.inst, a.rid), { token });
      if (g.status === 200) {
        unacked++;
        acked.set(a.rid, g.json);
      } else {
        assert.equal(g.status, 404, g.text);
      }
    }
  }
  const { all } = await listAll(srv, 'k', '-', {}, { token });
  assert.equal(all.length, acked.size, 'no phantom remediations');
  t.diagnostic(`${acked.size} remediations present, ${unacked} of them committed without an acknowledgement`);
});

test('PostgreSQL: pg_ctl restart -m immediate under create load: 503 while away, reconnects, every acknowledged create once', { skip }, async (t) => {
  const INSTANCES = 4000;
  const srv = newServer({ fleet: makeFleet([{ cluster_id: 'p', instances: INSTANCES }]), db: createPgDatabase(base) });
  await srv.start();
  const token = await srv.token('load', 'operator');

  const acked = new Map(); // rid → acknowledged body
  const refused = []; // {rid, inst, status, ms, json}
  const broken = []; // anything that is neither 200 nor 503, or no answer in time
  let next = 0;
  let stop = false;
  let down = false;
  let slowestWhileDown = 0;
  const worker = async () => {
    while (!stop && next < INSTANCES) {
      const k = next++;
      const rid = `p-${k}`;
      const t0 = Date.now();
      const wasDown = down;
      let r;
      try {
        r = await create(srv, 'p', `p-i${k}`, { token, remediationId: rid, mode: VM });
      } catch (e) {
        broken.push(`${rid}: no answer within 30 s (${e.message})`);
        continue;
      }
      const ms = Date.now() - t0;
      if (wasDown || down) slowestWhileDown = Math.max(slowestWhileDown, ms);
      if (r.status === 200) acked.set(rid, r.json);
      else if (r.status === 503) refused.push({ rid, inst: `p-i${k}`, ms, json: r.json });
      else broken.push(`${rid}: ${r.status} ${r.text}`);
      if (r.status === 503) await sleep(100); // a client backing off, not spinning
    }
  };
  const workers = Promise.all(Array.from({ length: 8 }, worker));
  assert.ok(await waitFor(() => acked.size >= 100, 30000), 'creates acknowledged before the crash');

  const ackedBeforeCrash = acked.size;
  down = true;
  await privatePostgres('crash');
  const crashedAt = Date.now();
  // While the database is away: writes get 503 and /readyz fails, each within 5 s.
  const refusedSeen = await waitFor(() => refused.length > 0, 10000);
  const notReady = await waitFor(async () => {
    const r = await fetch(`${srv.base}/readyz`, { signal: AbortSignal.timeout(6000) }).catch(() => null);
    return r && r.status !== 200;
  }, 10000);
  const downFor = Date.now() - crashedAt;
  await privatePostgres('restart');
  const restartedAt = Date.now();
  const acksAtRestart = acked.size;
  const reconnected = await waitFor(() => acked.size > acksAtRestart + 50 || next >= INSTANCES, 60000);
  const reconnectMs = Date.now() - restartedAt;
  down = false;
  const ready = await waitFor(async () => (await fetch(`${srv.base}/readyz`).catch(() => null))?.status === 200, 30000);
  stop = true;
  await workers;

  t.diagnostic(`${ackedBeforeCrash} acknowledged before the crash, ${acked.size} in all, ${refused.length} refused; `
    + `down ${downFor} ms; first 50 creates after the restart within ${reconnectMs} ms; slowest reply while down ${slowestWhileDown} ms`);
  assert.deepEqual(broken, [], 'every create answered 200 or 503 in time');
  assert.ok(refusedSeen, 'creates were refused with 503 while the database was away');
  assert.ok(notReady, '/readyz failed while the database was away');
  assert.ok(slowestWhileDown <= 6000, `503 within 5 s (slowest ${slowestWhileDown} ms)`);
  for (const r of refused) {
    assert.equal(r.json?.code, 14, `${r.rid}: UNAVAILABLE ${JSON.stringify(r.json)}`);
  }
  assert.ok(reconnected, 'the server reconnected on its own and acknowledged creates again');
  assert.ok(ready, '/readyz passes again');

  // Every acknowledged create is there as acknowledged; refused ones may have committed
  // (the commit's answer lost with the connection) but never twice; nothing else is there.
  const { all } = await listAll(srv, 'p', '-', {}, { token, pageSize: 1000 });
  const ids = all.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, 'no remediation listed twice');
  const byId = new Map(all.map((r) => [r.id, r]));
  for (const [rid, body] of acked) {
    assert.ok(byId.has(rid), `acknowledged ${rid} is there`);
    assert.deepEqual(byId.get(rid), body, `${rid} as acknowledged`);
  }
  const perInstance = new Map();
  for (const r of all) {
    assert.ok(acked.has(r.id) || refused.some((x) => x.rid === r.id), `${r.id} was sent`);
    perInstance.set(r.instance_id, (perInstance.get(r.instance_id) || 0) + 1);
  }
  assert.ok([...perInstance.values()].every((n) => n === 1), 'one remediation per instance: no duplicates');
});

test('PostgreSQL: servers starting together on an empty database migrate it once and print one admin token', { skip }, async () => {
  for (let round = 0; round < 3; round++) {
    const db = createPgDatabase(base);
    const fleet = makeFleet([{ cluster_id: `m${round}`, instances: 20 }]);
    const pair = [newServer({ fleet, db }), newServer({ fleet, db })];
    await Promise.all(pair.map((s) => s.start()));
    const printed = pair.filter((s) => s.starts[0].adminTokenPrinted);
    assert.equal(printed.length, 1, `round ${round}: exactly one first admin token printed`);
    const admin = printed[0].adminToken;
    for (const s of pair) {
      const c = await s.api('GET', `/v1/compute/clusters/m${round}`, { token: admin });
      assert.equal(c.status, 200, `round ${round}: the one admin token works on both: ${c.text}`);
      const hosts = await s.api('GET', '/v1/compute/hosts', { token: admin });
      assert.equal(hosts.status, 200, hosts.text);
      const names = hosts.json.hosts.map((h) => h.host_name);
      assert.equal(names.length, 20, `round ${round}: the fleet imported once: ${names.length} hosts`);
    }
    const made = await create(pair[0], `m${round}`, `m${round}-i0`, { token: admin, mode: VM });
    assert.equal(made.status, 200, made.text);
    const seen = await pair[1].api('GET', rPath(`m${round}`, `m${round}-i0`, made.json.id), { token: admin });
    assert.equal(seen.status, 200, `round ${round}: one database behind both: ${seen.text}`);
    for (const s of pair) await s.stop();
  }
});
