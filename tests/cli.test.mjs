// docs/http-api.md 6: the client verbs of build/noderepair against the real server. Every verb once,
// tables and --json, flags and environment, errors and exit codes, --all and --watch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  BIN, startServer, rPath, create, makePendingApproval, sleep, within, ZERO_TIMING,
} from './lib/server.mjs';

const FLEET = {
  clusters: [
    {
      cluster_id: 'cl', cluster_name: 'train-cl',
      instances: [
        { instance_id: 'c-a', instance_name: 'gpu-a', num_gpus: 8, host: 'h1' },
        { instance_id: 'c-b', instance_name: 'gpu-b', num_gpus: 8, host: 'h2' },
        { instance_id: 'c-c', instance_name: 'gpu-c', num_gpus: 8, host: 'h3' },
        { instance_id: 'c-d', instance_name: 'gpu-d', num_gpus: 8, host: 'h4' },
      ],
    },
    {
      cluster_id: 'cl2', cluster_name: 'infer-cl2',
      instances: [{ instance_id: 'c-e', instance_name: 'gpu-e', num_gpus: 4, host: 'h4' }],
    },
  ],
  hosts: [
    { host_name: 'h1', gpu_slots: 8 },
    { host_name: 'h2', gpu_slots: 8 },
    { host_name: 'h3', gpu_slots: 8 },
    { host_name: 'h4', gpu_slots: 16 },
    { host_name: 'h5', gpu_slots: 16 },
  ],
  timing: ZERO_TIMING,
};

// Slow enough to see each state, fast enough for a short test.
const SLOW_FLEET = {
  clusters: [{
    cluster_id: 'slow', cluster_name: 'slow-name',
    instances: [
      { instance_id: 's-a', instance_name: 'slow-a', num_gpus: 8, host: 'sh1' },
      { instance_id: 's-b', instance_name: 'slow-b', num_gpus: 8, host: 'sh2' },
    ],
  }],
  hosts: [{ host_name: 'sh1', gpu_slots: 8 }, { host_name: 'sh2', gpu_slots: 8 },
    { host_name: 'sh3', gpu_slots: 8 }, { host_name: 'sh4', gpu_slots: 8 }],
  timing: { cordon: 150, drain: 250, delete_vm: 250, provision_vm: 250, boot: 250, reboot: 250, power_cycle: 250 },
};

let srv;
let slow;
let admin; let viewer; let operator; let approver;

before(async () => {
  [srv, slow] = await Promise.all([
    startServer({ fleet: FLEET }),
    startServer({ fleet: SLOW_FLEET }),
  ]);
  admin = srv.adminToken;
  [viewer, operator, approver] = await Promise.all([
    srv.token('vera', 'viewer'), srv.token('otto', 'operator'), srv.token('abby', 'approver'),
  ]);
});

after(async () => {
  for (const s of [srv, slow]) if (s) await s.close();
});

// Runs the CLI; resolves {code, signal, stdout, stderr}. env: extra variables; by default
// NODEREPAIR_SERVER and NODEREPAIR_TOKEN point at `server` with the admin token.
function cli(args, { server = srv, token, env = {}, timeoutMs = 15000 } = {}) {
  const base = { ...process.env };
  delete base.NODEREPAIR_SERVER;
  delete base.NODEREPAIR_TOKEN;
  const fullEnv = {
    ...base,
    NODEREPAIR_SERVER: server.base,
    NODEREPAIR_TOKEN: token === undefined ? server.adminToken : token,
    ...env,
  };
  for (const [k, v] of Object.entries(fullEnv)) if (v === null) delete fullEnv[k];
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// Starts the CLI and returns the child with .out (growing stdout) and .done (the result).
function cliBackground(args, { server = srv, token } = {}) {
  const env = { ...process.env, NODEREPAIR_SERVER: server.base, NODEREPAIR_TOKEN: token ?? server.adminToken };
  const child = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.out = '';
  child.err = '';
  child.stdout.on('data', (d) => { child.out += d; });
  child.stderr.on('data', (d) => { child.err += d; });
  child.done = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: child.out, stderr: child.err }));
  });
  return child;
}

async function waitUntil(fn, ms, what) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (fn()) return;
    await sleep(25);
  }
  assert.fail(`timed out waiting for ${what}`);
}

function ok(res, what = '') {
  assert.equal(res.code, 0, `${what} exit code\nstdout: ${res.stdout}\nstderr: ${res.stderr}`);
  return res;
}

// The rows of a table: header cells and one array of cells per row (cells are 2+ spaces apart).
function table(text) {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const split = (l) => l.trim().split(/ {2,}/);
  return { header: split(lines[0]), rows: lines.slice(1).map(split) };
}

const cancelViaApi = (r) => srv.api('POST', rPath(r.cluster_id, r.instance_id, r.id, 'cancel'));

test('remediations create, get, list, events and cancel: tables, and --json is the API body', async () => {
  const made = ok(await cli(['remediations', 'create', '-c', 'cl', '-i', 'c-a', '--mode', 'vm_only',
    '--reason', 'Xid 79 on GPU 3', '--remediation-id', 'cli-first']), 'create');
  assert.match(made.stdout, /^ID:\s+cli-first$/m);
  assert.match(made.stdout, /^Instance:\s+c-a \(gpu-a\)$/m);
  assert.match(made.stdout, /^Mode:\s+VM_ONLY$/m);
  assert.match(made.stdout, /^State:\s+PENDING$/m);
  assert.match(made.stdout, /^Trigger:\s+MANUAL$/m);
  assert.match(made.stdout, /^Reason:\s+Xid 79 on GPU 3$/m);
  assert.match(made.stdout, /^Requested by:\s+admin$/m);

  const api = await srv.api('GET', rPath('cl', 'c-a', 'cli-first'));
  assert.equal(api.status, 200, api.text);
  const got = ok(await cli(['remediations', 'get', '--json', '-c', 'cl', '-i', 'c-a', 'cli-first']));
  assert.deepEqual(JSON.parse(got.stdout), api.json);
  assert.equal(got.stdout, `${api.text}\n`, '--json prints the body unchanged');

  const list = ok(await cli(['remediations', 'list', '-c', 'cl']));
  const t = table(list.stdout);
  assert.deepEqual(t.header, ['ID', 'INSTANCE', 'MODE', 'STATE', 'TRIGGER', 'CREATED', 'REASON']);
  const row = t.rows.find((r) => r[0] === 'cli-first');
  assert.ok(row, list.stdout);
  assert.deepEqual(row.slice(1, 5), ['c-a', 'VM_ONLY', 'PENDING', 'MANUAL']);
  assert.match(row[5], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(row[6], 'Xid 79 on GPU 3');

  const listJson = ok(await cli(['remediations', 'list', '-c', 'cl', '-i', 'c-a', '--json']));
  const apiList = await srv.api('GET', rPath('cl', 'c-a'));
  assert.deepEqual(JSON.parse(listJson.stdout), apiList.json);

  const events = ok(await cli(['remediations', 'events', '-c', 'cl', '-i', 'c-a', 'cli-first']));
  const e = table(events.stdout);
  assert.deepEqual(e.header, ['TIME', 'TYPE', 'STATE', 'STEP', 'ACTOR', 'DETAIL']);
  assert.deepEqual(e.rows[0].slice(1, 5), ['state_change', 'PENDING', '-', 'admin']);
  const eventsJson = ok(await cli(['--json', 'remediations', 'events', '-c', 'cl', '-i', 'c-a', 'cli-first']));
  assert.deepEqual(JSON.parse(eventsJson.stdout),
    (await srv.api('GET', rPath('cl', 'c-a', 'cli-first', 'events'))).json);

  const cancelled = ok(await cli(['remediations', 'cancel', '-c', 'cl', '-i', 'c-a', 'cli-first', '--json']));
  assert.equal(JSON.parse(cancelled.stdout).state, 'CANCELLED');
  assert.equal((await srv.api('GET', rPath('cl', 'c-a', 'cli-first'))).json.state, 'CANCELLED');
});

test('remediations list: filters take short and long names, long names go to the server', async () => {
  const r = await create(srv, 'cl', 'c-b', { mode: 'REMEDIATION_MODE_REBOOT_VM', reason: 'ecc' });
  assert.equal(r.status, 200, r.text);
  const both = ok(await cli(['remediations', 'list', '-c', 'cl', '--json', '--state', 'pending',
    '--mode', 'REBOOT_VM,REMEDIATION_MODE_HOST_AWARE', '--trigger', 'manual']));
  const ids = JSON.parse(both.stdout).remediations.map((x) => x.id);
  assert.deepEqual(ids, [r.json.id]);
  const none = ok(await cli(['remediations', 'list', '-c', 'cl', '--state', 'SUCCEEDED', '--mode', 'reboot_vm']));
  assert.deepEqual(table(none.stdout).rows, []);
  await cancelViaApi(r.json);
});

test('remediations approve and reject (approver), with comment and mode override', async (t) => {
  const first = await makePendingApproval(srv, 'cl', 'c-c');
  const second = await makePendingApproval(srv, 'cl2', 'c-e');
  if (!first || !second) {
    t.skip('no automated remediation (Alertmanager webhook) on this server');
    return;
  }
  const approved = ok(await cli(['remediations', 'approve', '-c', 'cl', '-i', 'c-c', first.id,
    '--comment', 'go ahead', '--mode', 'vm_only'], { token: approver }), 'approve');
  assert.match(approved.stdout, /^State:\s+PENDING$/m);
  assert.match(approved.stdout, /^Mode:\s+VM_ONLY$/m);
  assert.match(approved.stdout, /^Reviewed by:\s+abby$/m);
  assert.match(approved.stdout, /^Review comment:\s+go ahead$/m);
  const rejected = ok(await cli(['--json', 'remediations', 'reject', '-c', 'cl2', '-i', 'c-e', second.id,
    '--comment', 'false alarm'], { token: approver }), 'reject');
  const body = JSON.parse(rejected.stdout);
  assert.equal(body.state, 'CANCELLED');
  assert.equal(body.review_comment, 'false alarm');
  await srv.api('POST', rPath('cl', 'c-c', first.id, 'cancel'));
});

test('--all walks every page; without it the next page token goes to stderr', async () => {
  const ids = [];
  for (let k = 0; k < 7; k++) {
    const r = await create(srv, 'cl2', 'c-e', { reason: `page ${k}` });
    assert.equal(r.status, 200, r.text);
    ids.push(r.json.id);
    await cancelViaApi(r.json);
  }
  const all = ok(await cli(['remediations', 'list', '-c', 'cl2', '--all', '--page-size', '2', '--json']));
  const merged = JSON.parse(all.stdout);
  const apiAll = await srv.api('GET', rPath('cl2', '-'), { query: { page_size: '1000' } });
  assert.deepEqual(merged.remediations.map((r) => r.id), apiAll.json.remediations.map((r) => r.id));
  for (const id of ids) assert.ok(merged.remediations.some((r) => r.id === id), id);
  assert.equal(merged.has_next, false);
  assert.equal(merged.next_page_token, '');

  const allTable = ok(await cli(['remediations', 'list', '-c', 'cl2', '--all', '--page-size', '3']));
  assert.equal(table(allTable.stdout).rows.length, apiAll.json.remediations.length);

  const first = ok(await cli(['remediations', 'list', '-c', 'cl2', '--page-size', '2']));
  assert.equal(table(first.stdout).rows.length, 2);
  const m = /^next page: --page-token (\S+)$/m.exec(first.stderr);
  assert.ok(m, `stderr: ${first.stderr}`);
  const second = ok(await cli(['remediations', 'list', '-c', 'cl2', '--page-size', '2', '--page-token', m[1], '--json']));
  assert.deepEqual(JSON.parse(second.stdout).remediations.map((r) => r.id),
    apiAll.json.remediations.slice(2, 4).map((r) => r.id));
});

test('clusters list|get, hosts list|cordon|uncordon', async () => {
  const clusters = ok(await cli(['clusters', 'list'], { token: viewer }));
  const t = table(clusters.stdout);
  assert.deepEqual(t.header, ['CLUSTER', 'NAME', 'STATUS']);
  assert.deepEqual(t.rows.map((r) => r.slice(0, 2)), [['cl', 'train-cl'], ['cl2', 'infer-cl2']]);
  assert.deepEqual(JSON.parse(ok(await cli(['clusters', 'list', '--json'])).stdout),
    (await srv.api('GET', '/v1/compute/clusters')).json);

  const one = ok(await cli(['clusters', 'get', 'cl'], { token: viewer }));
  assert.match(one.stdout, /^Name:\s+train-cl$/m);
  const nodes = table(one.stdout.split('\n\n')[1]);
  assert.deepEqual(nodes.header, ['INSTANCE', 'NODE', 'HOST', 'STATUS', 'GPUS', 'LATEST-REMEDIATION']);
  const a = nodes.rows.find((r) => r[0] === 'c-a');
  assert.deepEqual(a.slice(0, 3), ['c-a', 'gpu-a', 'h1']);
  assert.equal(a[4], '8');
  assert.match(a[5], /^CANCELLED VM_ONLY cli-first$/);
  assert.deepEqual(JSON.parse(ok(await cli(['clusters', 'get', 'cl', '--json'])).stdout),
    (await srv.api('GET', '/v1/compute/clusters/cl')).json);

  const hosts = table(ok(await cli(['hosts', 'list'], { token: viewer })).stdout);
  assert.deepEqual(hosts.header, ['HOST', 'SLOTS', 'USED', 'CORDONED', 'INSTANCES']);
  assert.deepEqual(hosts.rows.find((r) => r[0] === 'h4'), ['h4', '16', '12', 'no', 'c-d,c-e']);

  assert.match(ok(await cli(['hosts', 'cordon', 'h5'])).stdout, /^h5: cordoned$/m);
  assert.deepEqual(table(ok(await cli(['hosts', 'list'])).stdout).rows.find((r) => r[0] === 'h5')[3], 'yes');
  assert.match(ok(await cli(['hosts', 'uncordon', 'h5'])).stdout, /^h5: uncordoned$/m);
});

test('alerts list', async () => {
  const alerts = ok(await cli(['alerts', 'list', '-c', 'cl', '--status', 'firing']));
  assert.deepEqual(table(alerts.stdout).header, ['STARTED', 'ALERT', 'INSTANCE', 'SEVERITY', 'STATUS', 'REMEDIATION']);
  const apiAlerts = await srv.api('GET', '/v1/compute/clusters/cl/health/alerts', { query: { status: 'firing' } });
  assert.equal(apiAlerts.status, 200, apiAlerts.text);
  assert.equal(table(alerts.stdout).rows.length, apiAlerts.json.alerts.length);
  const allAlerts = ok(await cli(['alerts', 'list', '-c', 'cl', '--all', '--page-size', '1', '--json']));
  const all = await srv.api('GET', '/v1/compute/clusters/cl/health/alerts', { query: { page_size: '1000' } });
  assert.deepEqual(JSON.parse(allAlerts.stdout).alerts, all.json.alerts);
});

test('health-checks run|get|list', async () => {
  const run = ok(await cli(['health-checks', 'run', '-c', 'cl', '-i', 'c-d', '--test', 'dcgm_diag',
    '--test', 'gpu_burn', '--json'], { token: operator }), 'run');
  const started = JSON.parse(run.stdout);
  assert.deepEqual(started.tests.map((t) => t.name), ['dcgm_diag', 'gpu_burn']);
  const shown = ok(await cli(['health-checks', 'get', '-c', 'cl', '-i', 'c-d', started.id], { token: viewer }));
  assert.match(shown.stdout, new RegExp(`^ID:\\s+${started.id}$`, 'm'));
  const tests = table(shown.stdout.split('\n\n')[1]);
  assert.deepEqual(tests.header, ['TEST', 'STATE', 'DETAIL']);
  assert.deepEqual(tests.rows.map((r) => r[0]), ['dcgm_diag', 'gpu_burn']);
  const list = table(ok(await cli(['health-checks', 'list', '-c', 'cl', '-i', 'c-d'])).stdout);
  assert.deepEqual(list.header, ['ID', 'STATE', 'TESTS', 'CREATED', 'ENDED', 'REMEDIATION']);
  assert.equal(list.rows[0][0], started.id);
  assert.equal(list.rows[0][2], 'dcgm_diag,gpu_burn');
  const unknown = await cli(['health-checks', 'run', '-c', 'cl', '-i', 'c-d', '--test', 'nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^noderepair: 400 INVALID_ARGUMENT: .+/m);
});

test('engine pause|resume|status', async () => {
  assert.equal(ok(await cli(['engine', 'status'], { token: viewer })).stdout, 'engine: paused\n');
  assert.equal(ok(await cli(['engine', 'resume'])).stdout, 'engine: running\n');
  assert.deepEqual((await srv.api('GET', '/v1/engine')).json, { paused: false });
  assert.deepEqual(JSON.parse(ok(await cli(['engine', 'pause', '--json'])).stdout), { paused: true });
  assert.deepEqual((await srv.api('GET', '/v1/engine')).json, { paused: true });
});

test('server and token: flags win over NODEREPAIR_SERVER and NODEREPAIR_TOKEN, before or after the verb', async () => {
  const dead = 'http://127.0.0.1:1';
  ok(await cli(['--server', srv.base, 'engine', 'status'], { env: { NODEREPAIR_SERVER: dead } }));
  ok(await cli(['engine', 'status', '--server', srv.base], { env: { NODEREPAIR_SERVER: dead } }));
  const down = await cli(['engine', 'status'], { env: { NODEREPAIR_SERVER: dead } });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^noderepair: cannot reach server at http:\/\/127\.0\.0\.1:1/m);

  // The viewer token from the environment may not pause; the admin token from the flag may.
  const denied = await cli(['engine', 'pause'], { token: viewer });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /^noderepair: 403 PERMISSION_DENIED: .*vera.*\(request id [0-9a-f]+\)$/m);
  ok(await cli(['engine', 'pause', '--token', admin], { token: viewer }));
  ok(await cli(['--token', admin, 'engine', 'pause'], { token: viewer }));

  // A path prefix on --server is kept (the server has none, so it answers 404).
  const prefixed = await cli(['engine', 'status', '--server', `${srv.base}/prefix/`]);
  assert.equal(prefixed.code, 1);
  assert.match(prefixed.stderr, /404 NOT_FOUND/);
});

test('errors: the server\'s status, code name and message on stderr, exit 1', async () => {
  const bad = await cli(['clusters', 'list'], { token: 'nr_not-a-real-token' });
  const apiBad = await srv.api('GET', '/v1/compute/clusters', { token: 'nr_not-a-real-token' });
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, '');
  assert.ok(bad.stderr.includes(`noderepair: 401 UNAUTHENTICATED: ${apiBad.json.message} (request id `), bad.stderr);

  const none = await cli(['clusters', 'list'], { token: null });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^noderepair: 401 UNAUTHENTICATED: /m);

  const missing = await cli(['clusters', 'get', 'nope']);
  const apiMissing = await srv.api('GET', '/v1/compute/clusters/nope');
  assert.equal(missing.code, 1);
  assert.ok(missing.stderr.startsWith(`noderepair: 404 NOT_FOUND: ${apiMissing.json.message}`), missing.stderr);
  const missingList = await cli(['remediations', 'list', '-c', 'nope']);
  assert.equal(missingList.code, 1);
  assert.match(missingList.stderr, /^noderepair: 404 NOT_FOUND: .*nope/m);

  const denied = await cli(['remediations', 'create', '-c', 'cl', '-i', 'c-d', '--mode', 'VM_ONLY'], { token: viewer });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /^noderepair: 403 PERMISSION_DENIED: /m);

  const wrongState = await cli(['remediations', 'approve', '-c', 'cl', '-i', 'c-a', 'cli-first']);
  assert.equal(wrongState.code, 1);
  assert.match(wrongState.stderr, /^noderepair: 400 FAILED_PRECONDITION: /m);
});

test('usage errors exit 2', async () => {
  for (const args of [
    ['remediations', 'list'], // --cluster is required
    ['remediations', 'get', '-c', 'cl', '-i', 'c-a'], // no id
    ['remediations', 'create', '-c', 'cl', '-i', 'c-a', '--mode', 'teleport'],
    ['remediations', 'list', '-c', 'cl', '--state', 'DONE'],
    ['remediations', 'frobnicate'],
    ['alerts', 'list', '-c', 'cl', '--status', 'sometimes'],
    ['engine'],
    ['engine', 'status', '--server', 'https://127.0.0.1:8443', '--cacert', '/nonexistent/ca.pem'],
    ['engine', 'status', '--server', 'ftp://127.0.0.1'],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.ok(r.stderr.length > 0, args.join(' '));
  }
  const https = await cli(['engine', 'status', '--server', 'https://127.0.0.1:8443', '--cacert', '/nonexistent/ca.pem']);
  assert.match(https.stderr, /cannot read --cacert \/nonexistent\/ca\.pem/);
  const unknownMode = await cli(['remediations', 'create', '-c', 'cl', '-i', 'c-a', '--mode', 'teleport']);
  assert.match(unknownMode.stderr, /unknown mode 'teleport'; use one of VM_ONLY, HOST_AWARE/);
  const help = await cli(['remediations', 'list', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--watch/);
});

test('remediations get --watch follows one remediation to SUCCEEDED and exits 0', async () => {
  // The engine waits until the watch has printed PENDING, so every later state is a change.
  const r = await create(slow, 'slow', 's-a', { mode: 'REMEDIATION_MODE_HOST_AWARE', reason: 'watch me' });
  assert.equal(r.status, 200, r.text);
  const child = cliBackground(['remediations', 'get', '--watch', '-c', 'slow', '-i', 's-a', r.json.id], { server: slow });
  await waitUntil(() => /PENDING/.test(child.out) || child.exitCode !== null, 5000, 'PENDING');
  assert.equal((await slow.api('POST', '/v1/engine:resume')).status, 200);
  const res = await within(child.done, 15000);
  assert.ok(res, `watch did not end\nstdout: ${child.out}\nstderr: ${child.err}`);
  assert.equal(res.code, 0, `stdout: ${res.stdout}\nstderr: ${res.stderr}`);
  const t = table(res.stdout);
  assert.deepEqual(t.header, ['UPDATED', 'ID', 'INSTANCE', 'MODE', 'STATE', 'DETAIL']);
  const states = t.rows.map((row) => row[4]);
  assert.equal(states[0], 'PENDING', res.stdout);
  assert.equal(states.at(-1), 'SUCCEEDED', res.stdout);
  for (const s of ['QUARANTINING', 'QUARANTINED', 'RUNNING']) assert.ok(states.includes(s), `${s} in ${states}`);
  const order = ['PENDING', 'QUARANTINING', 'QUARANTINED', 'RUNNING', 'SUCCEEDED'];
  const ranks = states.map((s) => order.indexOf(s));
  assert.deepEqual(ranks, [...ranks].sort((x, y) => x - y), `states in order: ${states}`);
  for (const row of t.rows) assert.deepEqual(row.slice(1, 4), [r.json.id, 's-a', 'HOST_AWARE']);

  // Already terminal: printed once, exit at once; --json prints one object per line.
  const again = ok(await cli(['remediations', 'get', '-w', '--json', '-c', 'slow', '-i', 's-a', r.json.id], { server: slow }));
  const lines = again.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 1);
  assert.deepEqual(lines[0], (await slow.api('GET', rPath('slow', 's-a', r.json.id))).json);

  const unknown = await cli(['remediations', 'get', '--watch', '-c', 'slow', '-i', 's-a', 'no-such-one'], { server: slow });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^noderepair: 404 NOT_FOUND: /m);
});

test('remediations list --watch prints the list, then each change as a row, until interrupted', async () => {
  assert.equal((await slow.api('POST', '/v1/engine:resume')).status, 200);
  const child = cliBackground(['remediations', 'list', '-c', 'slow', '--watch'], { server: slow });
  try {
    await waitUntil(() => /^UPDATED\s+ID\s+INSTANCE\s+MODE\s+STATE\s+DETAIL$/m.test(child.out) || child.exitCode !== null,
      5000, 'the header');
    assert.equal(child.exitCode, null, child.err);
    const r = await create(slow, 'slow', 's-b', { mode: 'REMEDIATION_MODE_VM_ONLY', reason: 'listed' });
    assert.equal(r.status, 200, r.text);
    const mine = () => table(child.out).rows.filter((row) => row[1] === r.json.id).map((row) => row[4]);
    await waitUntil(() => mine().includes('SUCCEEDED'), 10000, 'SUCCEEDED in the watch');
    const states = mine();
    assert.equal(states[0], 'PENDING', states.join(','));
    assert.ok(states.includes('RUNNING'), states.join(','));
    assert.equal(child.exitCode, null, 'a list watch keeps running');
  } finally {
    child.kill('SIGINT');
  }
  const end = await child.done;
  assert.equal(end.signal, 'SIGINT', JSON.stringify(end));
});
