// docs/http-api.md 10 (Audit): changes made through the API and the CLI become records of one
// SHA-256 chain; GET /v1/audit pages them oldest first for unscoped admins only; `audit verify`
// passes on the untouched database and names the first record changed, removed or reordered
// by editing a copy of the database (sqlite3 or psql), and with --head catches records cut off
// the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  BIN, startServer, create, rPath, micros, RFC3339_Z, ZERO_TIMING, copyDatabase, runSql,
} from './lib/server.mjs';

const FLEET = {
  clusters: [{
    cluster_id: 'au', cluster_name: 'au-name',
    instances: [
      { instance_id: 'au-a', instance_name: 'gpu-a', num_gpus: 8, host: 'ah1' },
      { instance_id: 'au-b', instance_name: 'gpu-b', num_gpus: 8, host: 'ah2' },
    ],
  }],
  hosts: [{ host_name: 'ah1', gpu_slots: 8 }, { host_name: 'ah2', gpu_slots: 8 }],
  timing: ZERO_TIMING,
};

function run(file, args) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}
const cli = (args) => run(BIN, args);

// docs/design.md 11: SHA-256 over the previous hash and each field, each as "<length>:<text>\n".
function recordHash(previous, r) {
  const fields = [previous, String(r.seq), String(micros(r.time)), r.actor, r.action, r.target, r.detail];
  const text = fields.map((f) => `${Buffer.byteLength(f)}:${f}\n`).join('');
  return createHash('sha256').update(text).digest('hex');
}

async function allRecords(srv, token) {
  const records = [];
  let pageToken = '';
  let head;
  for (let n = 0; n < 1000; n++) {
    const query = { page_size: '3', ...(pageToken ? { page_token: pageToken } : {}) };
    const r = await srv.api('GET', '/v1/audit', { token, query });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.records.length <= 3);
    records.push(...r.json.records);
    head = r.json.head;
    if (!r.json.has_next) {
      assert.equal(r.json.next_page_token, '');
      break;
    }
    pageToken = r.json.next_page_token;
  }
  return { records, head };
}

let srv;
before(async () => { srv = await startServer({ fleet: FLEET }); });
after(async () => { await srv?.close(); });

test('changes through the API and the CLI form one chain that GET /v1/audit and audit verify agree on', async () => {
  const made = await create(srv, 'au', 'au-a', { reason: 'xid 79' });
  assert.equal(made.status, 200, made.text);
  const id = made.json.id;
  assert.equal((await srv.api('POST', rPath('au', 'au-a', id, 'cancel'), { body: {} })).status, 200);
  assert.equal((await srv.api('POST', '/v1/compute/hosts/ah2:cordon')).status, 200);
  assert.equal((await srv.api('POST', '/v1/compute/hosts/ah2:uncordon')).status, 200);
  assert.equal((await srv.api('POST', '/v1/engine:resume')).status, 200);
  assert.equal((await srv.api('POST', '/v1/engine:pause')).status, 200);
  const patched = await srv.api('PATCH', '/v1/compute/clusters/au',
    { body: { automation: { policy: 'automatic' } } });
  assert.equal(patched.status, 200, patched.text);
  const made2 = await cli(['token', 'create', '--db', srv.db, '--name', 'auditor', '--role', 'viewer']);
  assert.equal(made2.code, 0, made2.stderr);
  assert.equal((await cli(['token', 'revoke', '--db', srv.db, '--name', 'auditor'])).code, 0);

  const { records, head } = await allRecords(srv);
  let previous = '0'.repeat(64);
  records.forEach((r, k) => {
    assert.equal(r.seq, k + 1, 'oldest first, no gaps');
    assert.match(r.time, RFC3339_Z);
    assert.equal(r.hash, recordHash(previous, r), `record ${r.seq} hashes to its hash`);
    previous = r.hash;
  });
  assert.equal(head, previous, 'head is the last record\'s hash');
  const seen = records.map((r) => `${r.actor} ${r.action} ${r.target}`);
  const target = `clusters/au/instances/au-a/remediations/${id}`;
  for (const want of [
    `system fleet.import fleet`,
    `system token.create tokens/admin`,
    `admin remediation.create ${target}`,
    `admin remediation.state_change ${target}`,
    'admin host.cordon hosts/ah2',
    'admin host.uncordon hosts/ah2',
    'admin engine.resume engine',
    'admin engine.pause engine',
    'admin cluster.automation clusters/au',
    'cli token.create tokens/auditor',
    'cli token.revoke tokens/auditor',
  ]) assert.ok(seen.includes(want), `${want} in\n${seen.join('\n')}`);
  const cancel = records.find((r) => r.action === 'remediation.state_change' && r.target === target);
  assert.deepEqual(JSON.parse(cancel.detail).to, 'CANCELLED');
  // The order they were made in.
  const order = [`admin remediation.create ${target}`, 'admin host.cordon hosts/ah2',
    'admin engine.pause engine', 'admin cluster.automation clusters/au', 'cli token.revoke tokens/auditor']
    .map((want) => seen.indexOf(want));
  assert.deepEqual([...order].sort((a, b) => a - b), order);

  const verified = await cli(['audit', 'verify', '--db', srv.db]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, new RegExp(`${records.length} records checked, head ${head}`));
  const withHead = await cli(['audit', 'verify', '--db', srv.db, '--head', head]);
  assert.equal(withHead.code, 0, withHead.stdout + withHead.stderr);
});

test('GET /v1/audit needs an unscoped admin token and a valid page token', async () => {
  const tok = async (name, role, clusters = []) => srv.token(name, role, clusters);
  const scopedAdmin = await tok('scoped-admin', 'admin', ['au']);
  const approver = await tok('approver', 'approver');
  const scoped = await srv.api('GET', '/v1/audit', { token: scopedAdmin });
  assert.equal(scoped.status, 403, scoped.text);
  assert.match(scoped.json.message, /unscoped/);
  assert.equal((await srv.api('GET', '/v1/audit', { token: approver })).status, 403);
  assert.equal((await srv.api('GET', '/v1/audit', { token: null })).status, 401);
  const bad = await srv.api('GET', '/v1/audit', { query: { page_token: 'nope' } });
  assert.equal(bad.status, 400, bad.text);
  const negative = await srv.api('GET', '/v1/audit', { query: { page_size: '-1' } });
  assert.equal(negative.status, 400, negative.text);
});

test('audit verify names the first record changed, removed or reordered, and with --head one cut off the end', async () => {
  const { records, head } = await allRecords(srv);
  const n = records.length;
  assert.ok(n >= 8, `enough records to tamper with: ${n}`);
  await srv.stop();
  // Each case edits its own copy of the untouched database.
  let k = 0;
  async function tampered(sql) {
    const copy = await copyDatabase(srv.db, srv.dir, `tampered_${k++}`);
    const edit = await runSql(copy, sql);
    assert.equal(edit.code, 0, edit.stderr);
    return copy;
  }
  async function expectBroken(db, pattern, extra = []) {
    const r = await cli(['audit', 'verify', '--db', db, ...extra]);
    assert.equal(r.code, 1, `${r.stdout} ${r.stderr}`);
    assert.match(r.stdout, pattern);
  }

  const intact = await cli(['audit', 'verify', '--db', srv.db, '--head', head]);
  assert.equal(intact.code, 0, intact.stdout + intact.stderr);

  await expectBroken(await tampered(`UPDATE audit_records SET detail = '{"to":"SUCCEEDED"}' WHERE seq = 4`),
    /record 4 was changed/);
  await expectBroken(await tampered('DELETE FROM audit_records WHERE seq = 5'),
    /record 5 was removed/);
  await expectBroken(await tampered(
    'UPDATE audit_records SET seq = -1 WHERE seq = 3; UPDATE audit_records SET seq = 3 WHERE seq = 6; '
    + 'UPDATE audit_records SET seq = 6 WHERE seq = -1'), /record 3 was changed or reordered/);
  // The last record removed: the head row still names it.
  await expectBroken(await tampered(`DELETE FROM audit_records WHERE seq = ${n}`),
    new RegExp(`record ${n} and any after it were removed`));
  // Removed with the head row moved back too: only a head hash seen earlier catches it.
  const cut = await tampered(`DELETE FROM audit_records WHERE seq = ${n}; `
    + `UPDATE audit_head SET seq = ${n - 1}, hash = '${records[n - 2].hash}'`);
  const quiet = await cli(['audit', 'verify', '--db', cut]);
  assert.equal(quiet.code, 0, quiet.stdout);
  await expectBroken(cut, new RegExp(`record ${n} and any after it were removed`), ['--head', head]);

  const missing = await cli(['audit', 'verify', '--db', `sqlite:${srv.dir}/missing.db`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
  await srv.start();
});
