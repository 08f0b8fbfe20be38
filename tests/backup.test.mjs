// README "CLI" (db backup): `noderepair db backup --db sqlite:A --to FILE` copies a SQLite
// database while a server writes to it; the copy is one consistent moment of it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  BIN, Server, makeFleet, create, listAll, onlyOn,
} from './lib/server.mjs';
import { getEvents, waitFor } from './lib/engine.mjs';

const skip = onlyOn('sqlite', 'db backup copies SQLite databases (PostgreSQL has pg_dump)');

function run(args) {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const servers = [];
after(async () => { for (const s of servers) await s.close(); });

const INSTANCES = 400;
const FLEET = makeFleet([{ cluster_id: 'bk', instances: INSTANCES }]);

test('db backup while creates are acknowledged: the copy opens, verifies and holds a consistent prefix', { skip }, async (t) => {
  const srv = new Server({ fleet: FLEET });
  servers.push(srv);
  await srv.start();
  const token = await srv.token('writer', 'operator');

  // 16 clients creating one remediation per instance until told to stop.
  const acked = new Set();
  const failures = [];
  let next = 0;
  let stop = false;
  const worker = async () => {
    while (!stop && next < INSTANCES) {
      const k = next++;
      const r = await create(srv, 'bk', `bk-i${k}`, { token, remediationId: `bk-${k}` });
      if (r.status === 200) acked.add(r.json.id);
      else failures.push(`${r.status} ${r.text}`);
    }
  };
  const workers = Promise.all(Array.from({ length: 16 }, worker));
  assert.ok(await waitFor(() => acked.size >= 40, 30000), `40 creates acknowledged (got ${acked.size})`);

  const before = new Set(acked);
  const copyPath = path.join(srv.dir, 'copy.db');
  const startedAt = Date.now();
  const backup = await run(['db', 'backup', '--db', srv.db, '--to', copyPath]);
  const backupMs = Date.now() - startedAt;
  const afterBackup = acked.size;
  // Creates went on after the backup returned: it ran while they were being acknowledged.
  const still = await waitFor(() => acked.size > afterBackup || next >= INSTANCES, 30000);
  stop = true;
  await workers;
  assert.ok(still, 'creates went on during and after the backup');
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  assert.match(backup.stdout, /^backed up sqlite:.* to .*copy\.db: \d+ pages\n$/);
  assert.deepEqual(failures, []);

  // The copy is not overwritten by a second backup.
  const hash = () => createHash('sha256').update(readFileSync(copyPath)).digest('hex');
  const copyHash = hash();
  const again = await run(['db', 'backup', '--db', srv.db, '--to', copyPath]);
  assert.equal(again.code, 1, again.stdout + again.stderr);
  assert.match(again.stderr, /already exists/);
  assert.equal(hash(), copyHash, 'the existing file is left as it was');

  const copyDb = `sqlite:${copyPath}`;
  const verified = await run(['audit', 'verify', '--db', copyDb]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /audit chain intact/);

  // A server on the copy: everything acknowledged before the backup started is there, nothing
  // that was never sent is, and every remediation has its timeline.
  const onCopy = new Server({ fleet: FLEET, db: copyDb });
  servers.push(onCopy);
  await onCopy.start();
  const viewer = await onCopy.token('reader', 'viewer');
  const { all } = await listAll(onCopy, 'bk', '-', {}, { token: viewer, pageSize: 500 });
  const inCopy = new Set(all.map((r) => r.id));
  for (const id of before) assert.ok(inCopy.has(id), `${id}, acknowledged before the backup, is in the copy`);
  for (const r of all) {
    assert.match(r.id, /^bk-\d+$/);
    assert.ok(Number(r.id.slice(3)) < next, `${r.id} was sent`);
    const events = await getEvents(onCopy, r, viewer);
    assert.ok(events.length >= 1, `${r.id} has its events`);
    const states = events.filter((e) => e.type === 'state_change').map((e) => e.state);
    assert.equal(states.at(-1), r.state, `${r.id}: its timeline ends in its state`);
  }
  assert.ok(inCopy.size >= before.size && inCopy.size <= next);
  t.diagnostic(`backup in ${backupMs} ms (${backup.stdout.trim()}): ${before.size} acknowledged before it, `
    + `${afterBackup} when it returned, ${inCopy.size} in the copy, ${acked.size} in all`);
});

test('db backup refuses what it cannot copy, and creates nothing then', { skip }, async () => {
  const srv = new Server({ fleet: FLEET });
  servers.push(srv);
  const missing = await run(['db', 'backup', '--db', `sqlite:${srv.dir}/missing.db`, '--to', `${srv.dir}/copy.db`]);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /does not exist/);
  const pg = await run(['db', 'backup', '--db', 'postgres://u@127.0.0.1:1/x', '--to', `${srv.dir}/copy.db`]);
  assert.equal(pg.code, 2, pg.stderr);
  assert.match(pg.stderr, /SQLite/);
  const noTo = await run(['db', 'backup', '--db', `sqlite:${srv.dir}/missing.db`]);
  assert.equal(noTo.code, 2, noTo.stderr);
  const listed = await run(['token', 'list', '--db', `sqlite:${srv.dir}/copy.db`]);
  assert.match(listed.stderr, /does not exist/, 'no copy was left behind');
});
