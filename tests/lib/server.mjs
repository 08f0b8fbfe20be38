// Shared harness for the black-box tests: runs build/noderepair on 127.0.0.1:0
// in a temp dir, parses its stdout, makes tokens, talks HTTP (fetch) and raw TCP.
// Every child process started here is killed when the test process exits.
import { spawn, execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.NODEREPAIR_BIN || path.join(REPO, 'build', 'noderepair');

// NODEREPAIR_TEST_PG: the libpq URI of a running PostgreSQL server (tools/private-postgres.sh).
// When set, every Server gets a fresh database of its own there instead of a SQLite file, and
// every CLI call a test makes through `srv.db` goes to it (tests/README.md).
export const TEST_PG = process.env.NODEREPAIR_TEST_PG || '';
export const BACKEND = TEST_PG ? 'postgres' : 'sqlite';

// For tests that need what only one backend has: `test(name, { skip: onlyOn('sqlite', why) }, fn)`
// runs everywhere the backend is `backend`, and is skipped elsewhere with the reason printed.
export function onlyOn(backend, why) {
  return BACKEND === backend ? false : `${backend} only: ${why}`;
}

let databaseCount = 0;

// The URI of a database named `name` on the server `base` names (same user, host and options).
export function pgDatabaseUri(base, name) {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

function pgDatabaseName(uri) {
  return decodeURIComponent(new URL(uri).pathname.slice(1));
}

// Creates an empty database on the server `base` names; returns its URI. The name is unique to
// this process, so test files running side by side never share one.
export function createPgDatabase(base = TEST_PG) {
  const name = `nr_${process.pid}_${++databaseCount}_${Math.random().toString(36).slice(2, 8)}`;
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', base, '-c', `CREATE DATABASE "${name}"`],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30000 });
  return pgDatabaseUri(base, name);
}

function runFile(file, args, { timeoutMs = 30000 } = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// Drops a database made by createPgDatabase, closing what is still connected to it.
export function dropPgDatabase(uri) {
  const base = pgDatabaseUri(uri, 'postgres');
  return runFile('psql', ['-X', '-q', '-d', base, '-c', `DROP DATABASE IF EXISTS "${pgDatabaseName(uri)}" WITH (FORCE)`]);
}

// Runs tools/private-postgres.sh VERB DIR (start, stop, crash, restart); resolves its stdout
// (the libpq URI for start).
export function privatePostgresServer(verb, dir) {
  return new Promise((resolve, reject) => {
    execFile(path.join(REPO, 'tools', 'private-postgres.sh'), [verb, dir], { timeout: 60000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${verb}: ${err.message}\n${stderr}`)) : resolve(stdout.trim())));
  });
}

// Runs SQL on a database URL (`sqlite:PATH` with the sqlite3 CLI, a PostgreSQL URI with psql);
// resolves {code, stdout, stderr}.
export function runSql(db, sql) {
  if (db.startsWith('sqlite:')) return runFile('sqlite3', [db.slice('sqlite:'.length), sql]);
  return runFile('psql', ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql]);
}

// A copy of a database that nothing writes to (its server stopped), in `dir` for SQLite and
// as a new database on the same server for PostgreSQL; resolves the copy's URL.
export async function copyDatabase(db, dir, name) {
  if (db.startsWith('sqlite:')) {
    const copy = path.join(dir, `${name}.db`);
    const r = await runSql(db, `.backup '${copy}'`);
    if (r.code !== 0) throw new Error(`sqlite3 .backup failed: ${r.stderr}`);
    return `sqlite:${copy}`;
  }
  const base = pgDatabaseUri(db, 'postgres');
  const copyName = `${pgDatabaseName(db)}_${name}`.replace(/[^A-Za-z0-9_]/g, '_');
  const r = await runSql(base, `CREATE DATABASE "${copyName}" TEMPLATE "${pgDatabaseName(db)}"`);
  if (r.code !== 0) throw new Error(`CREATE DATABASE … TEMPLATE failed: ${r.stderr}`);
  return pgDatabaseUri(db, copyName);
}

export const MODES = [
  'REMEDIATION_MODE_VM_ONLY',
  'REMEDIATION_MODE_HOST_AWARE',
  'REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT',
  'REMEDIATION_MODE_REBOOT_VM',
  'REMEDIATION_MODE_HOST_POWER_CYCLE',
];
export const STATES = [
  'PENDING_APPROVAL', 'PENDING', 'QUARANTINING', 'QUARANTINED', 'RUNNING',
  'SUCCEEDED', 'FAILED', 'CANCELLED', 'AUTO_RESOLVED',
];
export const MANUAL = 'REMEDIATION_TRIGGER_MANUAL';
export const AUTOMATED = 'REMEDIATION_TRIGGER_AUTOMATED';
export const ZERO_TIMING = {
  cordon: 0, drain: 0, delete_vm: 0, provision_vm: 0, boot: 0, reboot: 0, power_cycle: 0,
};

// RFC 3339 UTC with a Z suffix and at most microsecond precision (docs/http-api.md 2).
export const RFC3339_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

const live = new Set();
function killAllSync() {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killAllSync(); process.exit(130); });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The value of one series of /metrics, named as exposed (`name` or `name{label="v"}`).
export async function counter(srv, series) {
  const text = await (await fetch(`${srv.base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`${series} missing from /metrics`);
  return Number(line.slice(series.length + 1));
}
const healthSweeps = (srv) => counter(srv, 'noderepair_health_sweeps_total');

// Resolves once the engine has looked for PENDING work `n` more times since this call (also
// while paused): had it been free to claim, it would have. For tests that check a PENDING
// remediation was left alone.
export async function scannedAfter(srv, { n = 2, ms = 10000 } = {}) {
  const deadline = Date.now() + ms;
  const start = await counter(srv, 'noderepair_engine_scans_total');
  while ((await counter(srv, 'noderepair_engine_scans_total')) < start + n + 1) {
    if (Date.now() >= deadline) throw new Error(`the engine made no ${n} scans within ${ms} ms`);
    await sleep(25);
  }
}

// Resolves once the health sweeper has made `n` whole passes that started after this call
// (and, with `notBefore`, after that Date.now() moment): whatever it would do with the state
// seen now, it has done. For tests that check a sweep changed nothing.
export async function sweptAfter(srv, { n = 2, notBefore = 0, ms = 10000 } = {}) {
  const deadline = Date.now() + ms;
  while (Date.now() < notBefore) await sleep(Math.min(50, notBefore - Date.now()));
  // A pass under way now may have read the state before: n + 1 completions cover n whole ones.
  const start = await healthSweeps(srv);
  for (;;) {
    if ((await healthSweeps(srv)) >= start + n + 1) return;
    if (Date.now() >= deadline) throw new Error(`the health sweeper made no ${n} passes within ${ms} ms`);
    await sleep(25);
  }
}

// Resolves to the promise's value, or to `fallback` after ms (the timer is cleared either way).
export function within(promise, ms, fallback = null) {
  let t;
  return Promise.race([
    promise,
    new Promise((r) => { t = setTimeout(() => r(fallback), ms); }),
  ]).finally(() => clearTimeout(t));
}

// Microseconds since the epoch as a BigInt, for exact ordering checks.
export function micros(ts) {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(ts);
  if (!m) throw new Error(`not an RFC 3339 Z timestamp: ${ts}`);
  const frac = (m[2] || '').padEnd(6, '0').slice(0, 6);
  return BigInt(Date.parse(m[1] + 'Z')) * 1000n + BigInt(frac);
}

// A fleet file. clusters: [{cluster_id, cluster_name?, instances: n | [{...}]}]
// With a number, instances are `${prefix}-${k}` each on its own host.
export function makeFleet(clusters, { timing = ZERO_TIMING, extraHosts = [] } = {}) {
  const hosts = [];
  const out = [];
  for (const c of clusters) {
    let instances = c.instances;
    if (typeof instances === 'number') {
      const prefix = c.prefix || c.cluster_id;
      instances = Array.from({ length: instances }, (_, k) => ({
        instance_id: `${prefix}-i${k}`,
        instance_name: `${prefix}-gpu-${k}`,
        num_gpus: 8,
        host: `${prefix}-h${k}`,
      }));
    }
    for (const inst of instances) {
      if (!hosts.some((h) => h.host_name === inst.host)) {
        hosts.push({ host_name: inst.host, gpu_slots: c.gpu_slots || 16 });
      }
    }
    out.push({ cluster_id: c.cluster_id, cluster_name: c.cluster_name || `${c.cluster_id}-name`, instances });
  }
  for (const h of extraHosts) hosts.push(h);
  return { clusters: out, hosts, timing };
}

function runCli(args, { timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(BIN, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\nstdout: ${stdout}\nstderr: ${stderr}`;
        reject(err);
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

export class Server {
  // opts: fleet (object) | demo (bool); enginePaused (default true); config (string YAML);
  // extraArgs (array); env (extra environment variables for serve); launcher (a command and its
  // arguments that exec the binary, given as "$0", e.g. to start it with other limits);
  // db (a database URL to use instead of a fresh one, e.g. shared by two servers); sqlite (true:
  // a SQLite file whatever the suite's backend, e.g. the source of `db copy`)
  constructor(opts = {}) {
    this.opts = { enginePaused: true, ...opts };
    this.dir = mkdtempSync(path.join(tmpdir(), 'noderepair-test-'));
    if (this.opts.db) {
      this.db = this.opts.db;
    } else if (TEST_PG && !this.opts.sqlite) {
      this.db = createPgDatabase(TEST_PG);
      this.ownsPgDatabase = true;
    } else {
      // Only on SQLite: the database file itself (runSql and copyDatabase work on both).
      this.dbPath = path.join(this.dir, 'test.db');
      this.db = `sqlite:${this.dbPath}`;
    }
    if (this.opts.fleet) {
      this.fleetPath = path.join(this.dir, 'fleet.json');
      writeFileSync(this.fleetPath, JSON.stringify(this.opts.fleet, null, 1));
    }
    if (this.opts.config !== undefined) {
      this.configPath = path.join(this.dir, 'config.yaml');
      writeFileSync(this.configPath, this.opts.config);
    }
    this.proc = null;
    this.port = 0;
    this.adminToken = null;
    this.starts = []; // {stdout, stderr, adminTokenPrinted}
    this.tokens = new Map();
  }

  get base() { return `${this.scheme || 'http'}://127.0.0.1:${this.port}`; }

  args(overrides = {}) {
    const o = { ...this.opts, ...overrides };
    const a = ['serve', '--listen', '127.0.0.1:0', '--db', this.db];
    if (o.demo) a.push('--demo');
    else if (this.fleetPath) a.push('--fleet', this.fleetPath);
    if (this.configPath) a.push('--config', this.configPath);
    if (o.enginePaused) a.push('--engine-paused');
    if (o.extraArgs) a.push(...o.extraArgs);
    return a;
  }

  // Starts the binary and waits (≤ 10 s) for "listening on". overrides: enginePaused, ...
  async start(overrides = {}) {
    if (this.proc) throw new Error('already running');
    if (!existsSync(BIN)) throw new Error(`binary not found: ${BIN} (set NODEREPAIR_BIN)`);
    const env = { ...process.env, ...(this.opts.env || {}) };
    const [command, ...prefix] = this.opts.launcher ? [...this.opts.launcher, BIN] : [BIN];
    const proc = spawn(command, [...prefix, ...this.args(overrides)], { cwd: this.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    this.proc = proc;
    const rec = { stdout: '', stderr: '', adminTokenPrinted: false };
    this.starts.push(rec);
    proc.exitPromise = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        live.delete(proc);
        resolve({ code, signal });
      });
    });
    proc.stderr.on('data', (d) => { rec.stderr += d; });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`server did not print "listening on" within 10 s\nstdout: ${rec.stdout}\nstderr: ${rec.stderr}`));
      }, 10000);
      proc.stdout.on('data', (d) => {
        rec.stdout += d;
        const tok = /noderepair: admin token: (\S+)/.exec(rec.stdout);
        if (tok) {
          rec.adminTokenPrinted = true;
          this.adminToken = tok[1];
        }
        const m = /noderepair: listening on (https?):\/\/127\.0\.0\.1:(\d+)/.exec(rec.stdout);
        if (m) {
          clearTimeout(timer);
          this.scheme = m[1];
          this.port = Number(m[2]);
          resolve();
        }
      });
      proc.exitPromise.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`server exited early (code ${code}, signal ${signal})\nstdout: ${rec.stdout}\nstderr: ${rec.stderr}`));
      });
    });
    proc.stdout.resume();
    return this;
  }

  // SIGTERM (default) or SIGKILL; resolves {code, signal}. Escalates to SIGKILL after timeoutMs.
  async stop({ signal = 'SIGTERM', timeoutMs = 15000 } = {}) {
    const proc = this.proc;
    if (!proc) return null;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitPromise;
    proc.kill(signal);
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => { proc.kill('SIGKILL'); resolve(null); }, timeoutMs);
    });
    const res = await Promise.race([proc.exitPromise, timeout]);
    clearTimeout(timer);
    if (res === null) {
      const r = await proc.exitPromise;
      return { ...r, timedOut: true };
    }
    return res;
  }

  kill9() {
    const proc = this.proc;
    this.proc = null;
    if (proc) proc.kill('SIGKILL');
    return proc ? proc.exitPromise : Promise.resolve(null);
  }

  async restart(overrides = {}) {
    await this.stop();
    return this.start(overrides);
  }

  // Runs `noderepair token create`; returns the token (cached by name).
  async token(name, role, clusters = []) {
    const key = `${name}/${role}/${clusters.join(',')}`;
    if (this.tokens.has(key)) return this.tokens.get(key);
    const args = ['token', 'create', '--db', this.db, '--name', name, '--role', role];
    for (const c of clusters) args.push('--cluster', c);
    const { stdout } = await runCli(args);
    const tok = stdout.trim();
    if (!tok || /\s/.test(tok)) throw new Error(`token create printed more than a token: ${JSON.stringify(stdout)}`);
    this.tokens.set(key, tok);
    return tok;
  }

  // api(method, path, {token, body, rawBody, headers, query})
  // token: undefined → admin token; null → no Authorization header.
  async api(method, p, { token, body, rawBody, headers = {}, query, timeoutMs = 30000 } = {}) {
    const h = { ...headers };
    const tok = token === undefined ? this.adminToken : token;
    if (tok !== null && tok !== undefined && !('authorization' in h) && !('Authorization' in h)) {
      h.authorization = `Bearer ${tok}`;
    }
    let payload;
    if (rawBody !== undefined) payload = rawBody;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
    }
    if (payload !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['content-type'] = 'application/json';
    }
    let url = this.base + p;
    if (query) {
      const qs = query instanceof URLSearchParams ? query : new URLSearchParams(query);
      const s = qs.toString();
      if (s) url += (p.includes('?') ? '&' : '?') + s;
    }
    const res = await fetch(url, { method, headers: h, body: payload, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    return { status: res.status, headers: res.headers, json, text };
  }

  async close() {
    try {
      await this.stop({ signal: 'SIGKILL', timeoutMs: 5000 });
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
      if (this.ownsPgDatabase) await dropPgDatabase(this.db);
    }
  }
}

// Convenience: new Server(opts).start()
export async function startServer(opts) {
  const s = new Server(opts);
  try {
    await s.start();
  } catch (e) {
    await s.close();
    throw e;
  }
  return s;
}

// libfaketime (Debian package libfaketime), to freeze the server's wall clock so that
// timestamps tie. Tests that need it skip when it is not installed.
export const FAKETIME_LIB = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1'].find((p) => existsSync(p));
export const frozenClockEnv = (at = '2030-01-01 00:00:00') => ({
  LD_PRELOAD: FAKETIME_LIB, FAKETIME: at, FAKETIME_DONT_FAKE_MONOTONIC: '1',
});

// Path helpers (docs/http-api.md 4).
export const rPath = (c, i, id, verb) => {
  let p = `/v1/compute/clusters/${encodeURIComponent(c)}/instances/${encodeURIComponent(i)}/remediations`;
  if (id !== undefined) p += `/${encodeURIComponent(id)}`;
  if (verb) p += `/${verb}`;
  return p;
};

// Creates a remediation; asserts nothing. Returns the api() result.
export function create(srv, c, i, { mode = 'REMEDIATION_MODE_VM_ONLY', reason, token, remediationId, body } = {}) {
  const b = body ?? { mode, ...(reason !== undefined ? { reason } : {}) };
  const q = remediationId !== undefined ? `?remediation_id=${encodeURIComponent(remediationId)}` : '';
  return srv.api('POST', rPath(c, i) + q, { token, body: b });
}

// A create sent to `port` itself (not srv.port, which a restart changes), for tests that kill the
// server while it is in flight: resolves {status, json}, status 0 when no answer came.
export async function createOnPort(port, token, c, i, remediationId, body) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${rPath(c, i)}?remediation_id=${encodeURIComponent(remediationId)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: res.status === 200 ? JSON.parse(text) : null };
  } catch {
    return { status: 0, json: null };
  }
}

// Walks every page of a list; returns the concatenated remediations and the pages.
export async function listAll(srv, c, i, params = {}, { token, pageSize = 100 } = {}) {
  const all = [];
  const pages = [];
  let tokenStr = '';
  for (let n = 0; n < 100000; n++) {
    const q = new URLSearchParams(params);
    q.set('page_size', String(pageSize));
    if (tokenStr) q.set('page_token', tokenStr);
    const r = await srv.api('GET', rPath(c, i), { token, query: q });
    if (r.status !== 200) throw new Error(`list page ${n} failed: ${r.status} ${r.text}`);
    pages.push(r.json);
    all.push(...r.json.remediations);
    if (!r.json.has_next) break;
    tokenStr = r.json.next_page_token;
  }
  return { all, pages };
}

// Runs fn over items with at most `limit` in flight.
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const k = next++;
      results[k] = await fn(items[k], k);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// Asserts the google.rpc.Status shape and the HTTP/code pair (docs/http-api.md 3).
export function expectStatus(assert, res, httpStatus, code, what = '') {
  const ctx = `${what} → ${res.status} ${res.text.slice(0, 300)}`;
  assert.equal(res.status, httpStatus, `HTTP status ${ctx}`);
  assert.ok(res.json && typeof res.json === 'object', `JSON error body ${ctx}`);
  assert.equal(res.json.code, code, `google.rpc code ${ctx}`);
  assert.equal(typeof res.json.message, 'string', `message is a string ${ctx}`);
  assert.ok(res.json.message.length > 0, `message non-empty ${ctx}`);
  assert.deepEqual(res.json.details, [], `details is [] ${ctx}`);
  if (httpStatus >= 400 && httpStatus < 500 && httpStatus !== 429 && httpStatus !== 413 && httpStatus !== 408) {
    assert.equal(res.headers.get('x-should-retry'), 'false', `x-should-retry: false ${ctx}`);
  }
  if (httpStatus === 501) {
    assert.equal(res.headers.get('x-should-retry'), 'false', `x-should-retry: false ${ctx}`);
  }
}

// Recursively checks that no field is null or "" (docs/http-api.md 2: unset fields are omitted).
export function findNullOrEmpty(obj, prefix = '') {
  const bad = [];
  if (obj === null) return [prefix || '(root)'];
  if (Array.isArray(obj)) {
    obj.forEach((v, k) => bad.push(...findNullOrEmpty(v, `${prefix}[${k}]`)));
  } else if (typeof obj === 'object') {
    for (const [k, v] of Object.entries(obj)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (v === null || v === '') bad.push(p);
      else if (typeof v === 'object') bad.push(...findNullOrEmpty(v, p));
    }
  }
  return bad;
}

// An Alertmanager v4 webhook payload with one firing alert (docs/http-api.md 5).
export function alertPayload({ alertname = 'GpuEccDoubleBitError', instanceId, status = 'firing', fingerprint, labels = {}, annotations = {} }) {
  const now = new Date().toISOString();
  return {
    version: '4',
    groupKey: `{}:{alertname="${alertname}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'noderepair',
    groupLabels: { alertname },
    commonLabels: { alertname },
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts: [{
      status,
      labels: { alertname, instance_id: instanceId, ...labels },
      annotations: { summary: `${alertname} on ${instanceId}`, description: 'test alert', ...annotations },
      startsAt: now,
      endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : now,
      generatorURL: 'http://127.0.0.1:9090/graph',
      fingerprint: fingerprint || `fp-${instanceId}-${alertname}-${Math.random().toString(16).slice(2)}`,
    }],
  };
}

// Tries to get an automated PENDING_APPROVAL remediation through the Alertmanager
// webhook (the only way docs/http-api.md offers). Returns the remediation or null when the
// server cannot do it yet (the caller skips).
export async function makePendingApproval(srv, clusterId, instanceId, { alertname = 'GpuEccDoubleBitError' } = {}) {
  let r;
  try {
    r = await srv.api('POST', '/v1/integrations/alertmanager', { body: alertPayload({ alertname, instanceId }) });
  } catch {
    return null;
  }
  if (r.status !== 200) return null;
  for (let k = 0; k < 20; k++) {
    const l = await srv.api('GET', rPath(clusterId, instanceId), { query: { state: 'PENDING_APPROVAL' } });
    if (l.status === 200 && l.json.remediations.length > 0) return l.json.remediations[0];
    await sleep(100);
  }
  return null;
}

// ---------------------------------------------------------------------------
// Raw HTTP/1.1 over node:net, for pipelining, keep-alive and slow clients.

// Parses as many complete HTTP/1.1 responses as the buffer holds.
// Returns {responses: [{status, headers, body}], rest: Buffer}.
export function parseResponses(buf) {
  const responses = [];
  let off = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', off);
    if (headEnd < 0) break;
    const head = buf.subarray(off, headEnd).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
    if (!m) throw new Error(`bad status line: ${head[0]}`);
    const headers = {};
    for (const line of head.slice(1)) {
      const c = line.indexOf(':');
      headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    let p = headEnd + 4;
    let body;
    if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      const parts = [];
      let done = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) break;
        const size = parseInt(buf.subarray(p, le).toString('latin1'), 16);
        if (size === 0) {
          // Trailer section: header lines until an empty line.
          let q = le + 2;
          for (;;) {
            const e = buf.indexOf('\r\n', q);
            if (e < 0) break;
            if (e === q) { p = e + 2; done = true; break; }
            q = e + 2;
          }
          break;
        }
        if (buf.length < le + 2 + size + 2) break;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      if (!done) break;
      body = Buffer.concat(parts);
    } else {
      const len = Number(headers['content-length'] || 0);
      if (buf.length < p + len) break;
      body = buf.subarray(p, p + len);
      p += len;
    }
    responses.push({ status: Number(m[1]), headers, body: body.toString('utf8') });
    off = p;
  }
  return { responses, rest: buf.subarray(off) };
}

// A raw connection that collects responses. conn.next(n) waits for n responses in total.
export function rawConnect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const conn = {
      sock,
      responses: [],
      closed: false,
      closedAt: null,
      waiters: [],
      write(data) { sock.write(data); },
      next(n, timeoutMs = 10000) {
        return new Promise((res, rej) => {
          const check = () => {
            if (conn.responses.length >= n) { clearTimeout(t); res(conn.responses.slice(0, n)); return true; }
            if (conn.closed) { clearTimeout(t); rej(new Error(`connection closed after ${conn.responses.length} responses`)); return true; }
            return false;
          };
          const t = setTimeout(() => rej(new Error(`timeout waiting for ${n} responses (got ${conn.responses.length})`)), timeoutMs);
          if (!check()) conn.waiters.push(check);
        });
      },
      whenClosed: null,
      destroy() { sock.destroy(); },
    };
    conn.whenClosed = new Promise((res) => {
      sock.on('close', () => { conn.closed = true; conn.closedAt = Date.now(); conn.waiters = conn.waiters.filter((w) => !w()); res(); });
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      try {
        const { responses, rest } = parseResponses(buf);
        conn.responses.push(...responses);
        buf = rest;
      } catch (e) {
        sock.destroy(e);
      }
      conn.waiters = conn.waiters.filter((w) => !w());
    });
    let connected = false;
    sock.on('error', (e) => { if (!connected) reject(e); /* else: close follows */ });
    sock.once('connect', () => { connected = true; resolve(conn); });
  });
}

export function rawRequest({ method = 'GET', path: p, token, body, headers = {}, close = false }) {
  const lines = [`${method} ${p} HTTP/1.1`, 'Host: 127.0.0.1'];
  if (token) lines.push(`Authorization: Bearer ${token}`);
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  let b = '';
  if (body !== undefined) {
    b = typeof body === 'string' ? body : JSON.stringify(body);
    lines.push('Content-Type: application/json');
    lines.push(`Content-Length: ${Buffer.byteLength(b)}`);
  }
  if (close) lines.push('Connection: close');
  return lines.join('\r\n') + '\r\n\r\n' + b;
}
