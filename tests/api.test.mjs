// docs/http-api.md 2, 2.2, 3, 4.1–4.6: the remediation resource and its rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, makeFleet, rPath, create, expectStatus, findNullOrEmpty, makePendingApproval,
  RFC3339_Z, micros, MANUAL, sleep,
} from './lib/server.mjs';

let srv;
let op; // operator token named "alice"
let approver; // approver token named "bob"
const C1 = 'c1';
const C2 = 'c2';
let nextK = 0;
const fresh = () => `c1-i${nextK++}`; // a c1 instance nobody has touched yet

before(async () => {
  srv = await startServer({
    fleet: makeFleet([
      { cluster_id: C1, cluster_name: 'train-1', instances: 40 },
      { cluster_id: C2, cluster_name: 'train-2', instances: 3 },
      // one instance each, so the blast radius (docs/http-api.md 5) never blocks an automated one
      ...Array.from({ length: 6 }, (_, k) => ({ cluster_id: `pa${k}`, instances: 1 })),
    ]),
  });
  op = await srv.token('alice', 'operator');
  approver = await srv.token('bob', 'approver');
});

after(async () => { if (srv) await srv.close(); });

const VM = 'REMEDIATION_MODE_VM_ONLY';
const REBOOT = 'REMEDIATION_MODE_REBOOT_VM';

function checkFreshRemediation(r, { cluster, instance, mode, reason }) {
  assert.equal(typeof r.id, 'string');
  assert.ok(r.id.length > 0);
  assert.equal(r.cluster_id, cluster);
  assert.equal(r.instance_id, instance);
  assert.equal(r.instance_name, instance.replace(/-i(\d+)$/, '-gpu-$1'));
  assert.equal(r.mode, mode);
  assert.equal(r.state, 'PENDING');
  assert.equal(r.trigger, MANUAL);
  if (reason) assert.equal(r.reason, reason);
  assert.equal(r.requested_by, 'alice');
  assert.match(r.create_time, RFC3339_Z);
  assert.match(r.update_time, RFC3339_Z);
  assert.equal(r.create_time, r.update_time, 'a new remediation has update_time == create_time');
  for (const f of ['start_time', 'end_time', 'reviewed_by', 'review_time', 'review_comment', 'error_message',
    'active_health_check_run_id', 'passive_health_check_event_id']) {
    assert.ok(!(f in r), `unset field ${f} must be omitted, got ${JSON.stringify(r[f])}`);
  }
  if ('linked_alerts' in r) assert.deepEqual(r.linked_alerts, [], 'linked_alerts omitted or []');
  assert.deepEqual(findNullOrEmpty(r), [], 'no null and no "" anywhere');
}

test('create: PENDING, MANUAL, requested_by = token name, instance_name, timestamps, unset fields omitted', async () => {
  const i = fresh();
  const before = Date.now();
  const res = await create(srv, C1, i, { mode: VM, reason: 'xid 79 on gpu 3', token: op });
  const afterMs = Date.now();
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type') || '', /application\/json/);
  checkFreshRemediation(res.json, { cluster: C1, instance: i, mode: VM, reason: 'xid 79 on gpu 3' });
  // UUIDv7 when the caller gives no id (docs/http-api.md 2)
  assert.match(res.json.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const t = Number(micros(res.json.create_time) / 1000n);
  assert.ok(t >= before - 2000 && t <= afterMs + 2000, `create_time ${res.json.create_time} is now`);
});

test('create: every mode is accepted, including HOST_POWER_CYCLE', async () => {
  for (const mode of ['REMEDIATION_MODE_VM_ONLY', 'REMEDIATION_MODE_HOST_AWARE',
    'REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT', 'REMEDIATION_MODE_REBOOT_VM',
    'REMEDIATION_MODE_HOST_POWER_CYCLE']) {
    const i = fresh();
    const res = await create(srv, C1, i, { mode, reason: `mode ${mode}`, token: op });
    assert.equal(res.status, 200, `${mode}: ${res.text}`);
    assert.equal(res.json.mode, mode);
  }
});

test('create: missing reason is omitted (equals "")', async () => {
  const i = fresh();
  const res = await create(srv, C1, i, { mode: VM, token: op });
  assert.equal(res.status, 200, res.text);
  assert.ok(!('reason' in res.json) || res.json.reason === undefined, `reason omitted, got ${JSON.stringify(res.json.reason)}`);
  assert.deepEqual(findNullOrEmpty(res.json), []);
});

test('create: empty reason "" is accepted and omitted from the JSON', async () => {
  const i = fresh();
  const res = await create(srv, C1, i, { mode: VM, reason: '', token: op });
  assert.equal(res.status, 200, res.text);
  assert.ok(!('reason' in res.json), `reason "" must be omitted, got ${JSON.stringify(res.json.reason)}`);
});

test('create: mode is required', async () => {
  const i = fresh();
  expectStatus(assert, await srv.api('POST', rPath(C1, i), { token: op, body: { reason: 'no mode' } }), 400, 3, 'no mode');
  expectStatus(assert, await srv.api('POST', rPath(C1, i), { token: op, body: { mode: '', reason: 'x' } }), 400, 3, 'mode ""');
  expectStatus(assert, await srv.api('POST', rPath(C1, i), { token: op, body: { mode: 'REMEDIATION_MODE_UNSPECIFIED' } }), 400, 3, 'UNSPECIFIED');
  const l = await srv.api('GET', rPath(C1, i));
  assert.equal(l.json.remediations.length, 0, 'nothing created');
});

test('create: read-only fields in the body are ignored', async () => {
  const i = fresh();
  const res = await srv.api('POST', rPath(C1, i), {
    token: op,
    body: {
      mode: REBOOT, reason: 'ro fields',
      id: 'chosen-by-body', state: 'SUCCEEDED', trigger: 'REMEDIATION_TRIGGER_AUTOMATED',
      requested_by: 'mallory', reviewed_by: 'mallory', review_comment: 'x', review_time: '2001-01-01T00:00:00Z',
      create_time: '2001-01-01T00:00:00Z', update_time: '2001-01-01T00:00:00Z',
      start_time: '2001-01-01T00:00:00Z', end_time: '2001-01-01T00:00:00Z', error_message: 'boom',
      cluster_id: C2, instance_id: 'c2-i0', instance_name: 'evil',
    },
  });
  assert.equal(res.status, 200, res.text);
  const r = res.json;
  assert.notEqual(r.id, 'chosen-by-body');
  checkFreshRemediation(r, { cluster: C1, instance: i, mode: REBOOT, reason: 'ro fields' });
  const c2 = await srv.api('GET', rPath(C2, 'c2-i0'));
  assert.equal(c2.json.remediations.length, 0, 'body cluster_id/instance_id ignored');
});

test('get returns the same object as create; list includes it', async () => {
  const i = fresh();
  const c = await create(srv, C1, i, { mode: VM, reason: 'get me', token: op });
  assert.equal(c.status, 200, c.text);
  const g = await srv.api('GET', rPath(C1, i, c.json.id), { token: op });
  assert.equal(g.status, 200, g.text);
  assert.deepEqual(g.json, c.json);
  const l = await srv.api('GET', rPath(C1, i), { token: op });
  assert.equal(l.status, 200, l.text);
  assert.deepEqual(l.json.remediations, [c.json]);
  assert.equal(l.json.has_next, false);
  assert.equal(l.json.next_page_token, '');
});

test('second active remediation on an instance → FAILED_PRECONDITION (400, code 9)', async () => {
  const i = fresh();
  const a = await create(srv, C1, i, { mode: VM, reason: 'first', token: op });
  assert.equal(a.status, 200, a.text);
  expectStatus(assert, await create(srv, C1, i, { mode: VM, reason: 'first', token: op }), 400, 9, 'same request again without id');
  expectStatus(assert, await create(srv, C1, i, { mode: REBOOT, reason: 'second', token: op }), 400, 9, 'second active');
  expectStatus(assert, await create(srv, C1, i, { mode: REBOOT, reason: 'second', token: op, remediationId: 'second-active-x' }), 400, 9, 'second active with new id');
  const l = await srv.api('GET', rPath(C1, i));
  assert.equal(l.json.remediations.length, 1);
  // the failed one with an id did not reserve the id
  const g = await srv.api('GET', rPath(C1, i, 'second-active-x'));
  expectStatus(assert, g, 404, 5, 'rejected create left no remediation');
  // after cancel the instance is free again
  const x = await srv.api('POST', rPath(C1, i, a.json.id, 'cancel'), { token: op });
  assert.equal(x.status, 200, x.text);
  const b = await create(srv, C1, i, { mode: REBOOT, reason: 'after cancel', token: op });
  assert.equal(b.status, 200, b.text);
  assert.notEqual(b.json.id, a.json.id);
});

test('cancel: PENDING → CANCELLED with end_time; second cancel → FAILED_PRECONDITION', async () => {
  const i = fresh();
  const c = await create(srv, C1, i, { mode: VM, reason: 'to cancel', token: op });
  assert.equal(c.status, 200, c.text);
  await sleep(5);
  const x = await srv.api('POST', rPath(C1, i, c.json.id, 'cancel'), { token: op });
  assert.equal(x.status, 200, x.text);
  const r = x.json;
  assert.equal(r.state, 'CANCELLED');
  assert.equal(r.id, c.json.id);
  assert.match(r.end_time, RFC3339_Z);
  assert.match(r.update_time, RFC3339_Z);
  assert.ok(micros(r.update_time) > micros(c.json.update_time), 'update_time bumped');
  assert.ok(micros(r.end_time) >= micros(r.create_time));
  assert.equal(r.create_time, c.json.create_time, 'create_time unchanged');
  assert.ok(!('reviewed_by' in r) && !('review_time' in r), 'cancel is not a review');
  assert.deepEqual(findNullOrEmpty(r), []);
  const g = await srv.api('GET', rPath(C1, i, c.json.id));
  assert.deepEqual(g.json, r, 'get shows the cancelled state');
  expectStatus(assert, await srv.api('POST', rPath(C1, i, c.json.id, 'cancel'), { token: op }), 400, 9, 'cancel twice');
  const g2 = await srv.api('GET', rPath(C1, i, c.json.id));
  assert.deepEqual(g2.json, r, 'failed cancel changed nothing');
});

test('cancel accepts an empty body and a "{}" body', async () => {
  const i = fresh();
  const a = await create(srv, C1, i, { mode: VM, token: op });
  const x = await srv.api('POST', rPath(C1, i, a.json.id, 'cancel'), { token: op, rawBody: '{}' });
  assert.equal(x.status, 200, x.text);
  const b = await create(srv, C1, i, { mode: VM, token: op });
  const y = await srv.api('POST', rPath(C1, i, b.json.id, 'cancel'), { token: op, rawBody: '' });
  assert.equal(y.status, 200, y.text);
});

test('approve/reject of a PENDING (not PENDING_APPROVAL) remediation → FAILED_PRECONDITION', async () => {
  const i = fresh();
  const c = await create(srv, C1, i, { mode: VM, reason: 'manual', token: op });
  assert.equal(c.status, 200, c.text);
  expectStatus(assert, await srv.api('POST', rPath(C1, i, c.json.id, 'approve'), { token: approver, body: { comment: 'ok' } }), 400, 9, 'approve PENDING');
  expectStatus(assert, await srv.api('POST', rPath(C1, i, c.json.id, 'approve'), { token: approver }), 400, 9, 'approve PENDING, no body');
  expectStatus(assert, await srv.api('POST', rPath(C1, i, c.json.id, 'reject'), { token: approver, body: { comment: 'no' } }), 400, 9, 'reject PENDING');
  const g = await srv.api('GET', rPath(C1, i, c.json.id));
  assert.deepEqual(g.json, c.json, 'unchanged');
  // and from a terminal state
  await srv.api('POST', rPath(C1, i, c.json.id, 'cancel'), { token: op });
  expectStatus(assert, await srv.api('POST', rPath(C1, i, c.json.id, 'approve'), { token: approver }), 400, 9, 'approve CANCELLED');
  expectStatus(assert, await srv.api('POST', rPath(C1, i, c.json.id, 'reject'), { token: approver }), 400, 9, 'reject CANCELLED');
});

test('NOT_FOUND: unknown cluster, instance, remediation; wrong cluster or instance', async () => {
  const i = fresh();
  const j = fresh();
  const c = await create(srv, C1, i, { mode: VM, reason: 'nf', token: op });
  assert.equal(c.status, 200, c.text);
  const id = c.json.id;
  const cases = [
    ['POST', rPath('nope', i), { mode: VM }, 'create, unknown cluster'],
    ['POST', rPath(C1, 'nope'), { mode: VM }, 'create, unknown instance'],
    ['POST', rPath(C1, 'c2-i0'), { mode: VM }, 'create, instance of another cluster'],
    ['GET', rPath('nope', i), undefined, 'list, unknown cluster'],
    ['GET', rPath(C1, 'nope'), undefined, 'list, unknown instance'],
    ['GET', rPath(C1, 'c2-i0'), undefined, 'list, instance of another cluster'],
    ['GET', rPath('nope', '-'), undefined, 'list -, unknown cluster'],
    ['GET', rPath(C1, i, '0190a0e0-0000-7000-8000-000000000000'), undefined, 'get, unknown id'],
    ['GET', rPath(C1, i, 'no-such-remediation'), undefined, 'get, unknown label id'],
    ['GET', rPath(C1, j, id), undefined, 'get under another instance'],
    ['GET', rPath(C2, i, id), undefined, 'get under another cluster'],
    ['GET', rPath(C2, 'c2-i0', id), undefined, 'get under another cluster+instance'],
    ['GET', rPath('nope', i, id), undefined, 'get under unknown cluster'],
    ['POST', rPath(C1, j, id, 'cancel'), undefined, 'cancel under another instance'],
    ['POST', rPath(C2, i, id, 'cancel'), undefined, 'cancel under another cluster'],
    ['POST', rPath(C1, j, id, 'approve'), {}, 'approve under another instance'],
    ['POST', rPath(C1, j, id, 'reject'), {}, 'reject under another instance'],
    ['POST', rPath(C1, i, 'missing-id', 'cancel'), undefined, 'cancel unknown id'],
    ['POST', rPath(C1, i, 'missing-id', 'approve'), {}, 'approve unknown id'],
    ['POST', rPath(C1, i, 'missing-id', 'reject'), {}, 'reject unknown id'],
    ['GET', `/v1/compute/clusters/nope`, undefined, 'get unknown cluster'],
  ];
  for (const [method, p, body, what] of cases) {
    const res = await srv.api(method, p, { token: approver, body });
    expectStatus(assert, res, 404, 5, what);
  }
  const g = await srv.api('GET', rPath(C1, i, id));
  assert.deepEqual(g.json, c.json, 'nothing changed');
});

test('idempotent create: replay → 200 with the same remediation, no second one', async () => {
  const i = fresh();
  const rid = 'retry-safe-1';
  const a = await create(srv, C1, i, { mode: VM, reason: 'idem', token: op, remediationId: rid });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.id, rid);
  checkFreshRemediation(a.json, { cluster: C1, instance: i, mode: VM, reason: 'idem' });
  const b = await create(srv, C1, i, { mode: VM, reason: 'idem', token: op, remediationId: rid });
  assert.equal(b.status, 200, b.text);
  assert.deepEqual(b.json, a.json);
  // replay while the instance is busy with it is still 200 (checked before the active rule)
  const l = await srv.api('GET', rPath(C1, i));
  assert.equal(l.json.remediations.length, 1);
  // replay by another principal with the same request: still the same one
  const c = await create(srv, C1, i, { mode: VM, reason: 'idem', remediationId: rid });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.id, rid);
  assert.equal(c.json.requested_by, 'alice');
});

test('idempotent create: replay answers the current state, even while the instance is busy with another', async () => {
  const i = fresh();
  const rid = 'replay-after-cancel';
  const a = await create(srv, C1, i, { mode: REBOOT, reason: 'r', token: op, remediationId: rid });
  assert.equal(a.status, 200, a.text);
  const x = await srv.api('POST', rPath(C1, i, rid, 'cancel'), { token: op });
  assert.equal(x.status, 200, x.text);
  const other = await create(srv, C1, i, { mode: VM, reason: 'now busy', token: op });
  assert.equal(other.status, 200, other.text);
  const b = await create(srv, C1, i, { mode: REBOOT, reason: 'r', token: op, remediationId: rid });
  assert.equal(b.status, 200, `replay while busy: ${b.text}`);
  assert.equal(b.json.id, rid);
  assert.equal(b.json.state, 'CANCELLED');
  assert.deepEqual(b.json, x.json);
});

test('idempotent create: missing reason equals ""', async () => {
  const i = fresh();
  const a = await create(srv, C1, i, { mode: VM, token: op, remediationId: 'no-reason-1' });
  assert.equal(a.status, 200, a.text);
  const b = await create(srv, C1, i, { mode: VM, reason: '', token: op, remediationId: 'no-reason-1' });
  assert.equal(b.status, 200, `reason "" replays a missing reason: ${b.text}`);
  assert.deepEqual(b.json, a.json);
});

test('idempotent create: same id with a different request → ALREADY_EXISTS (409, code 6)', async () => {
  const i = fresh();
  const j = fresh();
  const rid = '01890a5d-ac96-774b-bcce-b302099a8057';
  const a = await create(srv, C1, i, { mode: VM, reason: 'orig', token: op, remediationId: rid });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.id, rid);
  expectStatus(assert, await create(srv, C1, i, { mode: REBOOT, reason: 'orig', token: op, remediationId: rid }), 409, 6, 'different mode');
  expectStatus(assert, await create(srv, C1, i, { mode: VM, reason: 'changed', token: op, remediationId: rid }), 409, 6, 'different reason');
  expectStatus(assert, await create(srv, C1, i, { mode: VM, token: op, remediationId: rid }), 409, 6, 'reason missing vs "orig"');
  expectStatus(assert, await create(srv, C1, j, { mode: VM, reason: 'orig', token: op, remediationId: rid }), 409, 6, 'different instance');
  expectStatus(assert, await create(srv, C2, 'c2-i1', { mode: VM, reason: 'orig', token: op, remediationId: rid }), 409, 6, 'different cluster');
  const l = await srv.api('GET', rPath(C1, j));
  assert.equal(l.json.remediations.length, 0, 'nothing created on the other instance');
  const l2 = await srv.api('GET', rPath(C2, 'c2-i1'));
  assert.equal(l2.json.remediations.length, 0, 'nothing created on the other cluster');
  const g = await srv.api('GET', rPath(C1, i, rid));
  assert.deepEqual(g.json, a.json);
});

test('idempotent create: id formats (UUID, RFC 1034 label) accepted; others → INVALID_ARGUMENT', async () => {
  const good = [
    'a', '0', 'abc-123', 'x'.repeat(63), '0abc', 'a-b-c-d',
    '550e8400-e29b-41d4-a716-446655440000',
    '0190a0e0-1234-7abc-8def-0123456789ab',
  ];
  for (const rid of good) {
    const i = fresh();
    const r = await create(srv, C1, i, { mode: VM, reason: 'fmt', token: op, remediationId: rid });
    assert.equal(r.status, 200, `${rid}: ${r.text}`);
    assert.equal(r.json.id, rid);
    const g = await srv.api('GET', rPath(C1, i, rid));
    assert.equal(g.status, 200, `get ${rid}: ${g.text}`);
  }
  const bad = [
    'UPPER', 'Abc', 'has_underscore', '-leading', 'trailing-', 'x'.repeat(64), 'a.b', 'a b', 'a/b',
    'é', 'abc!', '{123}', '550e8400-e29b-41d4-a716-446655440000-',
  ];
  const i = fresh();
  for (const rid of bad) {
    const r = await create(srv, C1, i, { mode: VM, reason: 'fmt', token: op, remediationId: rid });
    expectStatus(assert, r, 400, 3, `remediation_id ${JSON.stringify(rid)}`);
  }
  const l = await srv.api('GET', rPath(C1, i));
  assert.equal(l.json.remediations.length, 0, 'no remediation created by a bad id');
});

test('remediation ids are unique across the server (another cluster cannot reuse one)', async () => {
  const i = fresh();
  const a = await create(srv, C1, i, { mode: VM, reason: 'u', token: op });
  assert.equal(a.status, 200);
  // a server-generated id used as client id elsewhere is "the same id with anything different"
  const b = await create(srv, C2, 'c2-i2', { mode: VM, reason: 'u', token: op, remediationId: a.json.id });
  expectStatus(assert, b, 409, 6, 'reuse of a server id on another cluster');
});

// ---- approve / reject need PENDING_APPROVAL, which only automation produces (docs/http-api.md 2.2).

test('approve: PENDING_APPROVAL → PENDING, review fields, mode override, HOST_POWER_CYCLE override rejected', async (t) => {
  const pa = await makePendingApproval(srv, 'pa0', 'pa0-i0');
  if (!pa) { t.skip('no way to get a PENDING_APPROVAL remediation yet (Alertmanager webhook)'); return; }
  assert.equal(pa.state, 'PENDING_APPROVAL');
  assert.equal(pa.trigger, 'REMEDIATION_TRIGGER_AUTOMATED');
  assert.equal(pa.requested_by, 'system:health-checks');
  const p = rPath('pa0', 'pa0-i0', pa.id);
  // roles: an operator may not approve
  expectStatus(assert, await srv.api('POST', p + '/approve', { token: op, body: {} }), 403, 7, 'operator approves');
  // HOST_POWER_CYCLE is not an allowed override
  expectStatus(assert, await srv.api('POST', p + '/approve', { token: approver, body: { mode: 'REMEDIATION_MODE_HOST_POWER_CYCLE' } }), 400, 3, 'power-cycle override');
  expectStatus(assert, await srv.api('POST', p + '/approve', { token: approver, body: { mode: 'REMEDIATION_MODE_NOPE' } }), 400, 3, 'unknown mode override');
  const g0 = await srv.api('GET', p);
  assert.equal(g0.json.state, 'PENDING_APPROVAL', 'rejected approve changed nothing');
  assert.deepEqual(g0.json, pa);
  await sleep(5);
  const a = await srv.api('POST', p + '/approve', {
    token: approver, body: { comment: 'looks right', mode: 'REMEDIATION_MODE_HOST_AWARE' },
  });
  assert.equal(a.status, 200, a.text);
  const r = a.json;
  assert.equal(r.state, 'PENDING');
  assert.equal(r.mode, 'REMEDIATION_MODE_HOST_AWARE');
  assert.equal(r.reviewed_by, 'bob');
  assert.equal(r.review_comment, 'looks right');
  assert.match(r.review_time, RFC3339_Z);
  assert.ok(micros(r.update_time) > micros(pa.update_time));
  assert.ok(!('end_time' in r));
  assert.deepEqual(findNullOrEmpty(r), []);
  // docs/http-api.md 4.8: the override is a mode_change event naming both modes, then the approval.
  const ev = (await srv.api('GET', p + '/events')).json.events;
  const modeChange = ev.findIndex((e) => e.type === 'mode_change');
  assert.ok(modeChange > 0, JSON.stringify(ev));
  assert.equal(ev[modeChange].state, undefined);
  assert.ok(ev[modeChange].detail.includes(pa.mode) && ev[modeChange].detail.includes('REMEDIATION_MODE_HOST_AWARE'), ev[modeChange].detail);
  assert.equal(ev[modeChange + 1].type, 'state_change');
  assert.equal(ev[modeChange + 1].state, 'PENDING');
  expectStatus(assert, await srv.api('POST', p + '/approve', { token: approver }), 400, 9, 'approve twice');
  expectStatus(assert, await srv.api('POST', p + '/reject', { token: approver }), 400, 9, 'reject after approve');
  const x = await srv.api('POST', p + '/cancel', { token: op });
  assert.equal(x.status, 200, 'PENDING can be cancelled after approval');
});

test('approve without body keeps the mode', async (t) => {
  const pa = await makePendingApproval(srv, 'pa1', 'pa1-i0');
  if (!pa) { t.skip('no way to get a PENDING_APPROVAL remediation yet'); return; }
  const p = rPath('pa1', 'pa1-i0', pa.id);
  const a = await srv.api('POST', p + '/approve', { token: approver });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.state, 'PENDING');
  assert.equal(a.json.mode, pa.mode);
  assert.equal(a.json.reviewed_by, 'bob');
  assert.match(a.json.review_time, RFC3339_Z);
  assert.ok(!('review_comment' in a.json), 'no comment → omitted');
});

test('reject: PENDING_APPROVAL → CANCELLED with review fields and end_time', async (t) => {
  const pa = await makePendingApproval(srv, 'pa2', 'pa2-i0');
  if (!pa) { t.skip('no way to get a PENDING_APPROVAL remediation yet'); return; }
  const p = rPath('pa2', 'pa2-i0', pa.id);
  expectStatus(assert, await srv.api('POST', p + '/reject', { token: op, body: {} }), 403, 7, 'operator rejects');
  const a = await srv.api('POST', p + '/reject', { token: approver, body: { comment: 'false alarm' } });
  assert.equal(a.status, 200, a.text);
  const r = a.json;
  assert.equal(r.state, 'CANCELLED');
  assert.equal(r.reviewed_by, 'bob');
  assert.equal(r.review_comment, 'false alarm');
  assert.match(r.review_time, RFC3339_Z);
  assert.match(r.end_time, RFC3339_Z);
  assert.deepEqual(findNullOrEmpty(r), []);
  expectStatus(assert, await srv.api('POST', p + '/reject', { token: approver }), 400, 9, 'reject twice');
  expectStatus(assert, await srv.api('POST', p + '/cancel', { token: op }), 400, 9, 'cancel after reject');
});

test('cancel a PENDING_APPROVAL remediation', async (t) => {
  const pa = await makePendingApproval(srv, 'pa3', 'pa3-i0');
  if (!pa) { t.skip('no way to get a PENDING_APPROVAL remediation yet'); return; }
  const p = rPath('pa3', 'pa3-i0', pa.id);
  const x = await srv.api('POST', p + '/cancel', { token: op });
  assert.equal(x.status, 200, x.text);
  assert.equal(x.json.state, 'CANCELLED');
  assert.match(x.json.end_time, RFC3339_Z);
});

test('a PENDING_APPROVAL remediation is active: a manual create on that instance → FAILED_PRECONDITION', async (t) => {
  const pa = await makePendingApproval(srv, 'pa4', 'pa4-i0');
  if (!pa) { t.skip('no way to get a PENDING_APPROVAL remediation yet'); return; }
  expectStatus(assert, await create(srv, 'pa4', 'pa4-i0', { mode: VM, token: op }), 400, 9, 'manual over automated');
});
