// docs/http-api.md 4.1 (durable acknowledgement), 6 (SIGTERM, admin token, engine pause survives restarts).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  Server, makeFleet, rPath, create, createOnPort, rawConnect, sleep, within, RFC3339_Z,
} from './lib/server.mjs';

const servers = [];
after(async () => { for (const s of servers) await s.close(); });

function newServer(opts) {
  const s = new Server(opts);
  servers.push(s);
  return s;
}

const VM = 'REMEDIATION_MODE_VM_ONLY';

test('acknowledged writes survive kill -9 (20 rounds with concurrent creates in flight)', async (t) => {
  const ROUNDS = 20;
  const PER_ROUND = 12;
  const srv = newServer({ fleet: makeFleet([{ cluster_id: 'd', instances: ROUNDS * PER_ROUND + 10 }]) });
  await srv.start();
  const token = await srv.token('durable', 'operator');
  const acked = new Map(); // id → acknowledged remediation
  let unackedSeen = 0;
  const maybeCancelled = new Set(); // ids whose cancel was sent but not acknowledged
  for (let round = 0; round < ROUNDS; round++) {
    // odd rounds also race a cancel of an earlier acknowledged remediation
    let cancelTarget = null;
    if (round % 2 === 1) {
      const c = await create(srv, 'd', `d-i${ROUNDS * PER_ROUND + (round % 10)}`, { mode: VM, token, remediationId: `pre-${round}` });
      if (c.status === 200) { cancelTarget = c.json; acked.set(c.json.id, c.json); }
    }
    const port = srv.port;
    const proc = srv.proc;
    let killed = false;
    const killNow = () => { if (!killed) { killed = true; proc.kill('SIGKILL'); } };
    const attempts = [];
    for (let k = 0; k < PER_ROUND; k++) {
      const inst = `d-i${round * PER_ROUND + k}`;
      const rid = `r${round}-k${k}`;
      attempts.push(
        createOnPort(port, token, 'd', inst, rid, { mode: VM, reason: `round ${round}` }).then(({ status, json }) => {
          if (status === 200) {
            acked.set(json.id, json);
            killNow(); // kill -9 right after the first acknowledgement
          }
          return { rid, inst, status };
        }),
      );
    }
    if (cancelTarget) {
      attempts.push(
        fetch(`http://127.0.0.1:${port}${rPath('d', cancelTarget.instance_id, cancelTarget.id, 'cancel')}`, {
          method: 'POST', headers: { authorization: `Bearer ${token}` },
        }).then(async (res) => {
          const text = await res.text();
          if (res.status === 200) {
            const r = JSON.parse(text);
            acked.set(r.id, r);
            killNow();
          } else {
            maybeCancelled.add(cancelTarget.id);
          }
          return { status: res.status };
        }, () => { maybeCancelled.add(cancelTarget.id); return { status: 0 }; }),
      );
    }
    const results = await Promise.all(attempts);
    if (!killed) killNow();
    await srv.kill9();
    await srv.start();
    assert.ok(!srv.starts[srv.starts.length - 1].adminTokenPrinted, 'no admin token on a restart');
    // every acknowledged write so far is there, exactly as acknowledged
    for (const r of acked.values()) {
      const g = await srv.api('GET', rPath('d', r.instance_id, r.id), { token });
      assert.equal(g.status, 200, `round ${round}: acknowledged ${r.id} lost after kill -9: ${g.text}`);
      if (maybeCancelled.has(r.id)) {
        // its cancel was in flight, unacknowledged: either outcome is fine, but it is final now
        maybeCancelled.delete(r.id);
        if (g.json.state === 'CANCELLED') { acked.set(r.id, g.json); continue; }
      }
      assert.deepEqual(g.json, r, `round ${round}: ${r.id} differs from what was acknowledged`);
    }
    // unacknowledged ones may or may not exist, but never half-written
    for (const a of results.filter((x) => x.rid && x.status !== 200)) {
      const g = await srv.api('GET', rPath('d', a.inst, a.rid), { token });
      if (g.status === 200) {
        unackedSeen++;
        assert.equal(g.json.state, 'PENDING');
        assert.match(g.json.create_time, RFC3339_Z);
        acked.set(g.json.id, g.json);
      } else {
        assert.equal(g.status, 404, g.text);
      }
    }
  }
  const all = await srv.api('GET', rPath('d', '-'), { token, query: { page_size: '1000' } });
  assert.equal(all.json.remediations.length, acked.size, 'no phantom remediations');
  t.diagnostic(`${acked.size} remediations present, ${unackedSeen} of them committed without an acknowledgement`);
});

test('SIGTERM with requests in flight: replies arrive, acknowledged writes persist, exit 0', async () => {
  const srv = newServer({ fleet: makeFleet([{ cluster_id: 's', instances: 80 }]) });
  await srv.start();
  const token = await srv.token('term', 'operator');
  // an idle keep-alive connection must not hold up the shutdown
  const idle = await rawConnect(srv.port);
  idle.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  await idle.next(1);
  const proc = srv.proc;
  let t0 = 0;
  const term = () => { if (!t0) { t0 = Date.now(); proc.kill('SIGTERM'); } };
  // a burst of creates; SIGTERM as soon as the first one is answered
  const burst = Array.from({ length: 40 }, (_, k) => create(srv, 's', `s-i${k}`, { mode: VM, token, remediationId: `burst-${k}` })
    .then((r) => { term(); return { k, status: r.status, json: r.json }; }, (e) => ({ k, status: 0, err: e })));
  const results = await Promise.all(burst);
  term();
  const exit = await within(proc.exitPromise, 15000);
  assert.ok(exit, 'server exits within 15 s of SIGTERM');
  assert.equal(exit.code, 0, `exit code ${exit.code} signal ${exit.signal}`);
  srv.proc = null;
  for (const r of results) {
    if (r.status !== 0 && r.status !== 200) {
      // refused during shutdown: must be a proper UNAVAILABLE
      assert.equal(r.status, 503, JSON.stringify(r.json));
      assert.equal(r.json.code, 14);
    }
  }
  assert.ok(results.some((r) => r.status === 200));
  // new connections are refused once it is gone
  await assert.rejects(fetch(`http://127.0.0.1:${srv.port}/healthz`));
  idle.destroy();
  // everything acknowledged is there after a restart
  await srv.start();
  for (const r of results.filter((x) => x.status === 200)) {
    const x = await srv.api('GET', rPath('s', `s-i${r.k}`, `burst-${r.k}`), { token });
    assert.equal(x.status, 200, `burst-${r.k} acknowledged before SIGTERM but lost`);
    assert.deepEqual(x.json, r.json);
  }
  const s = await srv.stop();
  assert.equal(s.code, 0);
});

test('SIGTERM: a request whose body is still arriving is finished and answered', async () => {
  const srv = newServer({ fleet: makeFleet([{ cluster_id: 's', instances: 2 }]) });
  await srv.start();
  const token = await srv.token('term', 'operator');
  const conn = await rawConnect(srv.port);
  const body = JSON.stringify({ mode: VM, reason: 'in flight during SIGTERM' });
  const half = Math.floor(body.length / 2);
  conn.write([
    `POST ${rPath('s', 's-i0')}?remediation_id=in-flight-1 HTTP/1.1`, 'Host: 127.0.0.1',
    `Authorization: Bearer ${token}`, 'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`, '', body.slice(0, half),
  ].join('\r\n'));
  await sleep(200);
  const proc = srv.proc;
  proc.kill('SIGTERM');
  // SIGTERM is being handled once the listener is closed: new connections are refused.
  const refused = async () => new Promise((resolve) => {
    const probe = net.connect(srv.port, '127.0.0.1');
    probe.once('connect', () => { probe.destroy(); resolve(false); });
    probe.once('error', () => resolve(true));
  });
  const deadline = Date.now() + 10000;
  while (!(await refused())) {
    assert.ok(Date.now() < deadline, 'the listener did not close within 10 s of SIGTERM');
    await sleep(20);
  }
  if (!conn.closed) conn.write(body.slice(half));
  let resp;
  try {
    [resp] = await conn.next(1, 10000);
  } catch (e) {
    resp = null;
  }
  conn.destroy();
  const exit = await within(proc.exitPromise, 15000);
  srv.proc = null;
  assert.ok(resp, 'the request whose headers and half its body were received got no reply (connection closed at SIGTERM)');
  assert.equal(resp.status, 200, resp.body);
  assert.equal(JSON.parse(resp.body).id, 'in-flight-1');
  assert.ok(exit, 'server exits within 15 s of SIGTERM');
  assert.equal(exit.code, 0);
});

test('the admin token is printed only on the first start; tokens survive restarts', async () => {
  const srv = newServer({ fleet: makeFleet([{ cluster_id: 'a', instances: 2 }]) });
  await srv.start();
  assert.ok(srv.starts[0].adminTokenPrinted, `first start prints the admin token: ${srv.starts[0].stdout}`);
  const admin = srv.adminToken;
  assert.ok(admin && admin.length >= 16, 'a reasonably long token');
  assert.match(srv.starts[0].stdout, /noderepair: listening on http:\/\/127\.0\.0\.1:\d+/);
  const op = await srv.token('keeper', 'operator');
  assert.equal((await srv.api('GET', '/v1/compute/clusters')).status, 200);
  const s1 = await srv.stop();
  assert.equal(s1.code, 0, 'SIGTERM exits 0');
  await srv.start();
  assert.equal(srv.starts[1].adminTokenPrinted, false, `second start prints no admin token: ${srv.starts[1].stdout}`);
  assert.ok(!/admin token/i.test(srv.starts[1].stdout));
  assert.ok(!srv.starts[1].stdout.includes(admin), 'the token is not printed again');
  assert.equal((await srv.api('GET', '/v1/compute/clusters', { token: admin })).status, 200, 'admin token still valid');
  const c = await create(srv, 'a', 'a-i0', { mode: VM, token: op });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.requested_by, 'keeper');
  await srv.kill9();
  await srv.start();
  assert.equal(srv.starts[2].adminTokenPrinted, false, 'nor after kill -9');
  const g = await srv.api('GET', rPath('a', 'a-i0', c.json.id), { token: op });
  assert.deepEqual(g.json, c.json);
});

test('token create prints only the token, even while the server runs', async () => {
  const srv = newServer({ fleet: makeFleet([{ cluster_id: 't', instances: 1 }]) });
  await srv.start();
  const tokens = await Promise.all(['v', 'o', 'p', 'x'].map((n, k) => srv.token(`n-${n}`, ['viewer', 'operator', 'approver', 'admin'][k])));
  assert.equal(new Set(tokens).size, 4);
  for (const t of tokens) {
    assert.match(t, /^\S+$/);
    assert.equal((await srv.api('GET', '/v1/compute/clusters', { token: t })).status, 200);
  }
});

test('engine pause state survives restarts (SIGTERM and kill -9)', async () => {
  const srv = newServer({ fleet: makeFleet([{ cluster_id: 'e', instances: 2 }]), enginePaused: false });
  await srv.start();
  const get = async () => {
    const r = await srv.api('GET', '/v1/engine');
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  assert.deepEqual(await get(), { paused: false });
  const p = await srv.api('POST', '/v1/engine:pause');
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(p.json, { paused: true });
  assert.deepEqual(await get(), { paused: true });
  await srv.restart({ enginePaused: false });
  assert.deepEqual(await get(), { paused: true }, 'paused survives SIGTERM + restart');
  const r = await srv.api('POST', '/v1/engine:resume');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { paused: false });
  await srv.kill9();
  await srv.start({ enginePaused: false });
  assert.deepEqual(await get(), { paused: false }, 'resumed survives kill -9 + restart');
  await srv.api('POST', '/v1/engine:pause');
  await srv.kill9();
  await srv.start({ enginePaused: false });
  assert.deepEqual(await get(), { paused: true }, 'paused survives kill -9 + restart');
  // --engine-paused starts paused
  await srv.api('POST', '/v1/engine:resume');
  await srv.restart({ enginePaused: true });
  assert.deepEqual(await get(), { paused: true }, '--engine-paused starts paused');
  // pause/resume are idempotent
  assert.deepEqual((await srv.api('POST', '/v1/engine:pause')).json, { paused: true });
  assert.deepEqual((await srv.api('POST', '/v1/engine:pause')).json, { paused: true });
});
