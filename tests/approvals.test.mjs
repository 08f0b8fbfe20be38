// Two-person approval and batch approve (docs/http-api.md 11), through the official SDK and HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import Together from 'together-ai';
import {
  BIN, startServer, makeFleet, rPath, create, makePendingApproval, alertPayload, sleep,
} from './lib/server.mjs';

const HOST_AWARE = 'REMEDIATION_MODE_HOST_AWARE';
const VM_ONLY = 'REMEDIATION_MODE_VM_ONLY';
const CID = 'ap';
const BATCH = `/v1/compute/clusters/${CID}/remediations:batchApprove`;

let srv;
let tokens;
let nextK = 0;
const fresh = () => `${CID}-i${nextK++}`;

before(async () => {
  srv = await startServer({
    fleet: makeFleet([
      { cluster_id: CID, instances: 40 },
      { cluster_id: 'other', instances: 2 },
      { cluster_id: 'auto', instances: 4 },
    ]),
    config: [
      'approval:',
      '  two_person_modes: [HOST_AWARE, REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT]',
      'automation:',
      '  max_active_fraction: 1.0',
      '',
    ].join('\n'),
  });
  tokens = {
    alice: await srv.token('alice', 'approver'),
    bob: await srv.token('bob', 'approver'),
    operator: await srv.token('carol', 'operator'),
    viewer: await srv.token('dave', 'viewer'),
  };
});

after(async () => { if (srv) await srv.close(); });

function client(token) {
  return new Together({ apiKey: token, baseURL: `http://127.0.0.1:${srv.port}/v1`, maxRetries: 0, timeout: 20000 });
}

async function rejectsWith(promise, status, code) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.status, status, `status ${e.status}: ${JSON.stringify(e.error)}`);
    assert.equal(e.error?.code, code, JSON.stringify(e.error));
    return true;
  });
}

async function waitForPendingApproval(c, i, ms = 5000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const l = await srv.api('GET', rPath(c, i));
    const found = l.json?.remediations?.[0];
    if (found) return found;
    await sleep(25);
  }
  return null;
}

test('a manual remediation of a two-person mode waits, its requester cannot approve it, a second person can', async () => {
  const inst = fresh();
  const alice = client(tokens.alice);
  const r = await alice.beta.clusters.remediations.create(inst, { cluster_id: CID, mode: HOST_AWARE, reason: 'fell off the bus' });
  assert.equal(r.state, 'PENDING_APPROVAL');
  assert.equal(r.trigger, 'REMEDIATION_TRIGGER_MANUAL');
  assert.equal(r.requested_by, 'alice');

  await rejectsWith(alice.beta.clusters.remediations.approve(r.id, { cluster_id: CID, instance_id: inst }), 403, 7);
  const own = await srv.api('POST', rPath(CID, inst, r.id, 'approve'), { token: tokens.alice, body: {} });
  assert.equal(own.status, 403);
  assert.match(own.json.message, /second person/);
  const still = await srv.api('GET', rPath(CID, inst, r.id));
  assert.equal(still.json.state, 'PENDING_APPROVAL');

  const approved = await client(tokens.bob).beta.clusters.remediations.approve(r.id, { cluster_id: CID, instance_id: inst, comment: 'agreed' });
  assert.equal(approved.state, 'PENDING');
  assert.equal(approved.reviewed_by, 'bob');
  const events = (await srv.api('GET', rPath(CID, inst, r.id, 'events'))).json.events;
  const approval = events.find((e) => e.state === 'PENDING');
  assert.equal(approval.actor, 'bob');
  assert.match(approval.detail, /requested by alice/);
});

test('a manual remediation of another mode starts in PENDING as before', async () => {
  const r = await create(srv, CID, fresh(), { mode: VM_ONLY, token: tokens.alice });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'PENDING');
});

test('an approval that would set a two-person mode by override is refused and changes nothing', async () => {
  const inst = fresh();
  const pa = await makePendingApproval(srv, CID, inst);
  assert.ok(pa, 'an automated remediation waits for approval');
  const refused = await srv.api('POST', rPath(CID, inst, pa.id, 'approve'), { token: tokens.bob, body: { mode: HOST_AWARE } });
  assert.equal(refused.status, 403, refused.text);
  assert.equal(refused.json.code, 7);
  const after = (await srv.api('GET', rPath(CID, inst, pa.id))).json;
  assert.equal(after.state, 'PENDING_APPROVAL');
  assert.equal(after.mode, pa.mode);
  const events = (await srv.api('GET', rPath(CID, inst, pa.id, 'events'))).json.events;
  assert.equal(events.filter((e) => e.type === 'mode_change').length, 0);
});

test('automation never approves a remediation of a two-person mode, even under an automatic policy', async () => {
  const patched = await srv.api('PATCH', '/v1/compute/clusters/auto', { body: { automation: { policy: 'automatic' } } });
  assert.equal(patched.status, 200, patched.text);
  const fired = await srv.api('POST', '/v1/integrations/alertmanager', {
    token: tokens.operator, body: alertPayload({ alertname: 'DmesgGpuFallenOffBus', instanceId: 'auto-i0' }),
  });
  assert.equal(fired.status, 200, fired.text);
  const waiting = await waitForPendingApproval('auto', 'auto-i0');
  assert.ok(waiting);
  assert.equal(waiting.mode, HOST_AWARE);
  assert.equal(waiting.state, 'PENDING_APPROVAL');
  assert.equal(waiting.reviewed_by, undefined);
  // Another mode is still approved at once.
  await srv.api('POST', '/v1/integrations/alertmanager', {
    token: tokens.operator, body: alertPayload({ alertname: 'GpuEccDoubleBitError', instanceId: 'auto-i1' }),
  });
  const approved = await waitForPendingApproval('auto', 'auto-i1');
  assert.ok(approved);
  assert.equal(approved.reviewed_by, 'auto-approved');
  // And a person may approve the waiting one.
  const ok = await srv.api('POST', rPath('auto', 'auto-i0', waiting.id, 'approve'), { token: tokens.alice, body: {} });
  assert.equal(ok.status, 200, ok.text);
});

test('batch approve: each id on its own, in request order, errors as google.rpc Status', async () => {
  const a = await makePendingApproval(srv, CID, fresh());
  const b = await makePendingApproval(srv, CID, fresh());
  const queuedInst = fresh();
  const queued = (await create(srv, CID, queuedInst, { mode: VM_ONLY, token: tokens.operator })).json;
  const ownInst = fresh();
  const own = (await create(srv, CID, ownInst, { mode: HOST_AWARE, token: tokens.bob })).json;
  const elsewhere = await makePendingApproval(srv, 'other', 'other-i0');
  assert.ok(a && b && queued && own && elsewhere);
  const ids = [a.id, 'no-such-remediation', queued.id, elsewhere.id, own.id, b.id];
  const r = await srv.api('POST', BATCH, { token: tokens.bob, body: { ids, comment: 'storm cleared' } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.results.map((x) => x.id), ids);
  const [ra, unknown, pending, other, ownResult, rb] = r.json.results;
  assert.equal(ra.remediation.state, 'PENDING');
  assert.equal(ra.remediation.reviewed_by, 'bob');
  assert.equal(ra.remediation.review_comment, 'storm cleared');
  assert.equal(ra.error, undefined);
  assert.equal(rb.remediation.state, 'PENDING');
  for (const [result, code] of [[unknown, 5], [pending, 9], [other, 5], [ownResult, 7]]) {
    assert.equal(result.remediation, undefined);
    assert.equal(result.error.code, code, JSON.stringify(result));
    assert.equal(typeof result.error.message, 'string');
    assert.deepEqual(result.error.details, []);
  }
  assert.equal((await srv.api('GET', rPath('other', 'other-i0', elsewhere.id))).json.state, 'PENDING_APPROVAL');
  assert.equal((await srv.api('GET', rPath(CID, ownInst, own.id))).json.state, 'PENDING_APPROVAL');
  assert.equal((await srv.api('GET', rPath(CID, queuedInst, queued.id))).json.state, 'PENDING');
});

test('batch approve refuses none, more than 1,000 or malformed ids, and changes nothing', async () => {
  const inst = fresh();
  const pa = await makePendingApproval(srv, CID, inst);
  assert.ok(pa);
  const tooMany = [pa.id, ...Array.from({ length: 1000 }, (_, k) => `id-${k}`)];
  for (const body of [{ ids: [] }, { ids: tooMany }, {}, { ids: 'x' }, { ids: [pa.id, 7] }, { ids: [pa.id, pa.id] },
    { ids: [pa.id], mode: 'REMEDIATION_MODE_HOST_POWER_CYCLE' }, { ids: [pa.id], mode: 'NOT_A_MODE' }]) {
    const r = await srv.api('POST', BATCH, { token: tokens.bob, body });
    assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
    assert.equal(r.json.code, 3);
  }
  const bad = await srv.api('POST', BATCH, { token: tokens.bob, rawBody: '{"ids": [' });
  assert.equal(bad.status, 400);
  for (const token of [tokens.operator, tokens.viewer]) {
    const r = await srv.api('POST', BATCH, { token, body: { ids: [pa.id] } });
    assert.equal(r.status, 403, r.text);
  }
  const unknownCluster = await srv.api('POST', '/v1/compute/clusters/nope/remediations:batchApprove', { token: tokens.bob, body: { ids: [pa.id] } });
  assert.equal(unknownCluster.status, 404, unknownCluster.text);
  assert.equal((await srv.api('GET', rPath(CID, inst, pa.id))).json.state, 'PENDING_APPROVAL');
  // A thousand is the limit, not past it.
  const thousand = await srv.api('POST', BATCH, { token: tokens.bob, body: { ids: tooMany.slice(0, 1000) } });
  assert.equal(thousand.status, 200, thousand.text.slice(0, 200));
  assert.equal(thousand.json.results.length, 1000);
  assert.equal(thousand.json.results[0].remediation.state, 'PENDING');
});

function cli(args, token) {
  return new Promise((resolve) => {
    execFile(BIN, args, { env: { ...process.env, NODEREPAIR_SERVER: srv.base, NODEREPAIR_TOKEN: token }, timeout: 15000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

test('the CLI approves several ids in one batch and says which failed', async () => {
  const a = await makePendingApproval(srv, CID, fresh());
  const b = await makePendingApproval(srv, CID, fresh());
  const ok = await cli(['remediations', 'approve', '-c', CID, a.id, b.id, '--comment', 'cli batch'], tokens.bob);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.match(ok.stdout, new RegExp(`${a.id}.*PENDING`));
  assert.match(ok.stdout, new RegExp(`${b.id}.*PENDING`));
  const c = await makePendingApproval(srv, CID, fresh());
  const mixed = await cli(['remediations', 'approve', '-c', CID, c.id, a.id, '--json'], tokens.bob);
  assert.equal(mixed.code, 1, mixed.stderr + mixed.stdout);
  const json = JSON.parse(mixed.stdout);
  assert.equal(json.results[0].remediation.state, 'PENDING');
  assert.equal(json.results[1].error.code, 9);
  // One id with its instance is the single approve, as before.
  const inst = fresh();
  const d = await makePendingApproval(srv, CID, inst);
  const single = await cli(['remediations', 'approve', '-c', CID, '-i', inst, d.id], tokens.bob);
  assert.equal(single.code, 0, single.stderr);
  assert.match(single.stdout, /PENDING/);
});
