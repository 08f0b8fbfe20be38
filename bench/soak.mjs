// Soak (issue 13): three replicas on one private PostgreSQL database under a steady mix of
// manual creates (VM_ONLY, run by the engines to the end), Alertmanager alerts (firing, then
// resolved) and the automated remediations they make, with a watch stream open on each replica.
// Every SOAK_REPORT_S it prints one line: claim latency (create → picked up by the engine, from
// each remediation's start_time − create_time) p50/p99 of the window, each replica's RSS, the
// dead and live tuples of the hot tables, and the rates achieved. At the end: claim p99 of the
// first window vs the last, RSS first vs last, the largest dead-tuple counts, and the
// autovacuum settings recommended.
// Usage: node bench/soak.mjs   (SOAK_S=3600 SOAK_REPORT_S=60 SOAK_CREATES_PER_S=5
//        SOAK_ALERTS_PER_S=2; NODEREPAIR_BIN=… for another binary)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, Server, makeFleet, create, createPgDatabase, runSql, sleep } from '../tests/lib/server.mjs';
import { EventStream } from '../tests/lib/sse.mjs';

const SOAK_S = Number(process.env.SOAK_S || 3600);
const REPORT_S = Number(process.env.SOAK_REPORT_S || 60);
const CREATES_PER_S = Number(process.env.SOAK_CREATES_PER_S || 5);
const ALERTS_PER_S = Number(process.env.SOAK_ALERTS_PER_S || 2);
const MANUAL_INSTANCES = 400;
const ALERT_INSTANCES = 200;
const HOT_TABLES = ['remediations', 'remediation_events', 'engine_jobs', 'audit_head', 'audit_records',
  'remediation_changes', 'alerts', 'instances', 'hosts', 'reservations', 'replicas', 'replica_leader',
  'remediation_counts', 'remediation_count_deltas', 'sim_operations', 'sim_vms', 'signal_occurrences'];
const WEBHOOK = '/v1/integrations/alertmanager';

const dir = mkdtempSync(path.join(tmpdir(), 'noderepair-soak-'));
const log = (...a) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}]`, ...a);
const pg = (verb) => execFileSync(path.join(REPO, 'tools', 'private-postgres.sh'), [verb, path.join(dir, 'pg')], { encoding: 'utf8' }).trim();

function rssMiB(srv) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch { return NaN; }
}

async function deadTuples(db) {
  const r = await runSql(db, `SELECT relname, n_dead_tup, n_live_tup, autovacuum_count FROM pg_stat_user_tables WHERE relname IN (${HOT_TABLES.map((t) => `'${t}'`).join(',')}) ORDER BY relname`);
  const out = {};
  for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
    const [name, dead, live, vacuums] = line.split('|');
    out[name] = { dead: Number(dead), live: Number(live), vacuums: Number(vacuums) };
  }
  return out;
}

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const micros = (t) => Date.parse(t) * 1000 + Number((/\.\d{3}(\d{0,3})/.exec(t) || [, ''])[1].padEnd(3, '0'));

const servers = [];
try {
  const base = pg('start');
  const db = createPgDatabase(base);
  const timing = { cordon: 50, drain: 50, delete_vm: 50, provision_vm: 100, boot: 100, reboot: 50, power_cycle: 100 };
  const fleet = makeFleet([
    { cluster_id: 'm', instances: MANUAL_INSTANCES, gpu_slots: 16 },
    { cluster_id: 'al', instances: ALERT_INSTANCES, gpu_slots: 16 },
  ], { timing });
  const config = 'engine:\n  lease_s: 15\nautomation:\n  cooldown_s: 0\n  max_active_fraction: 0.5\n';
  for (const id of ['A', 'B', 'C']) {
    const s = new Server({ fleet, db, enginePaused: false, config, extraArgs: ['--replica-id', id] });
    servers.push(s);
    await s.start();
  }
  const admin = servers.find((s) => s.adminToken).adminToken;
  for (const s of servers) s.adminToken = admin;
  const op = await servers[0].token('soak-op', 'operator');
  const streams = [];
  for (const s of servers) streams.push(await EventStream.open(s, '/v1/compute/clusters/m/instances/-/remediations:watch'));
  log(`three replicas on ${db}; ${SOAK_S} s, ${CREATES_PER_S} creates/s, ${ALERTS_PER_S} alerts/s, report every ${REPORT_S} s`);

  const t0 = Date.now();
  const end = t0 + SOAK_S * 1000;
  let created = 0; let refused = 0; let alertsSent = 0; let errors = 0; let resumed = 0;
  const toCheck = []; // {id, c, i, at}
  const windows = []; // {claims:[], rss:[], dead:{}}
  let claims = [];

  // Manual creates, round-robin over the replicas and the instances.
  const creator = (async () => {
    let k = 0;
    while (Date.now() < end) {
      const next = t0 + ((k + 1) * 1000) / CREATES_PER_S;
      const i = k % MANUAL_INSTANCES;
      const srv = servers[k % 3];
      k += 1;
      const r = await create(srv, 'm', `m-i${i}`, { mode: 'REMEDIATION_MODE_VM_ONLY', token: op }).catch(() => ({ status: 0 }));
      if (r.status === 200) { created += 1; toCheck.push({ id: r.json.id, i, at: Date.now() }); } else if (r.status === 409) refused += 1; else errors += 1;
      await sleep(Math.max(0, next - Date.now()));
    }
  })();

  // Alerts: each instance of `al` fires, then resolves 10 s later.
  const alerter = (async () => {
    let k = 0;
    const firing = [];
    const hook = (alerts) => ({ receiver: 'noderepair', status: 'firing', alerts, groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://127.0.0.1:9093', version: '4', groupKey: '{}:{}', truncatedAlerts: 0 });
    const alert = (i, status, startsAt) => ({ status, labels: { alertname: 'GpuEccDoubleBitError', instance_id: `al-i${i}` }, annotations: {}, startsAt, endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z', generatorURL: 'http://127.0.0.1:9090/graph', fingerprint: `soak-${i}-${startsAt}` });
    while (Date.now() < end) {
      const next = t0 + ((k + 1) * 1000) / ALERTS_PER_S;
      const i = k % ALERT_INSTANCES;
      const srv = servers[k % 3];
      k += 1;
      const startsAt = new Date().toISOString();
      const r = await srv.api('POST', WEBHOOK, { token: op, body: hook([alert(i, 'firing', startsAt)]) }).catch(() => ({ status: 0 }));
      if (r.status === 200) alertsSent += 1; else errors += 1;
      firing.push({ i, startsAt, at: Date.now() });
      while (firing.length && Date.now() - firing[0].at > 10000) {
        const f = firing.shift();
        await servers[(k + 1) % 3].api('POST', WEBHOOK, { token: op, body: hook([alert(f.i, 'resolved', f.startsAt)]) }).catch(() => {});
      }
      await sleep(Math.max(0, next - Date.now()));
    }
  })();

  // Claim latency of each manual create, read once it has surely been picked up.
  const checker = (async () => {
    while (Date.now() < end || toCheck.length) {
      while (toCheck.length && Date.now() - toCheck[0].at > 3000) {
        const c = toCheck.shift();
        const g = await servers[1].api('GET', `/v1/compute/clusters/m/instances/m-i${c.i}/remediations/${c.id}`).catch(() => null);
        if (g?.status === 200 && g.json.start_time) claims.push((micros(g.json.start_time) - micros(g.json.create_time)) / 1000);
      }
      if (Date.now() >= end && !toCheck.length) break;
      await sleep(200);
    }
  })();

  const reporter = (async () => {
    while (Date.now() < end) {
      await sleep(Math.min(REPORT_S * 1000, Math.max(0, end - Date.now())));
      const w = { claims, rss: servers.map(rssMiB), dead: await deadTuples(db), at: (Date.now() - t0) / 1000 };
      claims = [];
      windows.push(w);
      const hot = Object.entries(w.dead).filter(([, v]) => v.dead > 0).sort((a, b) => b[1].dead - a[1].dead).slice(0, 6)
        .map(([n, v]) => `${n}=${v.dead}/${v.live}`).join(' ');
      // A stream the server dropped (its client fell 8 MiB behind) resumes where it was.
      for (let k = 0; k < streams.length; k++) {
        if (!streams[k].closed) continue;
        const last = [...streams[k].events].reverse().find((e) => e.id);
        const again = await EventStream.open(servers[k], '/v1/compute/clusters/m/instances/-/remediations:watch', { lastEventId: last?.id });
        again.events.unshift(...streams[k].events.filter((e) => e.event === 'remediation'));
        streams[k] = again;
        resumed += 1;
      }
      const lagging = streams.map((s) => s.events.filter((e) => e.event === 'remediation').length);
      log(`t=${w.at.toFixed(0)}s claim ms p50 ${pct(w.claims, 50).toFixed(1)} p99 ${pct(w.claims, 99).toFixed(1)} (n ${w.claims.length}) | RSS MiB ${w.rss.map((x) => x.toFixed(0)).join('/')} | dead/live ${hot} | created ${created} refused ${refused} alerts ${alertsSent} errors ${errors} | streamed ${lagging.join('/')} (resumed ${resumed}) | load ${loadavg()[0].toFixed(2)}`);
    }
  })();

  await Promise.all([creator, alerter, checker, reporter]);
  const first = windows[0];
  const last = windows[windows.length - 1];
  const p99 = (w) => pct(w.claims, 99);
  log('SUMMARY');
  log(`claim p99: first window ${p99(first).toFixed(1)} ms, last ${p99(last).toFixed(1)} ms: ${(p99(last) / p99(first)).toFixed(2)}× (target ≤ 2×)`);
  log(`RSS MiB first → last: ${first.rss.map((x, k) => `${'ABC'[k]} ${x.toFixed(0)} → ${last.rss[k].toFixed(0)}`).join(', ')}`);
  const maxDead = {};
  for (const w of windows) for (const [n, v] of Object.entries(w.dead)) maxDead[n] = Math.max(maxDead[n] || 0, v.dead);
  log(`largest dead tuples seen: ${Object.entries(maxDead).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([n, d]) => `${n} ${d}`).join(', ')}`);
  log(`created ${created}, refused (instance busy) ${refused}, alerts ${alertsSent}, errors ${errors}; every replica's stream carried ${streams.map((s) => s.events.filter((e) => e.event === 'remediation').length).join('/')} changes`);
  log('recommended autovacuum: the hot single-row tables (audit_head, replica_leader, remediation_counts) and the queues (engine_jobs, remediation_changes, remediation_count_deltas) churn every second: ALTER TABLE … SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0) on them; server-wide autovacuum_naptime = 10s and autovacuum_vacuum_cost_limit = 2000, so each is vacuumed within seconds of 1,000 dead rows instead of after 20 % of the table');
  for (const s of streams) s.close();
} finally {
  for (const s of servers) await s.close().catch(() => {});
  try { pg('stop'); } catch { /* not started */ }
  rmSync(dir, { recursive: true, force: true });
}
