// The cost of the change stream (docs/design.md 12) on create throughput: durable creates at 16
// clients through one server with a watch stream open, the binary before the change stream
// (BEFORE, default /tmp/outbox-before) and after it (AFTER, default build/noderepair),
// alternated ROUNDS times in one run so a shared machine's noise hits both alike. PostgreSQL
// (a private server from tools/private-postgres.sh) by default; WATCH_BENCH_DB=sqlite for SQLite.
// Usage: node bench/watch_stream.mjs   (WATCH_BENCH_CREATES=3000 WATCH_BENCH_ROUNDS=3)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, Server, makeFleet, create, createPgDatabase } from '../tests/lib/server.mjs';
import { EventStream } from '../tests/lib/sse.mjs';

const CREATES = Number(process.env.WATCH_BENCH_CREATES || 3000);
const ROUNDS = Number(process.env.WATCH_BENCH_ROUNDS || 3);
const BACKEND = process.env.WATCH_BENCH_DB || 'postgres';
const BINS = {
  before: process.env.BEFORE || '/tmp/outbox-before',
  after: process.env.AFTER || path.join(REPO, 'build', 'noderepair'),
};
const dir = mkdtempSync(path.join(tmpdir(), 'noderepair-watch-bench-'));
const log = (...a) => console.error(`[watch-bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

function pg(verb) {
  return execFileSync(path.join(REPO, 'tools', 'private-postgres.sh'), [verb, path.join(dir, 'pg')], { encoding: 'utf8' }).trim();
}

// Creates/s through one server of `bin`, with one watch stream of the cluster open and read.
async function creates(bin, base) {
  const fleet = makeFleet([{ cluster_id: 'w', instances: CREATES, gpu_slots: 16 }]);
  const db = BACKEND === 'postgres' ? createPgDatabase(base) : undefined;
  const srv = new Server({ fleet, db, sqlite: BACKEND !== 'postgres', enginePaused: true, launcher: ['sh', '-c', `exec ${bin} "$@"`] });
  await srv.start();
  const watch = await EventStream.open(srv, '/v1/compute/clusters/w/instances/-/remediations:watch');
  let k = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (k < CREATES) {
      const i = k++;
      const r = await create(srv, 'w', `w-i${i}`);
      if (r.status !== 200) throw new Error(`create ${r.status} ${r.text}`);
    }
  }));
  const rate = CREATES / ((Date.now() - t0) / 1000);
  // Every create reached the stream (the change stream is complete, not just cheap).
  const last = Date.now();
  while (watch.events.filter((e) => e.event === 'remediation').length < CREATES && Date.now() - last < 10000) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const streamed = watch.events.filter((e) => e.event === 'remediation').length;
  watch.close();
  await srv.close();
  return { rate, streamed };
}

try {
  for (const [name, bin] of Object.entries(BINS)) if (!existsSync(bin)) throw new Error(`${name} binary ${bin} not found`);
  const base = BACKEND === 'postgres' ? pg('start') : null;
  log(`backend ${BACKEND}, ${CREATES} creates a run, ${ROUNDS} rounds, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const rates = { before: [], after: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? ['after', 'before'] : ['before', 'after']) {
      const { rate, streamed } = await creates(BINS[name], base);
      rates[name].push(rate);
      log(`round ${round + 1} ${name}: ${rate.toFixed(0)} creates/s, ${streamed}/${CREATES} streamed, load ${loadavg()[0].toFixed(2)}`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const b = median(rates.before);
  const a = median(rates.after);
  log(`median creates/s: before ${b.toFixed(0)}, after ${a.toFixed(0)}: after/before ${(a / b).toFixed(3)} (cost ${((1 - a / b) * 100).toFixed(1)} %)`);
} finally {
  if (BACKEND === 'postgres') { try { pg('stop'); } catch { /* not started */ } }
  rmSync(dir, { recursive: true, force: true });
}
