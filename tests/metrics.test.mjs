// Prometheus metrics at /metrics (README "Metrics") and the request/transition logs
// (README "Logs"): the exposition passes `promtool check metrics`, and its counters match
// what the test did.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { existsSync } from 'node:fs';
import { startServer, rPath, create, alertPayload, pool, sleep, ZERO_TIMING } from './lib/server.mjs';
import { waitState } from './lib/engine.mjs';

const PROMTOOL = '/usr/bin/promtool';
const FLEET = {
  clusters: [{
    cluster_id: 'm1',
    instances: Array.from({ length: 12 }, (_, k) => ({ instance_id: `m1-i${k}`, instance_name: `m1-gpu-${k}`, num_gpus: 8, host: `m1-h${k}` })),
  }],
  hosts: Array.from({ length: 14 }, (_, k) => ({ host_name: `m1-h${k}`, gpu_slots: 8 })),
  timing: ZERO_TIMING,
};

// Parses the text format into [{name, labels, value}].
function parse(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `sample line: ${line}`);
    const labels = {};
    for (const [, k, v] of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}
const sum = (samples, name, where = {}) => samples
  .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
  .reduce((a, s) => a + s.value, 0);

async function scrape(srv) {
  const res = await fetch(`${srv.base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return res.text();
}

function promtool(text) {
  return new Promise((resolve) => {
    const p = execFile(PROMTOOL, ['check', 'metrics'], (err, stdout, stderr) => resolve({ code: err ? err.code : 0, out: stdout + stderr }));
    p.stdin.end(text);
  });
}

let srv;
before(async () => { srv = await startServer({ fleet: FLEET, enginePaused: false, extraArgs: ['--log-format', 'json'] }); });
after(async () => { await srv?.close(); });

test('/metrics passes promtool and its counters match the actions taken', async (t) => {
  const before0 = parse(await scrape(srv));
  assert.equal(sum(before0, 'noderepair_remediations_created_total'), 0);

  // 6 manual remediations of three modes, all run to SUCCEEDED.
  const modes = ['REMEDIATION_MODE_REBOOT_VM', 'REMEDIATION_MODE_VM_ONLY', 'REMEDIATION_MODE_HOST_AWARE'];
  const made = await pool([0, 1, 2, 3, 4, 5], 6, async (k) => (await create(srv, 'm1', `m1-i${k}`, { mode: modes[k % 3] })).json);
  for (const r of made) await waitState(srv, r);
  // One rejected (alert → PENDING_APPROVAL → reject), one bad request, one 404.
  const hook = await srv.api('POST', '/v1/integrations/alertmanager', { body: alertPayload({ instanceId: 'm1-i6' }) });
  assert.equal(hook.status, 200);
  const unmatched = await srv.api('POST', '/v1/integrations/alertmanager', { body: alertPayload({ instanceId: 'nobody' }) });
  assert.equal(unmatched.status, 200);
  const auto = (await srv.api('GET', rPath('m1', 'm1-i6'))).json.remediations[0];
  assert.equal(auto.state, 'PENDING_APPROVAL');
  await sleep(30);
  const rej = await srv.api('POST', rPath('m1', 'm1-i6', auto.id, 'reject'), { body: { comment: 'no' } });
  assert.equal(rej.status, 200);
  assert.equal((await create(srv, 'm1', 'm1-i7', { body: { mode: 'BOGUS' } })).status, 400);
  assert.equal((await srv.api('GET', rPath('m1', 'm1-i7', 'nope'))).status, 404);
  // An active health check that passes.
  const run = await srv.api('POST', '/v1/compute/clusters/m1/instances/m1-i8/health_checks', { body: { tests: ['dcgm_diag', 'gpu_burn'] } });
  assert.equal(run.status, 200);
  for (let k = 0; k < 100; k++) {
    const g = await srv.api('GET', `/v1/compute/clusters/m1/instances/m1-i8/health_checks/${run.json.id}`);
    if (g.json.state !== 'RUNNING') break;
    await sleep(50);
  }

  const text = await scrape(srv);
  if (existsSync(PROMTOOL)) {
    const check = await promtool(text);
    assert.equal(check.code, 0, check.out);
    assert.equal(check.out.trim(), '', `promtool has remarks:\n${check.out}`);
  } else {
    t.diagnostic('promtool not installed: format not checked');
  }
  const m = parse(text);
  assert.equal(sum(m, 'noderepair_remediations_created_total', { trigger: 'REMEDIATION_TRIGGER_MANUAL' }), 6);
  assert.equal(sum(m, 'noderepair_remediations_created_total', { trigger: 'REMEDIATION_TRIGGER_AUTOMATED' }), 1);
  assert.equal(sum(m, 'noderepair_remediations_created_total', { mode: 'REMEDIATION_MODE_REBOOT_VM', trigger: 'REMEDIATION_TRIGGER_MANUAL' }), 2);
  assert.equal(sum(m, 'noderepair_remediation_transitions_total', { to: 'SUCCEEDED' }), 6);
  assert.equal(sum(m, 'noderepair_remediation_transitions_total', { from: 'PENDING_APPROVAL', to: 'CANCELLED' }), 1);
  assert.equal(sum(m, 'noderepair_remediation_transitions_total', { from: 'NEW' }), 7);
  // Stored counts by state (gauges read from the store).
  assert.equal(sum(m, 'noderepair_remediations', { state: 'SUCCEEDED' }), 6);
  assert.equal(sum(m, 'noderepair_remediations', { state: 'CANCELLED', trigger: 'REMEDIATION_TRIGGER_AUTOMATED' }), 1);
  assert.equal(sum(m, 'noderepair_remediations'), 7);
  assert.equal(sum(m, 'noderepair_engine_queue_depth'), 0);
  // Stage histograms: every remediation left PENDING once; the automated one waited for approval.
  assert.equal(sum(m, 'noderepair_remediation_stage_duration_seconds_count', { stage: 'queued' }), 6);
  assert.equal(sum(m, 'noderepair_remediation_stage_duration_seconds_count', { stage: 'waiting_for_approval' }), 1);
  assert.ok(sum(m, 'noderepair_remediation_stage_duration_seconds_sum', { stage: 'waiting_for_approval' }) >= 0.03);
  assert.equal(sum(m, 'noderepair_remediation_stage_duration_seconds_count', { stage: 'recovery' }), 6);
  assert.equal(sum(m, 'noderepair_remediation_duration_seconds_count', { outcome: 'SUCCEEDED' }), 6);
  // Engine steps: all six drained and rejoined.
  assert.equal(sum(m, 'noderepair_engine_step_duration_seconds_count', { step: 'drain' }), 6);
  assert.equal(sum(m, 'noderepair_engine_step_duration_seconds_count', { step: 'rejoin' }), 6);
  assert.equal(sum(m, 'noderepair_engine_step_duration_seconds_count', { step: 'reboot_vm' }), 2);
  // Alerts.
  assert.equal(sum(m, 'noderepair_alerts_received_total', { status: 'firing' }), 2);
  assert.equal(sum(m, 'noderepair_alerts_matched_total', { outcome: 'created' }), 1);
  assert.equal(sum(m, 'noderepair_alerts_matched_total', { outcome: 'unmatched' }), 1);
  // Active checks.
  assert.equal(sum(m, 'noderepair_health_check_runs_total', { result: 'PASSED' }), 1);
  assert.equal(sum(m, 'noderepair_health_check_tests_total', { test: 'gpu_burn', result: 'PASSED' }), 1);
  // HTTP by route pattern and code.
  const createRoute = '/v1/compute/clusters/{}/instances/{}/remediations';
  assert.equal(sum(m, 'noderepair_http_request_duration_seconds_count', { method: 'POST', route: createRoute, code: '200' }), 6);
  assert.equal(sum(m, 'noderepair_http_request_duration_seconds_count', { method: 'POST', route: createRoute, code: '400' }), 1);
  assert.equal(sum(m, 'noderepair_http_request_duration_seconds_count', { method: 'GET', route: `${createRoute}/{}`, code: '404' }), 1);
  assert.ok(!m.some((s) => s.labels.route && s.labels.route.includes('m1-i')), 'routes are patterns, never raw paths');
  // Storage.
  assert.ok(sum(m, 'noderepair_storage_commit_duration_seconds_count') > 0);
  assert.ok(sum(m, 'noderepair_storage_commit_batch_size_sum') >= sum(m, 'noderepair_storage_commit_batch_size_count'));
});

test('with the engine paused, queue depth counts PENDING and in-flight is 0', async () => {
  assert.equal((await srv.api('POST', '/v1/engine:pause')).status, 200);
  const a = await create(srv, 'm1', 'm1-i9', { mode: 'REMEDIATION_MODE_REBOOT_VM' });
  const b = await create(srv, 'm1', 'm1-i10', { mode: 'REMEDIATION_MODE_REBOOT_VM' });
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  const m = parse(await scrape(srv));
  assert.equal(sum(m, 'noderepair_engine_queue_depth'), 2);
  assert.equal(sum(m, 'noderepair_engine_paused'), 1);
  assert.equal(sum(m, 'noderepair_remediations', { state: 'PENDING' }), 2);
  assert.equal((await srv.api('POST', '/v1/engine:resume')).status, 200);
  await waitState(srv, a.json);
  await waitState(srv, b.json);
  const after2 = parse(await scrape(srv));
  assert.equal(sum(after2, 'noderepair_engine_queue_depth'), 0);
});

test('--log-format json: one JSON object per line; requests and the transitions they cause share a request id', async () => {
  const res = await srv.api('POST', rPath('m1', 'm1-i11'), { body: { mode: 'REMEDIATION_MODE_REBOOT_VM' }, headers: { 'x-request-id': 'trace-me-123' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-request-id'), 'trace-me-123');
  await waitState(srv, res.json);
  await sleep(50);
  const lines = srv.starts.at(-1).stderr.split('\n').filter((l) => l.startsWith('{'));
  const records = lines.map((l) => JSON.parse(l));
  const request = records.find((r) => r.event === 'request' && r.request_id === 'trace-me-123');
  assert.ok(request, 'the request is logged');
  assert.equal(request.method, 'POST');
  assert.equal(request.status, 200);
  assert.equal(request.route, '/v1/compute/clusters/{}/instances/{}/remediations');
  assert.equal(request.token, 'admin');
  assert.equal(typeof request.duration_ms, 'number');
  assert.match(request.time, /Z$/);
  const transitions = records.filter((r) => r.event === 'transition' && r.remediation_id === res.json.id);
  assert.deepEqual(transitions.map((r) => r.to), ['PENDING', 'RUNNING', 'SUCCEEDED']);
  assert.equal(transitions[0].request_id, 'trace-me-123', 'the create carries the request id');
  assert.equal(transitions[0].from, 'NEW');
  assert.equal(transitions[1].request_id, undefined, "the engine's steps are not the request's");
});

test('text logs (the default) are key=value lines', async () => {
  const s = await startServer({ fleet: FLEET });
  try {
    const res = await s.api('GET', '/v1/compute/clusters', { headers: { 'x-request-id': 'txt-1' } });
    assert.equal(res.status, 200);
    await sleep(50);
    const line = s.starts.at(-1).stderr.split('\n').find((l) => l.includes('request_id=txt-1'));
    assert.match(line, /^\S+Z request request_id=txt-1 method=GET path=\/v1\/compute\/clusters route=\/v1\/compute\/clusters status=200 duration_ms=\d+\.\d+ token=admin$/);
  } finally {
    await s.close();
  }
});

test('requests the HTTP layer refuses itself (413, 400) are counted and logged too', async () => {
  const big = await srv.api('POST', rPath('m1', 'm1-i0'), { rawBody: 'x'.repeat(2 << 20), headers: { 'content-type': 'application/json', 'x-request-id': 'too-big-1' } });
  assert.equal(big.status, 413);
  const bad = await new Promise((resolve) => {
    const sock = net.connect(srv.port, '127.0.0.1', () => sock.write('GET /v1/%zz HTTP/1.1\r\nhost: x\r\n\r\n'));
    let text = '';
    sock.on('data', (d) => { text += d; if (text.includes('\r\n\r\n')) { sock.destroy(); resolve(text); } });
  });
  assert.match(bad, /^HTTP\/1\.1 400 /);
  const m = parse(await scrape(srv));
  assert.equal(sum(m, 'noderepair_http_request_duration_seconds_count', { route: '(refused)', code: '413', method: 'POST' }), 1);
  assert.equal(sum(m, 'noderepair_http_request_duration_seconds_count', { route: '(refused)', code: '400' }), 1);
  await sleep(50);
  const records = srv.starts.at(-1).stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const refused = records.filter((r) => r.event === 'request' && r.route === '(refused)');
  assert.deepEqual(refused.map((r) => r.status).sort(), [400, 413]);
  assert.ok(refused.every((r) => typeof r.request_id === 'string' && r.request_id.length > 0));
});
