// docs/http-api.md 4.3: list filters, page sizes, page tokens, order, and stable keyset paging
// while other clients write.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Server, startServer, makeFleet, rPath, create, expectStatus, listAll, pool, micros, MODES, MANUAL, AUTOMATED,
  FAKETIME_LIB, frozenClockEnv,
} from './lib/server.mjs';

const N = 1010; // instances in "big": more remediations than the 1000 clamp
const BIG = 'big';
let srv;
let viewer;
const created = new Map(); // id → remediation as last seen by this test
const freeInstances = []; // instances of BIG with no active remediation, for the writers
const historyInstance = `${BIG}-i0`;

before(async () => {
  srv = await startServer({
    fleet: makeFleet([{ cluster_id: BIG, instances: N }, { cluster_id: 'small', instances: 5 }]),
  });
  viewer = await srv.token('pager', 'viewer');
  const ks = Array.from({ length: N }, (_, k) => k);
  await pool(ks, 16, async (k) => {
    const r = await create(srv, BIG, `${BIG}-i${k}`, { mode: MODES[k % 5], reason: `r${k}` });
    assert.equal(r.status, 200, r.text);
    created.set(r.json.id, r.json);
  });
  // every 4th one cancelled; the first 50 of those get a second remediation (history)
  const cancelled = ks.filter((k) => k % 4 === 0);
  const byInstance = new Map([...created.values()].map((r) => [r.instance_id, r]));
  await pool(cancelled, 16, async (k) => {
    const inst = `${BIG}-i${k}`;
    const r = await srv.api('POST', rPath(BIG, inst, byInstance.get(inst).id, 'cancel'));
    assert.equal(r.status, 200, r.text);
    created.set(r.json.id, r.json);
  });
  await pool(cancelled.slice(0, 50), 16, async (k) => {
    const r = await create(srv, BIG, `${BIG}-i${k}`, { mode: 'REMEDIATION_MODE_REBOOT_VM', reason: `again ${k}` });
    assert.equal(r.status, 200, r.text);
    created.set(r.json.id, r.json);
  });
  freeInstances.push(...cancelled.slice(50).map((k) => `${BIG}-i${k}`));
  const s = await create(srv, 'small', 'small-i0', { mode: 'REMEDIATION_MODE_VM_ONLY' });
  assert.equal(s.status, 200, s.text);
});

after(async () => { if (srv) await srv.close(); });

const ORDERS = {
  'create_time desc': ['create_time', true],
  'create_time': ['create_time', false],
  'create_time asc': ['create_time', false],
  'update_time desc': ['update_time', true],
  'update_time': ['update_time', false],
  'update_time asc': ['update_time', false],
};

function compare(field, desc) {
  return (a, b) => {
    const x = micros(a[field]);
    const y = micros(b[field]);
    let c = x < y ? -1 : x > y ? 1 : 0;
    if (c === 0) c = a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    return desc ? -c : c;
  };
}

function assertOrdered(list, field, desc, what) {
  const cmp = compare(field, desc);
  for (let k = 1; k < list.length; k++) {
    assert.ok(cmp(list[k - 1], list[k]) < 0,
      `${what}: out of order at ${k}: ${list[k - 1][field]} ${list[k - 1].id} then ${list[k][field]} ${list[k].id}`);
  }
}

function assertExactlyOnce(list, expectedIds, what) {
  const seen = new Set();
  for (const r of list) {
    assert.ok(!seen.has(r.id), `${what}: ${r.id} returned twice`);
    seen.add(r.id);
  }
  const missing = [...expectedIds].filter((id) => !seen.has(id));
  assert.deepEqual(missing, [], `${what}: missing ${missing.length}`);
  const extra = [...seen].filter((id) => !expectedIds.has(id));
  assert.deepEqual(extra, [], `${what}: unexpected ${extra.length}`);
}

const bigIds = () => new Set(created.keys());
const list = (query, opts = {}) => srv.api('GET', rPath(BIG, opts.instance ?? '-'), { token: viewer, query, ...opts });

test('page_size: default 50, 0 means default, clamped at 1000, negative → 400', async () => {
  const d = await list({});
  assert.equal(d.status, 200, d.text);
  assert.equal(d.json.remediations.length, 50);
  assert.equal(d.json.has_next, true);
  assert.equal(typeof d.json.next_page_token, 'string');
  assert.ok(d.json.next_page_token.length > 0);
  const z = await list({ page_size: '0' });
  assert.equal(z.status, 200, z.text);
  assert.equal(z.json.remediations.length, 50);
  const c = await list({ page_size: '5000' });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.remediations.length, 1000);
  assert.equal(c.json.has_next, true);
  const e = await list({ page_size: '1000' });
  assert.equal(e.json.remediations.length, 1000);
  const one = await list({ page_size: '1' });
  assert.equal(one.json.remediations.length, 1);
  assert.deepEqual(one.json.remediations[0], d.json.remediations[0]);
  expectStatus(assert, await list({ page_size: '-1' }), 400, 3, 'page_size -1');
  expectStatus(assert, await list({ pageSize: '-5' }), 400, 3, 'pageSize -5');
});

test('the default order is create_time desc; instance "-" lists the whole cluster', async () => {
  const { all, pages } = await listAll(srv, BIG, '-', {}, { token: viewer, pageSize: 300 });
  assertExactlyOnce(all, bigIds(), 'default walk');
  assertOrdered(all, 'create_time', true, 'default order');
  for (const p of pages.slice(0, -1)) {
    assert.equal(p.has_next, true);
    assert.ok(p.next_page_token.length > 0);
  }
  const last = pages[pages.length - 1];
  assert.equal(last.has_next, false);
  assert.equal(last.next_page_token, '', 'next_page_token is "" on the last page');
  for (const r of all) assert.deepEqual(r, created.get(r.id), 'list shows the same object as create/cancel');
  const small = await srv.api('GET', rPath('small', '-'), { token: viewer });
  assert.equal(small.json.remediations.length, 1);
  assert.equal(small.json.remediations[0].cluster_id, 'small');
});

test('an instance lists only its own remediations, newest first', async () => {
  const r = await list({}, { instance: historyInstance });
  assert.equal(r.status, 200, r.text);
  const mine = [...created.values()].filter((x) => x.instance_id === historyInstance);
  assert.equal(mine.length, 2);
  assert.equal(r.json.remediations.length, 2);
  assert.deepEqual(r.json.remediations.map((x) => x.id), mine.sort(compare('create_time', true)).map((x) => x.id));
  assert.equal(r.json.remediations[0].state, 'PENDING');
  assert.equal(r.json.remediations[1].state, 'CANCELLED');
  assert.equal(r.json.has_next, false);
  assert.equal(r.json.next_page_token, '');
  const none = await list({}, { instance: `${BIG}-i3` });
  assert.equal(none.json.remediations.length, 1);
});

test('every order_by value, walked over all pages, ties broken by id', async () => {
  for (const [ob, [field, desc]] of Object.entries(ORDERS)) {
    const { all } = await listAll(srv, BIG, '-', { order_by: ob }, { token: viewer, pageSize: 250 });
    assertExactlyOnce(all, bigIds(), ob);
    assertOrdered(all, field, desc, ob);
  }
});

test('order_by with %20 (what the SDK sends) and with + both work', async () => {
  const base = rPath(BIG, '-');
  const a = await srv.api('GET', `${base}?order_by=create_time%20asc&page_size=20`, { token: viewer });
  const b = await srv.api('GET', `${base}?order_by=create_time+asc&page_size=20`, { token: viewer });
  assert.equal(a.status, 200, a.text);
  assert.equal(b.status, 200, b.text);
  assert.deepEqual(a.json.remediations, b.json.remediations);
  assertOrdered(a.json.remediations, 'create_time', false, 'asc');
});

test('camelCase spellings: pageSize, pageToken, orderBy (and mixed)', async () => {
  const snake = await listAll(srv, BIG, '-', { order_by: 'update_time asc' }, { token: viewer, pageSize: 1000 });
  const out = [];
  let tok = '';
  let k = 0;
  for (;;) {
    const q = k % 2 === 0
      ? { pageSize: '97', orderBy: 'update_time asc', ...(tok ? { pageToken: tok } : {}) }
      : { page_size: '97', orderBy: 'update_time asc', ...(tok ? { pageToken: tok } : {}) };
    const r = await list(q);
    assert.equal(r.status, 200, r.text);
    if (r.json.has_next) assert.equal(r.json.remediations.length, 97);
    out.push(...r.json.remediations);
    if (!r.json.has_next) break;
    tok = r.json.next_page_token;
    k++;
  }
  assert.deepEqual(out.map((r) => r.id), snake.all.map((r) => r.id));
  const seven = await list({ pageSize: '7', orderBy: 'create_time' });
  assert.equal(seven.json.remediations.length, 7);
  assertOrdered(seven.json.remediations, 'create_time', false, 'orderBy create_time');
});

test('page_size may change between pages', async () => {
  const ref = await listAll(srv, BIG, '-', { order_by: 'create_time' }, { token: viewer, pageSize: 1000 });
  const sizes = [10, 25, 3, 1, 100, 333, 7];
  const out = [];
  let tok = '';
  for (let k = 0; ; k++) {
    const q = { order_by: 'create_time', page_size: String(sizes[k % sizes.length]) };
    if (tok) q.page_token = tok;
    const r = await list(q);
    assert.equal(r.status, 200, r.text);
    if (r.json.has_next) assert.equal(r.json.remediations.length, sizes[k % sizes.length]);
    out.push(...r.json.remediations);
    if (!r.json.has_next) break;
    tok = r.json.next_page_token;
  }
  assert.deepEqual(out.map((r) => r.id), ref.all.map((r) => r.id));
});

function expected(pred) {
  return new Set([...created.values()].filter(pred).map((r) => r.id));
}

test('filters: state, mode, trigger — repeated keys and comma-joined, combined', async () => {
  const cases = [
    [[['state', 'CANCELLED']], (r) => r.state === 'CANCELLED'],
    [[['state', 'PENDING']], (r) => r.state === 'PENDING'],
    [[['state', 'PENDING,CANCELLED']], () => true],
    [[['state', 'PENDING'], ['state', 'CANCELLED']], () => true],
    [[['state', 'RUNNING,SUCCEEDED']], () => false],
    [[['mode', 'REMEDIATION_MODE_REBOOT_VM']], (r) => r.mode === 'REMEDIATION_MODE_REBOOT_VM'],
    [[['mode', 'REMEDIATION_MODE_VM_ONLY,REMEDIATION_MODE_HOST_POWER_CYCLE']],
      (r) => r.mode === 'REMEDIATION_MODE_VM_ONLY' || r.mode === 'REMEDIATION_MODE_HOST_POWER_CYCLE'],
    [[['mode', 'REMEDIATION_MODE_VM_ONLY'], ['mode', 'REMEDIATION_MODE_HOST_POWER_CYCLE']],
      (r) => r.mode === 'REMEDIATION_MODE_VM_ONLY' || r.mode === 'REMEDIATION_MODE_HOST_POWER_CYCLE'],
    [[['trigger', MANUAL]], () => true],
    [[['trigger', AUTOMATED]], () => false],
    [[['trigger', `${MANUAL},${AUTOMATED}`]], () => true],
    [[['trigger', MANUAL], ['trigger', AUTOMATED]], () => true],
    [[['state', 'CANCELLED'], ['mode', 'REMEDIATION_MODE_VM_ONLY,REMEDIATION_MODE_REBOOT_VM']],
      (r) => r.state === 'CANCELLED' && (r.mode === 'REMEDIATION_MODE_VM_ONLY' || r.mode === 'REMEDIATION_MODE_REBOOT_VM')],
    [[['state', 'PENDING'], ['mode', 'REMEDIATION_MODE_REBOOT_VM'], ['trigger', MANUAL]],
      (r) => r.state === 'PENDING' && r.mode === 'REMEDIATION_MODE_REBOOT_VM'],
  ];
  for (const [params, pred] of cases) {
    const what = new URLSearchParams(params).toString();
    const { all, pages } = await listAll(srv, BIG, '-', params, { token: viewer, pageSize: 150 });
    assertExactlyOnce(all, expected(pred), what);
    assertOrdered(all, 'create_time', true, what);
    assert.equal(pages[pages.length - 1].next_page_token, '');
  }
  // a literal (unencoded) comma works too
  const raw = await srv.api('GET', `${rPath(BIG, '-')}?state=PENDING,CANCELLED&page_size=1000`, { token: viewer });
  assert.equal(raw.status, 200, raw.text);
  assert.equal(raw.json.remediations.length, 1000);
  // per instance
  const inst = await list({ state: 'CANCELLED' }, { instance: historyInstance });
  assert.equal(inst.json.remediations.length, 1);
  assert.equal(inst.json.remediations[0].state, 'CANCELLED');
  // an empty result
  const empty = await list({ state: 'FAILED' });
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.json, { remediations: [], has_next: false, next_page_token: '' });
});

test('a page token used with different filters or order → 400 code 3', async () => {
  const first = await list({ state: 'PENDING', page_size: '10' });
  assert.equal(first.status, 200, first.text);
  const tok = first.json.next_page_token;
  // the same query continues
  const ok = await list({ state: 'PENDING', page_size: '10', page_token: tok });
  assert.equal(ok.status, 200, ok.text);
  const changed = [
    { state: 'CANCELLED' },
    {},
    { state: 'PENDING,CANCELLED' },
    { state: 'PENDING', mode: 'REMEDIATION_MODE_VM_ONLY' },
    { state: 'PENDING', trigger: MANUAL },
    { state: 'PENDING', order_by: 'create_time asc' },
    { state: 'PENDING', order_by: 'update_time desc' },
  ];
  for (const q of changed) {
    const r = await list({ ...q, page_size: '10', page_token: tok });
    expectStatus(assert, r, 400, 3, `token with ${JSON.stringify(q)}`);
  }
  const asc = await list({ order_by: 'create_time asc', page_size: '5' });
  expectStatus(assert, await list({ order_by: 'create_time desc', page_token: asc.json.next_page_token }), 400, 3, 'asc token, desc order');
  expectStatus(assert, await list({ order_by: 'update_time asc', page_token: asc.json.next_page_token }), 400, 3, 'create_time token, update_time order');
});

test('a tampered page token → 400 code 3', async () => {
  const first = await list({ page_size: '10' });
  const tok = first.json.next_page_token;
  assert.ok(tok.length >= 8, `token ${tok}`);
  const variants = new Set();
  for (const pos of [0, 1, Math.floor(tok.length / 4), Math.floor(tok.length / 2), Math.floor((3 * tok.length) / 4), tok.length - 3]) {
    const c = tok[pos];
    for (const alt of ['A', 'B', '0', 'z']) {
      if (alt !== c) { variants.add(tok.slice(0, pos) + alt + tok.slice(pos + 1)); break; }
    }
  }
  variants.add(tok.slice(0, -4));
  variants.add(tok.slice(4));
  variants.add(tok + 'AAAA');
  variants.add(tok.split('').reverse().join(''));
  for (const v of variants) {
    const r = await list({ page_size: '10', page_token: v });
    expectStatus(assert, r, 400, 3, `tampered token ${v}`);
  }
});

// Runs writers that create (and cancel) remediations while walking; returns the walk.
async function walkWhileWriting(orderBy, pageSize) {
  const before = new Set((await listAll(srv, BIG, '-', {}, { token: viewer, pageSize: 1000 })).all.map((r) => r.id));
  let stop = false;
  let writes = 0;
  const writer = async (w) => {
    while (!stop) {
      const inst = freeInstances[(writes + w) % freeInstances.length];
      const c = await create(srv, BIG, inst, { mode: 'REMEDIATION_MODE_REBOOT_VM', reason: `writer ${w}` });
      if (c.status === 200) {
        writes++;
        const x = await srv.api('POST', rPath(BIG, inst, c.json.id, 'cancel'));
        assert.equal(x.status, 200, x.text);
      } else {
        assert.equal(c.status, 400, c.text); // another writer holds that instance
      }
    }
  };
  const writers = [0, 1, 2, 3].map(writer);
  const out = [];
  let tok = '';
  let pages = 0;
  try {
    for (;;) {
      const q = { order_by: orderBy, page_size: String(pageSize) };
      if (tok) q.page_token = tok;
      const r = await list(q);
      assert.equal(r.status, 200, r.text);
      out.push(...r.json.remediations);
      pages++;
      if (!r.json.has_next) break;
      tok = r.json.next_page_token;
    }
  } finally {
    stop = true;
    await Promise.all(writers);
  }
  return { before, out, pages, writes };
}

for (const [orderBy, desc] of [['create_time', false], ['create_time desc', true]]) {
  test(`paging by ${orderBy} stays exact while others create remediations`, async () => {
    const { before, out, pages, writes } = await walkWhileWriting(orderBy, 37);
    assert.ok(pages > 20, `walk had ${pages} pages`);
    assert.ok(writes > 0, 'writers wrote during the walk');
    const seen = new Set();
    for (const r of out) {
      assert.ok(!seen.has(r.id), `${r.id} returned twice`);
      seen.add(r.id);
    }
    const missing = [...before].filter((id) => !seen.has(id));
    assert.deepEqual(missing, [], `${missing.length} remediations that existed before the walk were skipped`);
    assertOrdered(out, 'create_time', desc, orderBy);
  });
}

test('ties in create_time/update_time are broken by id in the same direction (frozen clock, restarts)', async (t) => {
  if (!FAKETIME_LIB) { t.skip('libfaketime is not installed (apt-get install libfaketime)'); return; }
  // The server keeps its own timestamps strictly increasing, so ties need several processes
  // started at the same frozen wall-clock time on one database.
  const tie = new Server({ fleet: makeFleet([{ cluster_id: 'tie', instances: 60 }]), env: frozenClockEnv() });
  try {
    const made = new Map();
    for (let round = 0; round < 4; round++) {
      await tie.start();
      await pool(Array.from({ length: 15 }, (_, k) => round * 15 + k), 4, async (k) => {
        const r = await create(tie, 'tie', `tie-i${k}`, { mode: MODES[k % 5] });
        assert.equal(r.status, 200, r.text);
        made.set(r.json.id, r.json);
        if (k % 3 === 0) {
          const x = await tie.api('POST', rPath('tie', `tie-i${k}`, r.json.id, 'cancel'));
          assert.equal(x.status, 200, x.text);
          made.set(x.json.id, x.json);
        }
      });
      await tie.stop();
    }
    await tie.start();
    const all0 = [...made.values()];
    assert.ok(new Set(all0.map((r) => r.create_time)).size < all0.length, 'some create_times tie');
    assert.ok(new Set(all0.map((r) => r.update_time)).size < all0.length, 'some update_times tie');
    for (const [ob, [field, desc]] of Object.entries(ORDERS)) {
      const want = [...all0].sort(compare(field, desc)).map((r) => r.id);
      for (const pageSize of [7, 1000]) {
        const { all } = await listAll(tie, 'tie', '-', { order_by: ob }, { pageSize });
        assert.deepEqual(all.map((r) => r.id), want, `${ob}, page_size ${pageSize}`);
      }
    }
    const cancelled = all0.filter((r) => r.state === 'CANCELLED').sort(compare('update_time', true)).map((r) => r.id);
    const { all } = await listAll(tie, 'tie', '-', { state: 'CANCELLED', order_by: 'update_time desc' }, { pageSize: 4 });
    assert.deepEqual(all.map((r) => r.id), cancelled);
  } finally {
    await tie.close();
  }
});
