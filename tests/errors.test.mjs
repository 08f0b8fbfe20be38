// docs/http-api.md 3 and 4 (auth, roles, scope) plus HTTP robustness: bad input changes nothing,
// pipelining, keep-alive, slow clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, makeFleet, rPath, create, expectStatus, rawConnect, rawRequest, sleep, within,
} from './lib/server.mjs';

let srv;
let viewer; let operator; let approver; let scoped;
const VM = 'REMEDIATION_MODE_VM_ONLY';
let nextK = 0;
const fresh = () => `c1-i${nextK++}`;
let slow; // background slowloris, started in before()

async function startSlowloris(port, n = 4, intervalMs = 500) {
  const conns = [];
  for (let k = 0; k < n; k++) {
    const c = await rawConnect(port);
    c.startedAt = Date.now();
    c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    conns.push(c);
  }
  const timer = setInterval(() => {
    for (const c of conns) if (!c.closed) c.sock.write('X'); // one byte of a never-ending header
  }, intervalMs);
  return { conns, timer, startedAt: Date.now() };
}

before(async () => {
  srv = await startServer({
    fleet: makeFleet([{ cluster_id: 'c1', instances: 60 }, { cluster_id: 'c2', instances: 4 }]),
  });
  viewer = await srv.token('vic', 'viewer');
  operator = await srv.token('olga', 'operator');
  approver = await srv.token('abe', 'approver');
  scoped = await srv.token('sam', 'operator', ['c1']);
  slow = await startSlowloris(srv.port);
});

after(async () => {
  if (slow) {
    clearInterval(slow.timer);
    for (const c of slow.conns) c.destroy();
  }
  if (srv) await srv.close();
});

async function snapshot() {
  const out = {};
  for (const c of ['c1', 'c2']) {
    const r = await srv.api('GET', rPath(c, '-'), { query: { page_size: '1000' } });
    assert.equal(r.status, 200, r.text);
    out[c] = r.json.remediations;
  }
  return out;
}

test('unknown paths → 404 with code 5 and a google.rpc.Status body', async () => {
  for (const p of [
    '/v1/nope', '/v1/compute/nope', '/v1/compute/clusters/c1/nope',
    '/v1/compute/clusters/c1/instances/c1-i0/nope',
    '/v1/compute/clusters/c1/instances/c1-i0/remediations/x/nope',
    '/v1/compute/clusters/c1/instances/c1-i0/remediations/x/approve/more',
  ]) {
    const r = await srv.api('GET', p);
    expectStatus(assert, r, 404, 5, `GET ${p}`);
    assert.match(r.headers.get('content-type') || '', /application\/json/);
  }
  expectStatus(assert, await srv.api('POST', '/v1/engine:explode'), 404, 5, 'POST /v1/engine:explode');
});

test('wrong method on a known path → 501 with code 12 and x-should-retry: false', async () => {
  const a = await create(srv, 'c1', fresh(), { mode: VM });
  assert.equal(a.status, 200, a.text);
  const id = a.json.id;
  const inst = a.json.instance_id;
  const cases = [
    ['DELETE', rPath('c1', inst)],
    ['PUT', rPath('c1', inst)],
    ['PUT', rPath('c1', inst, id)],
    ['DELETE', rPath('c1', inst, id)],
    ['PATCH', rPath('c1', inst, id)],
    ['POST', rPath('c1', inst, id)],
    ['GET', rPath('c1', inst, id, 'approve')],
    ['GET', rPath('c1', inst, id, 'cancel')],
    ['DELETE', rPath('c1', inst, id, 'reject')],
    ['POST', '/v1/compute/clusters'],
    ['PUT', '/v1/compute/clusters/c1'],
    ['DELETE', '/v1/compute/clusters/c1'],
    ['DELETE', '/v1/engine'],
    ['GET', '/v1/engine:pause'],
    ['POST', '/v1/compute/hosts'],
  ];
  for (const [m, p] of cases) {
    const r = await srv.api(m, p, { body: m === 'GET' || m === 'DELETE' ? undefined : {} });
    expectStatus(assert, r, 501, 12, `${m} ${p}`);
  }
  const g = await srv.api('GET', rPath('c1', inst, id));
  assert.deepEqual(g.json, a.json, 'nothing changed');
});

test('401 code 16 for missing, malformed or unknown bearer tokens', async () => {
  const before = await snapshot();
  const inst = fresh();
  const headerSets = [
    {},
    { authorization: 'Bearer' },
    { authorization: 'Bearer ' },
    { authorization: 'Basic dXNlcjpwYXNz' },
    { authorization: 'Bearer not-a-real-token' },
    { authorization: `Bearer ${operator}x` },
    { authorization: `Bearer ${operator.slice(0, -1)}` },
    { authorization: operator },
    { authorization: `Token ${operator}` },
  ];
  for (const headers of headerSets) {
    const what = JSON.stringify(headers);
    expectStatus(assert, await srv.api('GET', '/v1/compute/clusters', { token: null, headers }), 401, 16, `list clusters ${what}`);
    expectStatus(assert, await srv.api('GET', rPath('c1', '-'), { token: null, headers }), 401, 16, `list remediations ${what}`);
    expectStatus(assert, await srv.api('POST', rPath('c1', inst), { token: null, headers, body: { mode: VM } }), 401, 16, `create ${what}`);
    expectStatus(assert, await srv.api('GET', '/v1/engine', { token: null, headers }), 401, 16, `engine ${what}`);
  }
  assert.deepEqual(await snapshot(), before, 'nothing created');
});

test('/healthz and /readyz need no token', async () => {
  for (const p of ['/healthz', '/readyz']) {
    const r = await srv.api('GET', p, { token: null });
    assert.equal(r.status, 200, `${p}: ${r.text}`);
  }
});

test('403 code 7 when the role is too low; roles nest', async () => {
  const inst = fresh();
  const before = await snapshot();
  expectStatus(assert, await create(srv, 'c1', inst, { mode: VM, token: viewer }), 403, 7, 'viewer creates');
  assert.deepEqual(await snapshot(), before, 'viewer created nothing');
  // viewer reads
  assert.equal((await srv.api('GET', rPath('c1', '-'), { token: viewer })).status, 200);
  assert.equal((await srv.api('GET', '/v1/compute/clusters', { token: viewer })).status, 200);
  assert.equal((await srv.api('GET', '/v1/compute/clusters/c1', { token: viewer })).status, 200);
  const eng = await srv.api('GET', '/v1/engine', { token: viewer });
  assert.equal(eng.status, 200, eng.text);
  assert.deepEqual(eng.json, { paused: true });

  const a = await create(srv, 'c1', inst, { mode: VM, token: operator });
  assert.equal(a.status, 200, a.text);
  const id = a.json.id;
  expectStatus(assert, await srv.api('POST', rPath('c1', inst, id, 'cancel'), { token: viewer }), 403, 7, 'viewer cancels');
  // role is checked before the state rule: an operator approving is 403, not 400
  expectStatus(assert, await srv.api('POST', rPath('c1', inst, id, 'approve'), { token: operator, body: {} }), 403, 7, 'operator approves');
  expectStatus(assert, await srv.api('POST', rPath('c1', inst, id, 'reject'), { token: operator, body: {} }), 403, 7, 'operator rejects');
  expectStatus(assert, await srv.api('POST', rPath('c1', inst, id, 'approve'), { token: viewer, body: {} }), 403, 7, 'viewer approves');
  // approver may do what an operator may
  expectStatus(assert, await srv.api('POST', rPath('c1', inst, id, 'approve'), { token: approver, body: {} }), 400, 9, 'approver approves PENDING');
  const g = await srv.api('GET', rPath('c1', inst, id));
  assert.deepEqual(g.json, a.json, 'nothing changed');
  // engine control is admin-only
  for (const [tok, who] of [[approver, 'approver'], [operator, 'operator'], [viewer, 'viewer']]) {
    expectStatus(assert, await srv.api('POST', '/v1/engine:pause', { token: tok }), 403, 7, `${who} pauses`);
    expectStatus(assert, await srv.api('POST', '/v1/engine:resume', { token: tok }), 403, 7, `${who} resumes`);
  }
  const p = await srv.api('POST', '/v1/engine:pause');
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(p.json, { paused: true });
  // approver creates and cancels (roles nest)
  const x = await srv.api('POST', rPath('c1', inst, id, 'cancel'), { token: approver });
  assert.equal(x.status, 200, x.text);
  const b = await create(srv, 'c1', inst, { mode: VM, token: approver });
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.requested_by, 'abe');
});

test('a cluster-scoped token sees and touches only its clusters', async () => {
  const other = await create(srv, 'c2', 'c2-i0', { mode: VM, reason: 'admin made it' });
  assert.equal(other.status, 200, other.text);
  const l = await srv.api('GET', '/v1/compute/clusters', { token: scoped });
  assert.equal(l.status, 200, l.text);
  assert.deepEqual(l.json.clusters.map((c) => c.cluster_id), ['c1']);
  const all = await srv.api('GET', '/v1/compute/clusters');
  assert.deepEqual(all.json.clusters.map((c) => c.cluster_id).sort(), ['c1', 'c2']);

  const before = await snapshot();
  const denied = (r, what) => {
    assert.ok(r.status === 404 || r.status === 403, `${what}: want 404 or 403, got ${r.status} ${r.text}`);
    expectStatus(assert, r, r.status, r.status === 404 ? 5 : 7, what);
  };
  denied(await srv.api('GET', '/v1/compute/clusters/c2', { token: scoped }), 'get other cluster');
  denied(await srv.api('GET', rPath('c2', '-'), { token: scoped }), 'list other cluster');
  denied(await srv.api('GET', rPath('c2', 'c2-i0'), { token: scoped }), 'list other instance');
  denied(await srv.api('GET', rPath('c2', 'c2-i0', other.json.id), { token: scoped }), 'get other remediation');
  denied(await srv.api('POST', rPath('c2', 'c2-i0', other.json.id, 'cancel'), { token: scoped }), 'cancel other');
  denied(await create(srv, 'c2', 'c2-i1', { mode: VM, token: scoped }), 'create in other cluster');
  denied(await create(srv, 'c2', 'c2-i1', { mode: VM, token: scoped, remediationId: 'scoped-x' }), 'create with id in other cluster');
  assert.deepEqual(await snapshot(), before, 'nothing changed');
  // a remediation in another cluster is not reachable under its own cluster either
  const g = await srv.api('GET', rPath('c1', 'c2-i0', other.json.id), { token: scoped });
  expectStatus(assert, g, 404, 5, 'other remediation addressed under c1');
  // its own cluster works
  const mine = await create(srv, 'c1', fresh(), { mode: VM, token: scoped });
  assert.equal(mine.status, 200, mine.text);
  assert.equal(mine.json.requested_by, 'sam');
  // the engine is not cluster-scoped, and an operator cannot pause it anyway
  expectStatus(assert, await srv.api('POST', '/v1/engine:pause', { token: scoped }), 403, 7, 'scoped operator pauses');
});

test('a cluster-scoped token does not see other clusters\' instances through /v1/compute/hosts', async () => {
  const r = await srv.api('GET', '/v1/compute/hosts', { token: scoped });
  if (r.status === 403 || r.status === 404) return; // hiding the host view altogether is fine too
  assert.equal(r.status, 200, r.text);
  const leaked = r.json.hosts.flatMap((h) => (h.instances || []).filter((i) => !i.startsWith('c1-')));
  assert.deepEqual(leaked, [], 'instances of clusters outside the token\'s scope are listed');
});

const BAD_BODIES = [
  ['truncated JSON', '{"mode":'],
  ['not JSON', 'mode=REMEDIATION_MODE_VM_ONLY'],
  ['duplicate key mode', '{"mode":"REMEDIATION_MODE_VM_ONLY","mode":"REMEDIATION_MODE_REBOOT_VM"}'],
  ['duplicate key reason', '{"mode":"REMEDIATION_MODE_VM_ONLY","reason":"a","reason":"b"}'],
  ['duplicate identical key', '{"mode":"REMEDIATION_MODE_VM_ONLY","mode":"REMEDIATION_MODE_VM_ONLY"}'],
  ['1e400', '{"mode":"REMEDIATION_MODE_VM_ONLY","reason":"x","extra":1e400}'],
  ['-1e400', '{"mode":"REMEDIATION_MODE_VM_ONLY","extra":-1e400}'],
  ['1e400 as reason', '{"mode":"REMEDIATION_MODE_VM_ONLY","reason":1e400}'],
  ['unknown enum', '{"mode":"REMEDIATION_MODE_FOO"}'],
  ['lower-case enum', '{"mode":"remediation_mode_vm_only"}'],
  ['mode is a number', '{"mode":5}'],
  ['mode is null', '{"mode":null}'],
  ['mode is an array', '{"mode":["REMEDIATION_MODE_VM_ONLY"]}'],
  ['mode is an object', '{"mode":{}}'],
  ['mode is a bool', '{"mode":true}'],
  ['reason is a number', '{"mode":"REMEDIATION_MODE_VM_ONLY","reason":5}'],
  ['reason is an object', '{"mode":"REMEDIATION_MODE_VM_ONLY","reason":{}}'],
  ['body is an array', '[]'],
  ['body is a string', '"REMEDIATION_MODE_VM_ONLY"'],
  ['body is null', 'null'],
  ['body is a number', '42'],
  ['empty body', ''],
  ['empty object', '{}'],
  ['trailing garbage', '{"mode":"REMEDIATION_MODE_VM_ONLY"} x'],
  ['two objects', '{"mode":"REMEDIATION_MODE_VM_ONLY"}{}'],
  ['deep nesting', '{"mode":"REMEDIATION_MODE_VM_ONLY","x":' + '['.repeat(100000) + ']'.repeat(100000) + '}'],
  ['single quotes', "{'mode':'REMEDIATION_MODE_VM_ONLY'}"],
  ['comment', '{"mode":"REMEDIATION_MODE_VM_ONLY" /* c */}'],
  ['trailing comma', '{"mode":"REMEDIATION_MODE_VM_ONLY",}'],
  ['NaN', '{"mode":"REMEDIATION_MODE_VM_ONLY","x":NaN}'],
];

test('bad create bodies → 400 code 3, nothing changed', async () => {
  const inst = fresh();
  const before = await snapshot();
  for (const [what, body] of BAD_BODIES) {
    const r = await srv.api('POST', rPath('c1', inst), { token: operator, rawBody: body });
    expectStatus(assert, r, 400, 3, what);
  }
  // invalid UTF-8 in a string
  const bad = Buffer.concat([Buffer.from('{"mode":"REMEDIATION_MODE_VM_ONLY","reason":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
  expectStatus(assert, await srv.api('POST', rPath('c1', inst), { token: operator, rawBody: bad }), 400, 3, 'invalid UTF-8');
  // the same with a remediation_id, which must not be reserved either
  const r = await srv.api('POST', rPath('c1', inst) + '?remediation_id=bad-body-1', { token: operator, rawBody: '{"mode":5}' });
  expectStatus(assert, r, 400, 3, 'bad body with remediation_id');
  assert.deepEqual(await snapshot(), before, 'nothing changed');
  const ok = await srv.api('POST', rPath('c1', inst) + '?remediation_id=bad-body-1', { token: operator, body: { mode: VM } });
  assert.equal(ok.status, 200, `the id is still free afterwards: ${ok.text}`);
  // the server is fine
  assert.equal((await srv.api('GET', '/healthz', { token: null })).status, 200);
});

test('bad approve/reject bodies → 400 code 3 or 9, nothing changed', async () => {
  const inst = fresh();
  const a = await create(srv, 'c1', inst, { mode: VM });
  assert.equal(a.status, 200, a.text);
  for (const verb of ['approve', 'reject']) {
    for (const body of ['{"comment":', '{"comment":1}', '[]', '{"mode":"NOPE"}', '{"comment":"a","comment":"b"}']) {
      const r = await srv.api('POST', rPath('c1', inst, a.json.id, verb), { token: approver, rawBody: body });
      assert.equal(r.status, 400, `${verb} ${body}: ${r.text}`);
      assert.ok(r.json && (r.json.code === 3 || r.json.code === 9), `${verb} ${body}: code 3 or 9, got ${r.text}`);
    }
  }
  const g = await srv.api('GET', rPath('c1', inst, a.json.id));
  assert.deepEqual(g.json, a.json);
});

const padBody = (n) => {
  const head = '{"mode":"REMEDIATION_MODE_VM_ONLY","reason":"';
  const tail = '"}';
  return head + 'r'.repeat(n - head.length - tail.length) + tail;
};

test('Content-Length over 1 MiB → 413 with code 8 (answered from the headers)', async () => {
  const inst = fresh();
  const before = await snapshot();
  const conn = await rawConnect(srv.port);
  conn.write([
    `POST ${rPath('c1', inst)} HTTP/1.1`, 'Host: 127.0.0.1', `Authorization: Bearer ${operator}`,
    'Content-Type: application/json', `Content-Length: ${1024 * 1024 + 1}`, '', '',
  ].join('\r\n'));
  const [resp] = await conn.next(1, 10000);
  conn.destroy();
  assert.equal(resp.status, 413, resp.body);
  const j = JSON.parse(resp.body);
  assert.equal(j.code, 8);
  assert.deepEqual(j.details, []);
  assert.ok(j.message.length > 0);
  assert.deepEqual(await snapshot(), before, 'nothing changed');
});

test('a client that sends the whole oversized body still receives the 413 (no reset)', async () => {
  const inst = fresh();
  const before = await snapshot();
  const outcomes = [];
  for (const size of [1024 * 1024 + 1, 2 * 1024 * 1024, 8 * 1024 * 1024]) {
    const body = padBody(size);
    for (let k = 0; k < 4; k++) {
      try {
        const r = await srv.api('POST', rPath('c1', inst), { token: operator, rawBody: body });
        outcomes.push(r.status === 413 && r.json?.code === 8 ? 'ok' : `${size}: HTTP ${r.status}`);
      } catch (e) {
        outcomes.push(`${size}: ${e.cause?.code || e.message}`);
      }
    }
  }
  const bad = outcomes.filter((o) => o !== 'ok');
  assert.deepEqual(bad, [], `${bad.length}/${outcomes.length} oversized uploads got no 413 (connection reset before the client read it)`);
  assert.deepEqual(await snapshot(), before, 'nothing changed');
});

test('chunked body over 1 MiB → 413 code 8; exactly 1 MiB is fine', async () => {
  const inst = fresh();
  const before = await snapshot();
  // chunked, no Content-Length: the limit still holds
  const conn = await rawConnect(srv.port);
  conn.write([
    `POST ${rPath('c1', inst)} HTTP/1.1`, 'Host: 127.0.0.1', `Authorization: Bearer ${operator}`,
    'Content-Type: application/json', 'Transfer-Encoding: chunked', '', '',
  ].join('\r\n'));
  const chunk = 'r'.repeat(64 * 1024);
  let answered = false;
  conn.next(1, 15000).then(() => { answered = true; }, () => {});
  const first = '{"mode":"REMEDIATION_MODE_VM_ONLY","reason":"';
  conn.write(`${first.length.toString(16)}\r\n${first}\r\n`);
  for (let k = 0; k < 20 && !answered && !conn.closed; k++) {
    conn.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    await sleep(5);
  }
  if (!conn.closed && !answered) conn.write('2\r\n"}\r\n0\r\n\r\n');
  const [resp] = await conn.next(1, 15000);
  conn.destroy();
  assert.equal(resp.status, 413, `chunked body over 1 MiB: ${resp.status} ${resp.body.slice(0, 200)}`);
  assert.equal(JSON.parse(resp.body).code, 8);
  assert.deepEqual(await snapshot(), before, 'nothing changed');

  const exact = padBody(1024 * 1024);
  const ok = await srv.api('POST', rPath('c1', inst), { token: operator, rawBody: exact });
  assert.equal(ok.status, 200, `exactly 1 MiB is not over the limit: ${ok.status} ${ok.text.slice(0, 200)}`);
});

test('oversized request headers → a 4xx answer, nothing changed, server fine', async () => {
  const inst = fresh();
  const before = await snapshot();
  const conn = await rawConnect(srv.port);
  conn.write(rawRequest({
    method: 'POST', path: rPath('c1', inst), token: operator, body: { mode: VM },
    headers: { 'X-Big': 'b'.repeat(256 * 1024) },
  }));
  let resp;
  try {
    [resp] = await conn.next(1, 10000);
  } catch (e) {
    assert.fail(`no HTTP answer to a 256 KiB header (${e.message})`);
  } finally {
    conn.destroy();
  }
  assert.ok([400, 413, 431].includes(resp.status), `status ${resp.status}`);
  // many headers rather than one big one
  const conn2 = await rawConnect(srv.port);
  const many = {};
  for (let k = 0; k < 5000; k++) many[`X-H${k}`] = 'v'.repeat(20);
  conn2.write(rawRequest({ method: 'POST', path: rPath('c1', inst), token: operator, body: { mode: VM }, headers: many }));
  let resp2;
  try {
    [resp2] = await conn2.next(1, 10000);
  } catch (e) {
    assert.fail(`no HTTP answer to 5000 headers (${e.message})`);
  } finally {
    conn2.destroy();
  }
  assert.ok([400, 413, 431].includes(resp2.status), `status ${resp2.status}`);
  assert.deepEqual(await snapshot(), before, 'nothing changed');
  assert.equal((await srv.api('GET', '/healthz', { token: null })).status, 200);
});

test('bad page tokens and page sizes → 400 code 3', async () => {
  for (const tok of ['garbage', '!!!', 'AAAA', 'eyJ9', Buffer.from('{"k":1}').toString('base64'), 'x'.repeat(5000), '%00']) {
    const r = await srv.api('GET', rPath('c1', '-'), { query: { page_token: tok } });
    expectStatus(assert, r, 400, 3, `page_token ${tok.slice(0, 20)}`);
  }
  for (const ps of ['-1', 'abc', '1.5', '99999999999999999999999']) {
    const r = await srv.api('GET', rPath('c1', '-'), { query: { page_size: ps } });
    if (ps === '99999999999999999999999') {
      // overflow: either clamped (200) or rejected (400 code 3), never 500
      assert.ok(r.status === 200 || (r.status === 400 && r.json.code === 3), `page_size ${ps}: ${r.status}`);
    } else {
      expectStatus(assert, r, 400, 3, `page_size ${ps}`);
    }
  }
  for (const [k, v] of [['state', 'NOPE'], ['mode', 'REMEDIATION_MODE_NOPE'], ['trigger', 'NOPE'], ['order_by', 'name'], ['order_by', 'create_time sideways']]) {
    expectStatus(assert, await srv.api('GET', rPath('c1', '-'), { query: { [k]: v } }), 400, 3, `${k}=${v}`);
  }
});

test('pipelined requests on one connection are answered in order', async () => {
  const i1 = fresh();
  const i2 = fresh();
  const a = await create(srv, 'c1', i1, { mode: VM, reason: 'pipe a' });
  const b = await create(srv, 'c1', i2, { mode: VM, reason: 'pipe b' });
  const tok = srv.adminToken;
  const conn = await rawConnect(srv.port);
  const i3 = fresh();
  const i4 = fresh();
  conn.write(
    rawRequest({ path: rPath('c1', i1, a.json.id), token: tok })
    + rawRequest({ path: rPath('c1', i2, b.json.id), token: tok })
    + rawRequest({ path: '/v1/not-there', token: tok })
    + rawRequest({ method: 'POST', path: rPath('c1', i3), token: tok, body: { mode: VM, reason: 'pipe c' } })
    + rawRequest({ method: 'POST', path: rPath('c1', i4), token: tok, body: { mode: VM, reason: 'pipe d' } })
    + rawRequest({ path: '/healthz' })
    + rawRequest({ path: rPath('c1', i1, a.json.id), token: tok }),
  );
  const rs = await conn.next(7, 10000);
  conn.destroy();
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 404, 200, 200, 200, 200]);
  assert.equal(JSON.parse(rs[0].body).id, a.json.id);
  assert.equal(JSON.parse(rs[1].body).id, b.json.id);
  assert.equal(JSON.parse(rs[2].body).code, 5);
  assert.equal(JSON.parse(rs[3].body).instance_id, i3);
  assert.equal(JSON.parse(rs[4].body).instance_id, i4);
  assert.equal(JSON.parse(rs[6].body).id, a.json.id);
});

test('keep-alive: several requests on one connection; Connection: close is honoured', async () => {
  const conn = await rawConnect(srv.port);
  for (let k = 1; k <= 5; k++) {
    conn.write(rawRequest({ path: '/v1/compute/clusters', token: srv.adminToken }));
    const rs = await conn.next(k, 5000);
    assert.equal(rs[k - 1].status, 200);
    assert.ok(!conn.closed, 'connection kept open');
    await sleep(50);
  }
  // an error response does not close a keep-alive connection either
  conn.write(rawRequest({ path: '/v1/nope', token: srv.adminToken }));
  assert.equal((await conn.next(6, 5000))[5].status, 404);
  conn.write(rawRequest({ path: '/v1/compute/clusters', token: null }));
  assert.equal((await conn.next(7, 5000))[6].status, 401);
  conn.write(rawRequest({ path: '/v1/compute/clusters', token: srv.adminToken, close: true }));
  assert.equal((await conn.next(8, 5000))[7].status, 200);
  await within(conn.whenClosed, 5000);
  assert.ok(conn.closed, 'closed after Connection: close');
});

test('slowloris: trickling headers get the connection closed (≤ 60 s) while others are served', async () => {
  // The slow connections were opened in before(); the other tests ran meanwhile.
  const t0 = Date.now();
  const h = await srv.api('GET', '/healthz', { token: null });
  assert.equal(h.status, 200);
  assert.ok(Date.now() - t0 < 2000, 'healthz is fast while slow clients hang around');
  const deadline = slow.startedAt + 60000;
  while (Date.now() < deadline && slow.conns.some((c) => !c.closed)) {
    const s = Date.now();
    const r = await srv.api('GET', '/v1/compute/clusters');
    assert.equal(r.status, 200);
    assert.ok(Date.now() - s < 2000, 'others are served promptly');
    await sleep(500);
  }
  clearInterval(slow.timer);
  const open = slow.conns.filter((c) => !c.closed).length;
  assert.equal(open, 0, `${open} slowloris connections still open after 60 s`);
  for (const c of slow.conns) {
    assert.ok(c.responses.every((r) => r.status === 408 || r.status === 400 || r.status === 431),
      `slow client got no successful answer: ${c.responses.map((r) => r.status)}`);
  }
});

test('rate limit per token (config server.rate_limit_per_token_rps) → 429 code 8, retriable, nothing changed', async () => {
  const limited = await startServer({
    fleet: makeFleet([{ cluster_id: 'rl', instances: 40 }]),
    config: 'server:\n  rate_limit_per_token_rps: 5\n',
  });
  try {
    const a = await limited.token('ratey', 'operator');
    const b = await limited.token('other', 'operator');
    const results = await Promise.all(Array.from({ length: 30 }, (_, k) => create(limited, 'rl', `rl-i${k}`, { mode: VM, token: a })));
    const limitedOnes = results.filter((r) => r.status === 429);
    assert.ok(limitedOnes.length > 0, `30 creates at once with a 5 rps limit: statuses ${results.map((r) => r.status)}`);
    for (const r of results) assert.ok(r.status === 200 || r.status === 429, `${r.status} ${r.text}`);
    for (const r of limitedOnes) {
      assert.equal(r.json.code, 8, r.text);
      assert.deepEqual(r.json.details, []);
      assert.notEqual(r.headers.get('x-should-retry'), 'false', '429 is retriable');
    }
    // the limit is per token: another token is served at once
    const other = await limited.api('GET', '/v1/compute/clusters', { token: b });
    assert.equal(other.status, 200, other.text);
    // refused creates created nothing
    const l = await limited.api('GET', rPath('rl', '-'), { token: b, query: { page_size: '100' } });
    assert.equal(l.json.remediations.length, results.filter((r) => r.status === 200).length);
    // health checks are never limited
    for (let k = 0; k < 20; k++) assert.equal((await limited.api('GET', '/healthz', { token: null })).status, 200);
  } finally {
    await limited.close();
  }
});
