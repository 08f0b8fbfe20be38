// Statements per engine claim (issue 13): N claims of a claim-only fleet (every step waits ten
// minutes) on a private PostgreSQL (tools/private-postgres.sh) with log_statement = all around
// them; prints each statement's count from the server's log, most frequent first.
// Usage: NODEREPAIR_BIN=build/noderepair N=100 node bench/claim_statements.mjs
// PERF_OUT=FILE: also `perf record -a -g` the whole machine while the claims run (with
// STATEMENTS=0 no statement is logged, so the profile is of the claims alone); then
// `perf report -i FILE --sort comm,dso`. WITH_WORK=1: zero-latency workflows instead.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, Server, makeFleet, create, createPgDatabase } from '../tests/lib/server.mjs';

const N = Number(process.env.N || 100);
const dir = mkdtempSync(path.join(tmpdir(), 'noderepair-claim-statements-'));
const pg = (verb) => execFileSync(path.join(REPO, 'tools', 'private-postgres.sh'), [verb, path.join(dir, 'pg')], { encoding: 'utf8' }).trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const base = pg('start');
try {
  const serverLog = path.join(readFileSync(path.join(dir, 'pg', 'datadir'), 'utf8').trim(), 'server.log');
  const db = createPgDatabase(base);
  const SLOW = { cordon: 600000, drain: 600000, delete_vm: 600000, provision_vm: 600000, boot: 600000, reboot: 600000, power_cycle: 600000 };
  const fleet = makeFleet([{ cluster_id: 'c', instances: N, gpu_slots: 16 }], process.env.WITH_WORK === '1' ? {} : { timing: SLOW });
  const a = new Server({ fleet, db, enginePaused: true, config: `engine:\n  max_parallel: ${Math.max(1000, N)}\n`, extraArgs: ['--replica-id', 'A'] });
  await a.start();
  for (let i = 0; i < N; i++) {
    const r = await create(a, 'c', `c-i${i}`);
    if (r.status !== 200) throw new Error(`create ${r.status} ${r.text}`);
  }
  const psql = (sql) => execFileSync('psql', ['-X', '-q', '-d', base, '-c', sql]);
  const statements = process.env.STATEMENTS !== '0';
  if (statements) {
    psql("ALTER SYSTEM SET log_statement = 'all'");
    psql('SELECT pg_reload_conf()');
  }
  await sleep(500);
  const from = readFileSync(serverLog, 'utf8').length;
  let perf;
  if (process.env.PERF_OUT) {
    perf = spawn('perf', ['record', '-a', '-g', '-F', '999', '-o', process.env.PERF_OUT], { stdio: 'ignore' });
    await sleep(500);
  }
  const t0 = Date.now();
  await a.api('POST', '/v1/engine:resume');
  for (;;) {
    const r = await a.api('GET', '/metrics', { token: null });
    const m = /^noderepair_engine_queue_depth (\S+)$/m.exec(r.text);
    if (m && Number(m[1]) === 0) break;
    await sleep(50);
  }
  console.log(`${N} claims in ${Date.now() - t0} ms (from the resume until nothing is PENDING)`);
  await sleep(300); // the claimed calls' first commits
  if (perf) {
    perf.kill('SIGINT');
    await new Promise((r) => perf.on('exit', r));
  }
  if (statements) {
    psql("ALTER SYSTEM SET log_statement = 'none'");
    psql('SELECT pg_reload_conf()');
  }
  await a.close();
  const counts = new Map();
  for (const line of readFileSync(serverLog, 'utf8').slice(from).split('\n')) {
    const m = /(?:execute [^:]*|statement): (.{0,100})/.exec(line);
    if (!m) continue;
    const key = m[1].replace(/\$\d+/g, '$');
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  console.log(`${N} claims:`);
  for (const [k, v] of [...counts].sort((x, y) => y[1] - x[1])) console.log(String(v).padStart(6), k);
} finally {
  pg('stop');
  rmSync(dir, { recursive: true, force: true });
}
