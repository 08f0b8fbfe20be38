// Live updates (README "Live updates"): GET …/remediations:watch streams every committed
// remediation change as a server-sent event, filtered by cluster, instance or id; Last-Event-ID
// resumes; errors before the stream are ordinary API errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, rPath, create, sleep } from './lib/server.mjs';
import { getEvents, getRem, waitState } from './lib/engine.mjs';
import { EventStream } from './lib/sse.mjs';

const TIMING = { cordon: 40, drain: 40, delete_vm: 40, provision_vm: 40, boot: 40, reboot: 40, power_cycle: 40 };
const FLEET = {
  clusters: [
    { cluster_id: 'w1', instances: Array.from({ length: 6 }, (_, k) => ({ instance_id: `w1-i${k}`, instance_name: `w1-gpu-${k}`, num_gpus: 8, host: `w1-h${k}` })) },
    { cluster_id: 'w2', instances: [{ instance_id: 'w2-i0', instance_name: 'w2-gpu-0', num_gpus: 8, host: 'w2-h0' }] },
  ],
  hosts: [...Array.from({ length: 8 }, (_, k) => ({ host_name: `w1-h${k}`, gpu_slots: 8 })), { host_name: 'w2-h0', gpu_slots: 8 }],
  timing: TIMING,
};
const watchPath = (c, i = '-') => `/v1/compute/clusters/${c}/instances/${i}/remediations:watch`;
const terminal = (s) => ['SUCCEEDED', 'FAILED', 'CANCELLED', 'AUTO_RESOLVED'].includes(s);

let srv;
const streams = [];
before(async () => { srv = await startServer({ fleet: FLEET, enginePaused: false }); });
after(async () => {
  for (const s of streams) s.close();
  await srv?.close();
});
async function open(path, opts) {
  const s = await EventStream.open(srv, path, opts);
  streams.push(s);
  return s;
}

test('a stream answers text/event-stream, starts with ready, then carries every state a remediation goes through, in order', async () => {
  const s = await open(watchPath('w1'));
  assert.equal(s.response.status, 200);
  assert.match(s.response.headers.get('content-type'), /^text\/event-stream/);
  assert.equal(s.response.headers.get('cache-control'), 'no-store');
  assert.equal(s.events[0].event, 'ready');
  const c = await create(srv, 'w1', 'w1-i0', { mode: 'REMEDIATION_MODE_VM_ONLY', reason: 'live' });
  assert.equal(c.status, 200);
  const last = await s.waitFor((e) => e.event === 'remediation' && e.data.id === c.json.id && terminal(e.data.state));
  assert.equal(last.data.state, 'SUCCEEDED');
  const seen = s.remediations(c.json.id).map((r) => r.state);
  const timeline = (await getEvents(srv, c.json)).filter((e) => e.type === 'state_change').map((e) => e.state);
  assert.deepEqual(seen, timeline, 'one event per committed state change, in commit order');
  assert.equal(seen[0], 'PENDING');
  // The last event carries the remediation exactly as GET shows it.
  assert.deepEqual(last.data, await getRem(srv, c.json));
  // Ids increase and are unique.
  const ids = s.events.filter((e) => e.event === 'remediation').map((e) => Number(e.id.split('-').pop()));
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  assert.equal(new Set(ids).size, ids.length);
});

test('filters: a cluster stream never sees another cluster; instance and remediation_id narrow it', async () => {
  const other = await open(watchPath('w2'));
  const inst = await open(watchPath('w1', 'w1-i2'));
  const all = await open(watchPath('w1'));
  const a = await create(srv, 'w1', 'w1-i1', { mode: 'REMEDIATION_MODE_REBOOT_VM' });
  const b = await create(srv, 'w1', 'w1-i2', { mode: 'REMEDIATION_MODE_REBOOT_VM' });
  const one = await open(watchPath('w1'), { query: `?remediation_id=${a.json.id}` });
  await waitState(srv, a.json);
  await waitState(srv, b.json);
  await all.waitFor((e) => e.data?.id === a.json.id && terminal(e.data.state));
  await all.waitFor((e) => e.data?.id === b.json.id && terminal(e.data.state));
  await inst.waitFor((e) => e.data?.id === b.json.id && terminal(e.data.state));
  await one.waitFor((e) => e.data?.id === a.json.id && terminal(e.data.state));
  assert.deepEqual(new Set(inst.remediations().map((r) => r.instance_id)), new Set(['w1-i2']));
  assert.deepEqual(new Set(one.remediations().map((r) => r.id)), new Set([a.json.id]));
  assert.equal(other.remediations().length, 0);
});

test('Last-Event-ID replays exactly what was missed; an unknown id gets reset', async () => {
  const first = await open(watchPath('w1', 'w1-i3'));
  const a = await create(srv, 'w1', 'w1-i3', { mode: 'REMEDIATION_MODE_REBOOT_VM' });
  const pending = await first.waitFor((e) => e.data?.id === a.json.id);
  first.close();
  await waitState(srv, a.json);
  const resumed = await open(watchPath('w1', 'w1-i3'), { lastEventId: pending.id });
  const done = await resumed.waitFor((e) => e.data?.id === a.json.id && terminal(e.data.state));
  assert.equal(done.data.state, 'SUCCEEDED');
  const states = resumed.remediations(a.json.id).map((r) => r.state);
  const timeline = (await getEvents(srv, a.json)).filter((e) => e.type === 'state_change').map((e) => e.state);
  assert.deepEqual(states, timeline.slice(1), 'everything after the last seen event, once');
  assert.ok(!resumed.events.some((e) => e.event === 'reset'));
  // The same through the query parameter, for clients that cannot set headers.
  const viaQuery = await open(watchPath('w1', 'w1-i3'), { query: `?last_event_id=${pending.id}` });
  await viaQuery.waitFor((e) => e.data?.id === a.json.id && terminal(e.data.state));

  for (const stale of ['ffffffff-1', 'garbage', `${pending.id.split('-')[0]}-999999999`]) {
    const s = await open(watchPath('w1'), { lastEventId: stale });
    await s.waitFor((e) => e.event === 'reset', 3000);
  }
});

test('errors come before the stream as API errors: 401, 404 unknown cluster or instance, scoped token', async () => {
  const res = await fetch(`${srv.base}${watchPath('w1')}`);
  assert.equal(res.status, 401);
  assert.equal((await res.json()).code, 16);
  for (const p of [watchPath('nope'), watchPath('w1', 'w2-i0'), watchPath('w1', 'nope')]) {
    const s = await open(p);
    assert.equal(s.response.status, 404, p);
    assert.equal(s.error.code, 5);
    assert.match(s.error.message, /not found/);
  }
  const scoped = await srv.token('w2-only', 'viewer', ['w2']);
  const denied = await open(watchPath('w1'), { token: scoped });
  assert.ok([403, 404].includes(denied.response.status));
  const allowed = await open(watchPath('w2'), { token: scoped });
  assert.equal(allowed.response.status, 200);
});

test('many streams come and go without harm; the server keeps answering', async () => {
  const many = await Promise.all(Array.from({ length: 40 }, () => EventStream.open(srv, watchPath('w1'))));
  for (const s of many) s.close();
  // Half-open raw connections that vanish without reading.
  for (let k = 0; k < 10; k++) {
    const sock = net.connect(srv.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(`GET ${watchPath('w1')} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${srv.adminToken}\r\n\r\n`);
    await sleep(5);
    sock.destroy();
  }
  const live = await open(watchPath('w1', 'w1-i4'));
  const c = await create(srv, 'w1', 'w1-i4', { mode: 'REMEDIATION_MODE_REBOOT_VM' });
  await live.waitFor((e) => e.data?.id === c.json.id && terminal(e.data.state));
  const g = await srv.api('GET', rPath('w1', 'w1-i4', c.json.id));
  assert.equal(g.status, 200);
});

test('an HTTP/1.0 client gets the stream without chunked framing, ended by the connection', async () => {
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let text = '';
  sock.on('data', (d) => { text += d; });
  sock.write(`GET ${watchPath('w1')} HTTP/1.0\r\nauthorization: Bearer ${srv.adminToken}\r\n\r\n`);
  for (let k = 0; k < 100 && !text.includes('event: ready'); k++) await sleep(10);
  sock.destroy();
  assert.match(text, /^HTTP\/1\.0 200 /);
  assert.doesNotMatch(text, /transfer-encoding/i);
  assert.match(text, /\r\n\r\nevent: ready\ndata: \{\}\n\n/);
});

test('SIGTERM with streams open still stops promptly and cleanly', async () => {
  const s2 = await startServer({ fleet: FLEET, enginePaused: false });
  const s = await EventStream.open(s2, watchPath('w1'));
  assert.equal(s.response.status, 200);
  const t0 = Date.now();
  const res = await s2.stop();
  assert.equal(res.code, 0);
  assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
  await s.waitFor(() => false, 2000).catch(() => {});
  assert.ok(s.closed, "the stream ended with the server");
  await s2.close();
});
