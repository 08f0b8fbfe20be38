// docs/http-api.md 10 (Tokens): expiry, `token list`, `token revoke` against a running server
// (refused within 1 s), both still true across a restart, and last use recorded at shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { BIN, startServer, sleep, ZERO_TIMING } from './lib/server.mjs';

const FLEET = {
  clusters: [{
    cluster_id: 'tk', cluster_name: 'tk-name',
    instances: [{ instance_id: 'tk-a', instance_name: 'gpu-a', num_gpus: 8, host: 'th1' }],
  }],
  hosts: [{ host_name: 'th1', gpu_slots: 8 }],
  timing: ZERO_TIMING,
};

// Runs the binary; resolves {code, stdout, stderr} whatever the exit code.
function run(args) {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function createToken(srv, name, role, extra = []) {
  const r = await run(['token', 'create', '--db', srv.db, '--name', name, '--role', role, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

const clusters = (srv, token) => srv.api('GET', '/v1/compute/clusters', { token });

// Polls until the token is refused; resolves {res, elapsedMs} or fails after deadlineMs.
async function until401(srv, token, deadlineMs) {
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    const res = await clusters(srv, token);
    if (res.status === 401) return { res, elapsedMs: Date.now() - started };
    assert.equal(res.status, 200, res.text);
    await sleep(20);
  }
  assert.fail(`still accepted after ${deadlineMs} ms`);
}

let srv;
before(async () => { srv = await startServer({ fleet: FLEET }); });
after(async () => { await srv?.close(); });

test('a bad --expires-in is a clear usage error and makes no token', async () => {
  for (const bad of ['10w', '0d', 'abc', '1.5h', '2 s', '99999999d']) {
    const r = await run(['token', 'create', '--db', srv.db, '--name', 'bad', '--role', 'viewer',
      '--expires-in', bad]);
    assert.equal(r.code, 2, `${bad}: ${r.stdout} ${r.stderr}`);
    assert.match(r.stderr, /--expires-in .* unit \(s, m, h or d\)/, bad);
    assert.equal(r.stdout, '');
  }
  const list = await run(['token', 'list', '--db', srv.db]);
  assert.equal(list.code, 0, list.stderr);
  assert.doesNotMatch(list.stdout, /^bad\s/m);
});

test('an expired token gets 401 saying it expired, also after a restart', async () => {
  const token = await createToken(srv, 'short-lived', 'viewer', ['--expires-in', '2s']);
  const forever = await createToken(srv, 'forever', 'viewer');
  assert.equal((await clusters(srv, token)).status, 200);
  const { res } = await until401(srv, token, 10000);
  assert.equal(res.json.code, 16);
  assert.match(res.json.message, /expired/);
  assert.equal((await clusters(srv, forever)).status, 200);
  await srv.restart();
  const again = await clusters(srv, token);
  assert.equal(again.status, 401);
  assert.match(again.json.message, /expired/);
  assert.equal((await clusters(srv, forever)).status, 200);
});

test('token revoke on a running server: 401 within 1 s, also after a restart', async () => {
  const token = await createToken(srv, 'to-revoke', 'operator', ['--cluster', 'tk']);
  const other = await createToken(srv, 'stays', 'operator');
  // In use, so the server has it cached when the database changes under it.
  assert.equal((await clusters(srv, token)).status, 200);
  const r = await run(['token', 'revoke', '--db', srv.db, '--name', 'to-revoke']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /revoked token 'to-revoke'/);
  const { res, elapsedMs } = await until401(srv, token, 5000);
  assert.ok(elapsedMs <= 1200, `refused ${elapsedMs} ms after the revoke committed`);
  assert.equal(res.json.code, 16);
  assert.match(res.json.message, /revoked/);
  assert.equal((await clusters(srv, other)).status, 200, 'other tokens are untouched');
  await srv.restart();
  assert.equal((await clusters(srv, token)).status, 401);
  assert.equal((await clusters(srv, other)).status, 200);

  const unknown = await run(['token', 'revoke', '--db', srv.db, '--name', 'no-such-token']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /no token named 'no-such-token'/);
  const twice = await run(['token', 'revoke', '--db', srv.db, '--name', 'to-revoke']);
  assert.notEqual(twice.code, 0, 'a revoked name is revoked already');
});

test('token list: name, role, clusters, created, expires and last used, never a token', async () => {
  const used = await createToken(srv, 'listed-used', 'approver', ['--cluster', 'tk', '--expires-in', '90d']);
  const unused = await createToken(srv, 'listed-unused', 'viewer');
  assert.equal((await clusters(srv, used)).status, 200);
  // Last use is kept in memory and written at shutdown (or every so often).
  await srv.restart();
  const r = await run(['token', 'list', '--db', srv.db]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^NAME\s+ROLE\s+CLUSTERS\s+CREATED\s+EXPIRES\s+LAST USED$/);
  const row = (name) => lines.find((l) => l.startsWith(`${name} `))?.trim().split(/\s+/);
  const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
  const u = row('listed-used');
  assert.ok(u, r.stdout);
  assert.deepEqual(u.slice(0, 3), ['listed-used', 'approver', 'tk']);
  assert.match(u[3], t);
  assert.match(u[4], t);
  assert.ok(Date.parse(u[4]) - Date.parse(u[3]) >= 90 * 86400 * 1000 - 2000, 'expires in 90 days');
  assert.match(u[5], t, 'last used is recorded');
  const n = row('listed-unused');
  assert.deepEqual(n.slice(0, 3), ['listed-unused', 'viewer', 'all']);
  assert.equal(n[4], 'never');
  assert.equal(n[5], '-');
  assert.equal(row('to-revoke'), undefined, 'revoked tokens are not listed');
  for (const secret of [used, unused, srv.adminToken]) {
    assert.ok(!r.stdout.includes(secret), 'no token');
    assert.ok(!r.stdout.includes(createHash('sha256').update(secret).digest('hex')), 'no hash');
  }
  const missing = await run(['token', 'list', '--db', `sqlite:${srv.dir}/missing.db`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
});
