// The official Together SDK (npm together-ai 0.52.0), unchanged, against noderepair.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Together from 'together-ai';
import {
  startServer, makeFleet, rPath, makePendingApproval, RFC3339_Z,
} from './lib/server.mjs';

let srv;
let tokens;
let nextK = 0;
const fresh = () => `sdk-i${nextK++}`;
const CID = 'sdk';

before(async () => {
  srv = await startServer({
    fleet: makeFleet([
      { cluster_id: CID, cluster_name: 'sdk-cluster', instances: 80 },
      { cluster_id: 'other', instances: 2 },
      { cluster_id: 'sdkpa', instances: 1 },
    ]),
  });
  tokens = {
    viewer: await srv.token('sdk-viewer', 'viewer'),
    operator: await srv.token('sdk-operator', 'operator'),
    approver: await srv.token('sdk-approver', 'approver'),
  };
});

after(async () => { if (srv) await srv.close(); });

// A client whose fetch counts requests (to prove non-retriable errors are not retried).
function client(token, { maxRetries = 0 } = {}) {
  const calls = [];
  const c = new Together({
    apiKey: token,
    baseURL: `http://127.0.0.1:${srv.port}/v1`,
    maxRetries,
    timeout: 20000,
    fetch: (url, init) => {
      calls.push({ url: String(url), method: init?.method });
      return fetch(url, init);
    },
  });
  c.calls = calls;
  return c;
}

const VM = 'REMEDIATION_MODE_VM_ONLY';

test('create / retrieve / cancel through the SDK', async () => {
  const c = client(tokens.operator);
  const inst = fresh();
  const r = await c.beta.clusters.remediations.create(inst, { cluster_id: CID, mode: VM, reason: 'from the sdk' });
  assert.equal(r.state, 'PENDING');
  assert.equal(r.trigger, 'REMEDIATION_TRIGGER_MANUAL');
  assert.equal(r.cluster_id, CID);
  assert.equal(r.instance_id, inst);
  assert.equal(r.mode, VM);
  assert.equal(r.reason, 'from the sdk');
  assert.equal(r.requested_by, 'sdk-operator');
  assert.match(r.create_time, RFC3339_Z);
  const g = await c.beta.clusters.remediations.retrieve(r.id, { cluster_id: CID, instance_id: inst });
  assert.deepEqual(g, r);
  const x = await c.beta.clusters.remediations.cancel(r.id, { cluster_id: CID, instance_id: inst });
  assert.equal(x.state, 'CANCELLED');
  assert.match(x.end_time, RFC3339_Z);
  const { data, response } = await c.beta.clusters.remediations
    .retrieve(r.id, { cluster_id: CID, instance_id: inst }).withResponse();
  assert.equal(response.status, 200);
  assert.deepEqual(data, x);
});

test('idempotent create with remediation_id through the SDK', async () => {
  const c = client(tokens.operator);
  const inst = fresh();
  const params = { cluster_id: CID, mode: 'REMEDIATION_MODE_REBOOT_VM', reason: 'idem', remediation_id: 'sdk-idem-1' };
  const a = await c.beta.clusters.remediations.create(inst, params);
  assert.equal(a.id, 'sdk-idem-1');
  const b = await c.beta.clusters.remediations.create(inst, params);
  assert.deepEqual(b, a);
  const l = await c.beta.clusters.remediations.list(inst, { cluster_id: CID });
  assert.equal(l.remediations.length, 1);
});

test('list with filters, order and paging across pages', async () => {
  const c = client(tokens.operator);
  const made = [];
  for (let k = 0; k < 23; k++) {
    const inst = fresh();
    const mode = k % 2 ? 'REMEDIATION_MODE_HOST_AWARE' : 'REMEDIATION_MODE_REBOOT_VM';
    const r = await c.beta.clusters.remediations.create(inst, { cluster_id: CID, mode, reason: `list ${k}` });
    if (k % 3 === 0) made.push(await c.beta.clusters.remediations.cancel(r.id, { cluster_id: CID, instance_id: inst }));
    else made.push(r);
  }
  const madeIds = new Set(made.map((r) => r.id));
  // walk all pages, create_time ascending, page size 4
  const seen = [];
  let pageToken;
  let pages = 0;
  for (;;) {
    const page = await c.beta.clusters.remediations.list('-', {
      cluster_id: CID, page_size: 4, order_by: 'create_time asc', ...(pageToken ? { page_token: pageToken } : {}),
    });
    pages++;
    assert.ok(page.remediations.length <= 4);
    seen.push(...page.remediations);
    if (!page.has_next) { assert.equal(page.next_page_token, ''); break; }
    pageToken = page.next_page_token;
  }
  assert.ok(pages >= 6);
  assert.equal(new Set(seen.map((r) => r.id)).size, seen.length, 'no duplicates');
  for (const id of madeIds) assert.ok(seen.some((r) => r.id === id), `${id} listed`);
  const createTimes = seen.map((r) => r.create_time);
  for (let k = 1; k < seen.length; k++) {
    assert.ok(Date.parse(createTimes[k - 1]) <= Date.parse(createTimes[k]), 'ascending');
  }
  // array filters are sent comma-joined (state=A%2CB)
  const f = await c.beta.clusters.remediations.list('-', {
    cluster_id: CID, state: ['CANCELLED'], mode: ['REMEDIATION_MODE_REBOOT_VM', 'REMEDIATION_MODE_HOST_AWARE'], page_size: 1000,
  });
  const wantCancelled = made.filter((r) => r.state === 'CANCELLED').map((r) => r.id).sort();
  const gotCancelled = f.remediations.filter((r) => madeIds.has(r.id)).map((r) => r.id).sort();
  assert.deepEqual(gotCancelled, wantCancelled);
  assert.ok(f.remediations.every((r) => r.state === 'CANCELLED'));
  const g = await c.beta.clusters.remediations.list('-', {
    cluster_id: CID, state: ['PENDING', 'CANCELLED'], mode: ['REMEDIATION_MODE_HOST_AWARE'], trigger: ['REMEDIATION_TRIGGER_MANUAL'], page_size: 1000,
  });
  const wantHA = made.filter((r) => r.mode === 'REMEDIATION_MODE_HOST_AWARE').map((r) => r.id).sort();
  assert.deepEqual(g.remediations.filter((r) => madeIds.has(r.id)).map((r) => r.id).sort(), wantHA);
  assert.ok(g.remediations.every((r) => r.mode === 'REMEDIATION_MODE_HOST_AWARE'));
  const none = await c.beta.clusters.remediations.list('-', { cluster_id: CID, trigger: ['REMEDIATION_TRIGGER_AUTOMATED'] });
  assert.deepEqual(none.remediations, []);
  assert.equal(none.has_next, false);
  // one instance
  const one = await c.beta.clusters.remediations.list(made[0].instance_id, { cluster_id: CID });
  assert.deepEqual(one.remediations.map((r) => r.id), [made[0].id]);
  // the query string really was comma-joined
  assert.ok(c.calls.some((x) => /state=PENDING%2CCANCELLED/.test(x.url)), 'SDK sent comma-joined arrays');
});

async function rejectsWith(promise, Cls, status, code) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof Cls, `expected ${Cls.name}, got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, status);
    if (code !== undefined) assert.equal(e.error?.code, code, JSON.stringify(e.error));
    assert.equal(e.headers.get('x-should-retry'), 'false');
    return e;
  }
  assert.fail(`expected ${Cls.name}, but the call succeeded`);
}

test('errors map to the SDK error classes with .status, and are not retried (maxRetries: 2)', async () => {
  const op = client(tokens.operator, { maxRetries: 2 });
  const inst = fresh();
  const a = await op.beta.clusters.remediations.create(inst, { cluster_id: CID, mode: VM, reason: 'err', remediation_id: 'sdk-err-1' });

  let n = op.calls.length;
  await rejectsWith(op.beta.clusters.remediations.retrieve('nope', { cluster_id: CID, instance_id: inst }), Together.NotFoundError, 404, 5);
  assert.equal(op.calls.length - n, 1, '404 not retried');

  n = op.calls.length;
  await rejectsWith(op.beta.clusters.remediations.retrieve(a.id, { cluster_id: 'other', instance_id: 'other-i0' }), Together.NotFoundError, 404, 5);
  assert.equal(op.calls.length - n, 1);

  n = op.calls.length;
  await rejectsWith(op.beta.clusters.remediations.create(inst, { cluster_id: CID, mode: VM, reason: 'second' }), Together.BadRequestError, 400, 9);
  assert.equal(op.calls.length - n, 1, '400 FAILED_PRECONDITION not retried');

  n = op.calls.length;
  await rejectsWith(op.beta.clusters.remediations.create(inst, { cluster_id: CID, mode: 'REMEDIATION_MODE_NOPE', reason: 'x' }), Together.BadRequestError, 400, 3);
  assert.equal(op.calls.length - n, 1);

  n = op.calls.length;
  await rejectsWith(op.beta.clusters.remediations.create(inst, { cluster_id: CID, mode: 'REMEDIATION_MODE_REBOOT_VM', reason: 'err', remediation_id: 'sdk-err-1' }), Together.ConflictError, 409, 6);
  assert.equal(op.calls.length - n, 1, '409 ALREADY_EXISTS not retried (the SDK retries 409 unless x-should-retry: false)');

  n = op.calls.length;
  await rejectsWith(op.beta.clusters.remediations.approve(a.id, { cluster_id: CID, instance_id: inst, comment: 'no' }), Together.PermissionDeniedError, 403, 7);
  assert.equal(op.calls.length - n, 1, '403 not retried');

  const appr = client(tokens.approver, { maxRetries: 2 });
  await rejectsWith(appr.beta.clusters.remediations.approve(a.id, { cluster_id: CID, instance_id: inst, comment: 'ok' }), Together.BadRequestError, 400, 9);
  await rejectsWith(appr.beta.clusters.remediations.reject(a.id, { cluster_id: CID, instance_id: inst, comment: 'no' }), Together.BadRequestError, 400, 9);
  assert.equal(appr.calls.length, 2);

  const view = client(tokens.viewer, { maxRetries: 2 });
  await rejectsWith(view.beta.clusters.remediations.create(fresh(), { cluster_id: CID, mode: VM }), Together.PermissionDeniedError, 403, 7);
  await rejectsWith(view.beta.clusters.remediations.cancel(a.id, { cluster_id: CID, instance_id: inst }), Together.PermissionDeniedError, 403, 7);
  assert.equal(view.calls.length, 2);

  const anon = client('definitely-not-a-token', { maxRetries: 2 });
  await rejectsWith(anon.beta.clusters.remediations.list('-', { cluster_id: CID }), Together.AuthenticationError, 401, 16);
  assert.equal(anon.calls.length, 1, '401 not retried');

  // 501 for an unimplemented method: the SDK retries ≥ 500 unless told not to
  n = op.calls.length;
  const t0 = Date.now();
  await rejectsWith(op.beta.clusters.update(CID, {}), Together.InternalServerError, 501, 12);
  await rejectsWith(op.beta.clusters.delete(CID), Together.InternalServerError, 501, 12);
  assert.equal(op.calls.length - n, 2, '501 not retried');
  assert.ok(Date.now() - t0 < 2000, 'no retry back-off');

  // no duplicate side effects from any of that
  const l = await op.beta.clusters.remediations.list(inst, { cluster_id: CID });
  assert.deepEqual(l.remediations, [a]);
  const l2 = await op.beta.clusters.remediations.list('-', { cluster_id: 'other' });
  assert.deepEqual(l2.remediations, []);
});

test('approve / reject through the SDK (needs a PENDING_APPROVAL remediation)', async (t) => {
  const pa = await makePendingApproval(srv, 'sdkpa', 'sdkpa-i0');
  if (!pa) { t.skip('no way to get a PENDING_APPROVAL remediation yet'); return; }
  const c = client(tokens.approver);
  await rejectsWith(c.beta.clusters.remediations.approve(pa.id, { cluster_id: 'sdkpa', instance_id: 'sdkpa-i0', mode: 'REMEDIATION_MODE_HOST_POWER_CYCLE' }), Together.BadRequestError, 400, 3);
  const r = await c.beta.clusters.remediations.approve(pa.id, {
    cluster_id: 'sdkpa', instance_id: 'sdkpa-i0', comment: 'go', mode: 'REMEDIATION_MODE_VM_ONLY',
  });
  assert.equal(r.state, 'PENDING');
  assert.equal(r.mode, 'REMEDIATION_MODE_VM_ONLY');
  assert.equal(r.reviewed_by, 'sdk-approver');
  assert.equal(r.review_comment, 'go');
  assert.match(r.review_time, RFC3339_Z);
  await rejectsWith(c.beta.clusters.remediations.reject(pa.id, { cluster_id: 'sdkpa', instance_id: 'sdkpa-i0', comment: 'late' }), Together.BadRequestError, 400, 9);
});

test('clusters.list and clusters.retrieve parse', async () => {
  const c = client(tokens.viewer);
  const l = await c.beta.clusters.list();
  assert.ok(Array.isArray(l.clusters));
  assert.deepEqual(l.clusters.map((x) => x.cluster_id).sort(), ['other', CID, 'sdkpa'].sort());
  const one = await c.beta.clusters.retrieve(CID);
  assert.equal(one.cluster_id, CID);
  assert.equal(one.cluster_name, 'sdk-cluster');
  assert.ok(Array.isArray(one.gpu_worker_nodes));
  assert.equal(one.gpu_worker_nodes.length, 80);
  await rejectsWith(c.beta.clusters.retrieve('nope'), Together.NotFoundError, 404, 5);
});

test('path parameters are percent-encoded by the SDK and decoded by the server', async () => {
  const c = client(tokens.operator);
  await rejectsWith(c.beta.clusters.remediations.retrieve('a/b', { cluster_id: CID, instance_id: 'sdk-i0' }), Together.NotFoundError, 404, 5);
  await rejectsWith(c.beta.clusters.remediations.list('x y', { cluster_id: CID }), Together.NotFoundError, 404, 5);
  const raw = await srv.api('GET', rPath(CID, 'sdk-i0').replace('sdk-i0', 'sdk%2Di0'));
  assert.equal(raw.status, 200, `%2D decodes to "-" inside an id: ${raw.text}`);
});
