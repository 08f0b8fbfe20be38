// Overload (docs/http-api.md 10): 2,000 concurrent connections sending creates against small
// bounds. Memory stays bounded, /healthz answers throughout, the requests past a bound get 503
// with Retry-After, every acknowledged create is stored, and the server serves normally at once
// when the flood stops.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, makeFleet, rPath, create, pool } from './lib/server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CONNECTIONS = 2000;
const CID = 'flood';

let srv;
before(async () => {
  srv = await startServer({
    fleet: makeFleet([{ cluster_id: CID, instances: CONNECTIONS + 10, prefix: 'f' }]),
    config: [
      'server: {max_connections: 1500, max_queued_requests: 32, worker_threads: 2}',
      'storage: {max_queued_writes: 32}',
      'log: {requests: false}',
      '',
    ].join('\n'),
  });
});
after(async () => { if (srv) await srv.close(); });

// GET /healthz on a connection of its own (a monitor's probe); resolves the status.
function probeHealth(port, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)[1]);
  return { rssKb: kb('VmRSS'), peakKb: kb('VmHWM') };
}

// The flood runs in a child whose open-files limit is raised to the hard limit first.
function runFlood(token) {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec node lib/flood.mjs'], {
      cwd: HERE,
      env: {
        ...process.env,
        FLOOD_PORT: String(srv.port),
        FLOOD_TOKEN: token,
        FLOOD_CLUSTER: CID,
        FLOOD_PREFIX: 'f-i',
        FLOOD_CONNECTIONS: String(CONNECTIONS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`flood exited ${code}\n${err}`));
      resolve(JSON.parse(out));
    });
  });
}

test('the server raises its open-files limit to the hard limit', async () => {
  // Started with a soft limit of 1024, as many systems give a login shell.
  const low = await startServer({
    fleet: makeFleet([{ cluster_id: 'low', instances: 1 }]),
    launcher: ['sh', '-c', 'ulimit -Sn 1024 && exec "$0" "$@"'],
  });
  try {
    const limits = readFileSync(`/proc/${low.proc.pid}/limits`, 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
    assert.ok(m, limits);
    assert.notEqual(m[1], '1024', `the soft limit was raised\n${limits}`);
    assert.equal(m[1], m[2], `the soft limit equals the hard limit\n${limits}`);
  } finally {
    await low.close();
  }
});

test('a flood of 2,000 connections: bounded memory, /healthz throughout, 503 with Retry-After, no lost create, quick recovery', async (t) => {
  const pid = srv.proc.pid;
  const operator = await srv.token('flooder', 'operator');
  let flooding = true;
  let peakRssKb = 0;
  const healthLatencies = [];
  const healthFailures = [];
  // Memory and liveness are sampled while the flood runs, each with a fresh connection.
  const watcher = (async () => {
    while (flooding) {
      peakRssKb = Math.max(peakRssKb, procStatus(pid).rssKb);
      const began = performance.now();
      try {
        const status = await probeHealth(srv.port, 2000);
        if (status !== 200) healthFailures.push(`status ${status}`);
      } catch (e) {
        healthFailures.push(String(e.code || e.message));
      }
      healthLatencies.push(performance.now() - began);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const flood = await runFlood(operator);
  flooding = false;
  await watcher;

  const { peakKb } = procStatus(pid);
  const sorted = [...healthLatencies].sort((a, b) => a - b);
  const p = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const numbers = {
    connections: flood.connections,
    connected: flood.connected,
    flood_ms: flood.total_ms,
    statuses: flood.statuses,
    errors: flood.errors,
    unavailable_bodies: flood.unavailable_bodies,
    rss_peak_mb: Math.round(Math.max(peakKb, peakRssKb) / 1024),
    healthz_polls: healthLatencies.length,
    healthz_failures: healthFailures.length,
    healthz_p50_ms: Number(p(0.5).toFixed(1)),
    healthz_p99_ms: Number(p(0.99).toFixed(1)),
    healthz_max_ms: Number(sorted.at(-1).toFixed(1)),
  };
  t.diagnostic(`flood: ${JSON.stringify(numbers)}`);

  assert.equal(flood.connected, CONNECTIONS, `every connection is accepted: ${JSON.stringify(numbers)}`);
  assert.ok(Math.max(peakKb, peakRssKb) < 500 * 1024, `resident memory stays under 500 MB: ${JSON.stringify(numbers)}`);
  assert.ok(healthLatencies.length >= 3, `/healthz was polled during the flood: ${JSON.stringify(numbers)}`);
  assert.deepEqual(healthFailures, [], `/healthz answered every poll: ${JSON.stringify(numbers)}`);
  assert.ok((flood.statuses[503] || 0) > 0, `some requests get 503 past the bounds: ${JSON.stringify(numbers)}`);
  assert.equal(flood.unavailable_without_retry_after, 0, 'every 503 says Retry-After: 1');
  assert.ok(!('(not JSON)' in flood.unavailable_bodies), `every 503 has the API's JSON error body: ${JSON.stringify(numbers)}`);
  assert.ok((flood.statuses[200] || 0) > 0, `some creates are acknowledged: ${JSON.stringify(numbers)}`);
  const answered = Object.values(flood.statuses).reduce((a, b) => a + b, 0);
  assert.equal(answered, CONNECTIONS, `every request is answered: ${JSON.stringify(numbers)}`);
  for (const status of Object.keys(flood.statuses)) {
    assert.ok(status === '200' || status === '503', `only 200 and 503: ${JSON.stringify(numbers)}`);
  }

  // The server serves normally as soon as the flood has stopped: no wait, no retry.
  const after = await create(srv, CID, `f-i${CONNECTIONS + 1}`, { token: operator });
  assert.equal(after.status, 200, after.text);

  // Every acknowledged create is stored.
  const missing = [];
  await pool(flood.created, 8, async (r) => {
    const got = await srv.api('GET', rPath(CID, r.instance_id, r.id));
    if (got.status !== 200) missing.push(`${r.id}: ${got.status}`);
  });
  assert.deepEqual(missing, [], 'every acknowledged create is in the database');
});
