// docs/http-api.md 8 against the real daemons: a Slurm cluster (slurmctld, one slurmd per node,
// munged) and ipmi_sim BMCs, all on 127.0.0.1, started by each test in its own folder on free
// ports (lib/lab.mjs) and stopped at its end. Drain, power cycle through the BMC and resume;
// Slurm's own faults as SlurmNodeUnavailable; an operator's drain kept; a wrong BMC password
// and a BMC that does not answer; a controller that stops mid-drain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { counter, create, rPath, within } from './lib/server.mjs';
import { POWER_CYCLE, REBOOT, engineServer, getEvents, fmtEvents, waitFor, waitState, getHosts, byHost } from './lib/engine.mjs';
import { Lab, haveLab } from './lib/lab.mjs';

const skip = haveLab ? false : 'needs slurm-wlm, munge and openipmi (make build installs them)';

const NODES = ['node01', 'node02', 'node03', 'node04'];

// One cluster "c1" whose instances are the Slurm nodes, each on its own host h01..h04.
function fleetFor(lab, bmcs = {}) {
  return {
    hosts: NODES.map((n, k) => ({ host_name: `h0${k + 1}`, gpu_slots: 8, ...(bmcs[`h0${k + 1}`] ? { bmc: bmcs[`h0${k + 1}`] } : {}) })),
    clusters: [{
      cluster_id: 'c1',
      workload: { manager: 'slurm', slurm_conf: lab.slurmConf },
      instances: NODES.map((n, k) => ({ instance_id: `i-${n}`, instance_name: n, num_gpus: 2, host: `h0${k + 1}` })),
    }],
    timing: { cordon: 0, drain: 0, delete_vm: 0, provision_vm: 0, boot: 0, reboot: 0, power_cycle: 0 },
  };
}

function configFor({ stepTimeout = 60, powerTimeout = 2, rules = {} } = {}) {
  const lines = [
    'power:', '  driver: ipmi', `  timeout_s: ${powerTimeout}`, '  poll_s: 1', '  boot_timeout_s: 60',
    'workload:', '  manager: slurm', '  poll_s: 1', '  drain_timeout_s: 60',
    'engine:', `  step_timeout_s: ${stepTimeout}`,
    'automation:', '  max_active_fraction: 1.0', '  cooldown_s: 0',
  ];
  if (Object.keys(rules).length) {
    lines.push('  rules:');
    for (const [k, v] of Object.entries(rules)) lines.push(`    ${k}: ${v}`);
  }
  return lines.join('\n') + '\n';
}

async function alerts(srv, c = 'c1') {
  const r = await srv.api('GET', `/v1/compute/clusters/${c}/health/alerts`);
  assert.equal(r.status, 200, r.text);
  return r.json.alerts || [];
}

// The watcher lists the nodes with its client copy of slurm.conf (no node or partition lines,
// src/infra/README.md), every one of them, and never fell back to the cluster's own slurm.conf.
function listedWithClientCopy(srv, nodes) {
  const log = srv.starts.map((s) => s.stderr).join('');
  assert.match(log, new RegExp(`slurm_watcher .*listing=client_copy .*nodes=${nodes}\\b`), log);
  assert.doesNotMatch(log, /slurm_watcher .*listing=original/, log);
}

const slurmAlerts = async (srv, node) => (await alerts(srv)).filter((a) => a.alert_name === 'SlurmNodeUnavailable' && (!node || a.target_vm === node));

// ---------------------------------------------------------------------------------------------
test('HOST_POWER_CYCLE of a node running a job: drained after the job, BMC off then on, slurmd back, resumed, SUCCEEDED', { skip }, async (t) => {
  const lab = await new Lab(t, { external: ['node02'] }).start();
  await lab.addBmc('h02', { node: 'node02' });
  await lab.waitNode('node02', (n) => n.state === 'IDLE', 15000, 'idle');
  const srv = await engineServer(t, fleetFor(lab, { h02: lab.bmcEntry('h02') }), { config: configFor() });
  const hosts = byHost(await getHosts(srv));
  assert.ok(['on', 'unknown'].includes(hosts.h02.power), `h02 shows its power: ${JSON.stringify(hosts.h02)}`);
  assert.ok(!('power' in hosts.h01), 'a host without a BMC has no power field');
  await waitFor(async () => byHost(await getHosts(srv)).h02.power === 'on', 5000);

  const job = (await lab.sbatch('--parsable', '-w', 'node02', '-o', '/dev/null', '--wrap', 'sleep 3')).trim();
  await lab.waitNode('node02', (n) => n.state.startsWith('ALLOCATED') || n.state.startsWith('MIXED'), 10000, 'running the job');
  const logStart = lab.powerLog('h02').length; // the BMC's own start powered the host on
  const t0 = Date.now();
  const r = await create(srv, 'c1', 'i-node02', { mode: POWER_CYCLE, token: srv.op, reason: 'Xid 79 on node02' });
  assert.equal(r.status, 200, r.text);
  const draining = await lab.waitNode('node02', (n) => n.state.includes('DRAIN'), 10000, 'draining');
  assert.match(draining.state, /^(ALLOCATED|MIXED)\+DRAIN/, 'draining while the job runs');
  assert.equal(draining.reason, `noderepair ${r.json.id}: Xid 79 on node02`, 'the reason names the remediation and its reason');
  assert.equal(lab.powerLog('h02').slice(logStart).includes('set power'), false, 'no power change while the job runs');
  const done = await waitState(srv, r.json, null, 60000);
  const ev = await getEvents(srv, r.json);
  const ctx = fmtEvents(ev);
  assert.equal(done.state, 'SUCCEEDED', `${ctx}\n${JSON.stringify(done)}`);
  const tookMs = Date.now() - t0;
  // The job ended before the power went: squeue has no job, and the chassis log's first
  // change comes after the node was drained.
  const log = lab.powerLog('h02').slice(logStart);
  const sets = log.split('\n').filter((l) => / set /.test(l));
  assert.ok(sets.some((l) => /set power 0/.test(l)) && sets.some((l) => /set power 1/.test(l)), `power off then on:\n${log}`);
  assert.ok(sets.findIndex((l) => /set power 0/.test(l)) < sets.findLastIndex((l) => /set power 1/.test(l)), `off before on:\n${log}`);
  assert.equal((await lab.scontrol('show', 'job', job).catch((e) => String(e))).includes('JobState=RUNNING'), false, 'the job is no longer running');
  const after = await lab.node('node02');
  assert.equal(after.state, 'IDLE', `node02 resumed and idle: ${after.line}`);
  for (const step of ['cordon_host', 'drain', 'power_cycle_host', 'wait_ready', 'rejoin', 'uncordon_host']) {
    assert.ok(ev.some((e) => e.step === step && /^done/.test(e.detail || '')), `step ${step} done in the timeline:\n${ctx}`);
  }
  assert.ok(ev.some((e) => e.step === 'drain' && /drained in Slurm/.test(e.detail)), ctx);
  assert.ok(ev.some((e) => e.step === 'power_cycle_host' && /power cycle sent to BMC 127\.0\.0\.1:/.test(e.detail)), ctx);
  assert.ok(ev.some((e) => e.step === 'rejoin' && /resumed in Slurm/.test(e.detail)), ctx);
  assert.deepEqual(await slurmAlerts(srv), [], 'our own drain and power cycle raise no signal');
  t.diagnostic(`power-cycle remediation took ${tookMs} ms (job 3 s, KillWait 2 s, BMC cycle ~1 s)`);
  // bench/power_cycle_overhead.sh: the timeline beside Slurm's and the BMC's own logs.
  if (process.env.BENCH_OUT) {
    const { readFileSync, writeFileSync } = await import('node:fs');
    const slurmLog = (f) => readFileSync(`${lab.dir}/slurm/log/${f}`, 'utf8');
    writeFileSync(process.env.BENCH_OUT, JSON.stringify({
      remediation: done, events: ev, job, bmc_log: log,
      slurmctld_log: slurmLog('slurmctld.log'), slurmd_log: slurmLog('slurmd-node02.log'),
    }));
  }
});

test('a dead host (BMC off, slurmd gone) raises SlurmNodeUnavailable → HOST_POWER_CYCLE → approved → powered on, resumed, SUCCEEDED, signal resolved', { skip }, async (t) => {
  const lab = await new Lab(t, { external: ['node03'] }).start();
  const bmc = await lab.addBmc('h03', { node: 'node03' });
  await lab.waitNode('node03', (n) => n.state === 'IDLE', 15000, 'idle');
  const srv = await engineServer(t, fleetFor(lab, { h03: lab.bmcEntry('h03') }), { config: configFor({ rules: { SlurmNodeUnavailable: 'HOST_POWER_CYCLE' } }) });
  const approver = await srv.token('rev', 'approver');
  // The host dies: its chassis goes off, its slurmd with it.
  const { execFileSync } = await import('node:child_process');
  execFileSync('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(bmc.port), '-U', 'admin', '-P', 'secret', '-C', '3', 'chassis', 'power', 'off']);
  await lab.waitNode('node03', (n) => n.state.startsWith('DOWN'), 30000, 'DOWN');
  const raised = await waitFor(async () => (await slurmAlerts(srv, 'node03')).find((a) => a.firing && a.node_remediation_intent_id), 10000, 200);
  assert.ok(raised, `a SlurmNodeUnavailable alert linked to a remediation: ${JSON.stringify(await alerts(srv))}`);
  assert.match(raised.labels.slurm_state, /DOWN|NOT_RESPONDING/, JSON.stringify(raised));
  const list = await srv.api('GET', rPath('c1', 'i-node03'));
  const rem = list.json.remediations[0];
  assert.equal(rem.mode, POWER_CYCLE);
  assert.equal(rem.state, 'PENDING_APPROVAL');
  const a = await srv.api('POST', rPath('c1', 'i-node03', rem.id, 'approve'), { token: approver, body: {} });
  assert.equal(a.status, 200, a.text);
  const done = await waitState(srv, rem, null, 90000);
  const ev = await getEvents(srv, rem);
  assert.equal(done.state, 'SUCCEEDED', `${fmtEvents(ev)}\n${JSON.stringify(done)}`);
  assert.ok(ev.some((e) => e.step === 'power_cycle_host' && /chassis was off: power on/.test(e.detail)), fmtEvents(ev));
  assert.equal((await lab.node('node03')).state, 'IDLE');
  const resolved = await waitFor(async () => (await slurmAlerts(srv, 'node03')).every((x) => !x.firing), 10000, 200);
  assert.ok(resolved, `the signal resolved: ${JSON.stringify(await slurmAlerts(srv, 'node03'))}`);
  listedWithClientCopy(srv, 4);
});

test("Slurm's own INVALID_REG drain (fewer GPU files than configured) raises a signal with that reason", { skip }, async (t) => {
  const lab = await new Lab(t, { gpus: 2, fewerGpus: ['node03'], nodes: 3 });
  // node03 never becomes idle: start waits for the others only.
  lab.env.EXTERNAL_NODES = 'node03';
  await lab.start();
  const { spawn } = await import('node:child_process');
  const slurmd = spawn('slurmd', ['-D', '-N', 'node03', '-f', lab.slurmConf], { stdio: 'ignore' });
  t.after(() => { try { slurmd.kill('SIGTERM'); } catch { /* gone */ } });
  const fleet = fleetFor(lab);
  fleet.clusters[0].instances = fleet.clusters[0].instances.slice(0, 3);
  const srv = await engineServer(t, fleet, { config: configFor() });
  const sig = await waitFor(async () => (await slurmAlerts(srv, 'node03'))[0], 20000, 200);
  assert.ok(sig, `a signal for node03: ${JSON.stringify(await alerts(srv))}; node03: ${(await lab.node('node03')).line}`);
  assert.match(sig.labels.reason, /gres\/gpu count reported lower than configured/);
  assert.match(sig.labels.slurm_state, /INVALID_REG/);
  assert.deepEqual((await slurmAlerts(srv)).filter((a) => a.target_vm !== 'node03'), [], 'healthy nodes raise nothing');
  listedWithClientCopy(srv, 3);
});

test("an operator's maintenance drain is kept: the remediation SUCCEEDS, the node stays drained with their reason, no signal", { skip }, async (t) => {
  const lab = await new Lab(t).start();
  await lab.scontrol('update', 'NodeName=node04', 'State=DRAIN', 'Reason=rack maintenance');
  await lab.waitNode('node04', (n) => n.state === 'IDLE+DRAIN', 10000, 'drained');
  const srv = await engineServer(t, fleetFor(lab), { config: configFor() });
  const r = await create(srv, 'c1', 'i-node04', { mode: REBOOT, token: srv.op, reason: 'Xid 48' });
  assert.equal(r.status, 200, r.text);
  const done = await waitState(srv, r.json, null, 30000);
  const ev = await getEvents(srv, r.json);
  assert.equal(done.state, 'SUCCEEDED', fmtEvents(ev));
  assert.ok(ev.some((e) => e.step === 'drain' && /held by someone else.*rack maintenance.*kept/.test(e.detail)), fmtEvents(ev));
  assert.ok(ev.some((e) => e.step === 'rejoin' && /not resumed.*rack maintenance/.test(e.detail)), fmtEvents(ev));
  const n = await lab.node('node04');
  assert.equal(n.state, 'IDLE+DRAIN');
  assert.equal(n.reason, 'rack maintenance');
  // The worker node asks for a person, saying why.
  const c = await srv.api('GET', '/v1/compute/clusters/c1');
  assert.equal(c.status, 200, c.text);
  const nodes = Object.fromEntries(c.json.gpu_worker_nodes.map((x) => [x.instance_id, x]));
  assert.match(nodes['i-node04'].attention || '', /node04 is held by someone else.*rack maintenance/, JSON.stringify(nodes['i-node04']));
  assert.equal('attention' in nodes['i-node03'], false, 'other nodes need no one');
  // Two whole watcher polls after the attention (a poll that would raise the signal hands it to
  // the writer at once, a second before the next poll ends): none is raised.
  const polls = (await counter(srv, 'noderepair_workload_polls_total'));
  assert.ok(await waitFor(async () => (await counter(srv, 'noderepair_workload_polls_total')) >= polls + 3, 10000), 'the watcher polls');
  assert.deepEqual(await slurmAlerts(srv), []);
  listedWithClientCopy(srv, 4);
});

// docs/http-api.md 11: a node's attention lasts until a person acts.
test('attention from a kept drain is cleared by PATCH {"attention": null} or a manual remediation, and set again while the drain remains', { skip }, async (t) => {
  const lab = await new Lab(t).start();
  await lab.scontrol('update', 'NodeName=node04', 'State=DRAIN', 'Reason=rack maintenance');
  await lab.waitNode('node04', (n) => n.state === 'IDLE+DRAIN', 10000, 'drained');
  const srv = await engineServer(t, fleetFor(lab), { config: configFor() });
  const attention = async () => {
    const c = await srv.api('GET', '/v1/compute/clusters/c1');
    assert.equal(c.status, 200, c.text);
    return c.json.gpu_worker_nodes.find((x) => x.instance_id === 'i-node04').attention;
  };
  const reboot = async (reason) => {
    const r = await create(srv, 'c1', 'i-node04', { mode: REBOOT, token: srv.op, reason });
    assert.equal(r.status, 200, r.text);
    const done = await waitState(srv, r.json, null, 30000);
    assert.equal(done.state, 'SUCCEEDED', fmtEvents(await getEvents(srv, r.json)));
  };
  const patch = (body) => srv.api('PATCH', '/v1/compute/clusters/c1/instances/i-node04', { token: srv.op, body });
  await reboot('Xid 48');
  assert.match(await attention() || '', /rack maintenance/);
  // Only a person clears it, and only to null.
  const bad = await patch({ attention: 'seen' });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.json.message, /'attention' can only be set to null/);
  assert.match(await attention() || '', /rack maintenance/, 'a refused PATCH changes nothing');
  const ok = await patch({ attention: null });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json, { instance_id: 'i-node04', attention: null });
  assert.equal(await attention(), undefined, 'cleared');
  // A manual remediation clears it when created; the drain still held, it says so again.
  await reboot('Xid 48 again');
  assert.match(await attention() || '', /rack maintenance/, 'set again: the drain remains');
  // The operator ends their maintenance; the next manual remediation leaves nothing to say.
  await lab.scontrol('update', 'NodeName=node04', 'State=RESUME');
  await lab.waitNode('node04', (n) => n.state === 'IDLE', 10000, 'resumed');
  await reboot('after maintenance');
  assert.equal(await attention(), undefined, 'cleared by the manual remediation');
  assert.equal((await lab.node('node04')).state, 'IDLE');
});

test('a wrong BMC password FAILS at once naming the BMC; a stopped BMC is retried, then FAILS at the step deadline, node left drained, writes unaffected', { skip }, async (t) => {
  const lab = await new Lab(t).start();
  await lab.addBmc('h01');
  await lab.addBmc('h02');
  const fleet = fleetFor(lab, { h01: lab.bmcEntry('h01', { password: 'wrong' }), h02: lab.bmcEntry('h02') });
  const srv = await engineServer(t, fleet, { config: configFor({ stepTimeout: 8, powerTimeout: 1 }) });
  const t0 = Date.now();
  const bad = await create(srv, 'c1', 'i-node01', { mode: POWER_CYCLE, token: srv.op, reason: 'wrong password' });
  const failed = await waitState(srv, bad.json, null, 20000);
  assert.equal(failed.state, 'FAILED', fmtEvents(await getEvents(srv, bad.json)));
  assert.match(failed.error_message, /BMC 127\.0\.0\.1:\d+/);
  assert.match(failed.error_message, /credentials|password|username/i);
  assert.ok(Date.now() - t0 < 6000, `failed at once (${Date.now() - t0} ms), not after retries`);
  assert.equal((await getEvents(srv, bad.json)).some((e) => /retrying/.test(e.detail || '')), false, 'no retries');

  process.kill(lab.bmcPid('h02'), 'SIGSTOP');
  const stuck = await create(srv, 'c1', 'i-node02', { mode: POWER_CYCLE, token: srv.op, reason: 'bmc gone' });
  // Meanwhile, writes go on: cordons and uncordons of another host, each one committed write,
  // one every 100 ms while the power cycle hangs (back to back once it has settled).
  const settled = waitState(srv, stuck.json, null, 30000);
  const lat = [];
  const writer = (async () => {
    for (let k = 0; k < 40; k++) {
      const s = Date.now();
      const w = await srv.api('POST', `/v1/compute/hosts/h04:${k % 2 ? 'uncordon' : 'cordon'}`, { body: {} });
      lat.push(Date.now() - s);
      assert.equal(w.status, 200, w.text);
      await within(settled, 100);
    }
  })();
  const f2 = await settled;
  await writer;
  const ev = await getEvents(srv, stuck.json);
  assert.equal(f2.state, 'FAILED', fmtEvents(ev));
  assert.ok(ev.some((e) => /retrying/.test(e.detail || '')), `retried first:\n${fmtEvents(ev)}`);
  assert.match(f2.error_message, /did not answer|timed out/);
  const n = await lab.node('node02');
  assert.match(n.state, /DRAIN/, 'the node is left drained');
  lat.sort((x, y) => x - y);
  const p99 = lat[Math.floor(lat.length * 0.99)];
  t.diagnostic(`write latency while a BMC hangs: p50 ${lat[Math.floor(lat.length / 2)]} ms, p99 ${p99} ms over ${lat.length} writes`);
  assert.ok(p99 < 500, `writes unaffected (p99 ${p99} ms)`);
});

test('slurmctld stopped mid-drain: the step retries, then FAILS at its deadline; the node is never resumed', { skip }, async (t) => {
  const lab = await new Lab(t).start();
  const srv = await engineServer(t, fleetFor(lab), { config: configFor({ stepTimeout: 8 }) });
  await lab.sbatch('--parsable', '-w', 'node01', '-o', '/dev/null', '--wrap', 'sleep 60');
  await lab.waitNode('node01', (n) => n.state.startsWith('ALLOCATED') || n.state.startsWith('MIXED'), 10000, 'running the job');
  const r = await create(srv, 'c1', 'i-node01', { mode: REBOOT, token: srv.op, reason: 'Xid 79' });
  await lab.waitNode('node01', (n) => n.state.includes('DRAIN'), 10000, 'draining');
  process.kill(lab.slurmctldPid(), 'SIGSTOP');
  const done = await waitState(srv, r.json, null, 40000);
  const ev = await getEvents(srv, r.json);
  process.kill(lab.slurmctldPid(), 'SIGCONT');
  assert.equal(done.state, 'FAILED', fmtEvents(ev));
  assert.match(done.error_message, /drain/);
  assert.ok(!ev.some((e) => e.step === 'rejoin'), `never got to rejoin:\n${fmtEvents(ev)}`);
  const n = await lab.waitNode('node01', (x) => x.state !== '', 15000, 'answering again');
  assert.match(n.state, /DRAIN/, `still drained with our reason: ${n.line}`);
});

// ---------------------------------------------------------------------------------------------
// The crash rule of a power cycle (docs/http-api.md 8): it has no idempotency key, so after a
// crash between the intent and its outcome the engine sends it again only when the host shows
// no sign of having restarted since the intent.

const cycles = (log) => log.split('\n').filter((l) => / set power 0/.test(l)).length;
const slurmdStart = (n) => /SlurmdStartTime=(\S+)/.exec(n.line)?.[1] || '';

async function crashLab(t) {
  const lab = await new Lab(t, { external: ['node02'] }).start();
  await lab.addBmc('h02', { node: 'node02' });
  await lab.waitNode('node02', (n) => n.state === 'IDLE', 15000, 'idle');
  const srv = await engineServer(t, fleetFor(lab, { h02: lab.bmcEntry('h02') }), { config: configFor({ powerTimeout: 1 }) });
  return { lab, srv, logStart: lab.powerLog('h02').length };
}

test('crash before the BMC got the power cycle: sent again after a restart without --fleet, one cycle in the BMC log', { skip }, async (t) => {
  const { lab, srv, logStart } = await crashLab(t);
  const bmc = lab.bmcPid('h02');
  process.kill(bmc, 'SIGSTOP'); // every exchange with it hangs until its deadline
  const r = await create(srv, 'c1', 'i-node02', { mode: POWER_CYCLE, token: srv.op, reason: 'Xid 79' });
  assert.equal(r.status, 200, r.text);
  // The intent is recorded, and the call to the BMC did not come back.
  const hung = await waitFor(async () => (await getEvents(srv, r.json)).some((e) => e.step === 'power_cycle_host' && /retrying/.test(e.detail || '')), 20000, 100);
  assert.ok(hung, fmtEvents(await getEvents(srv, r.json)));
  await srv.kill9();
  process.kill(bmc, 'SIGCONT');
  // Started without --fleet: the BMCs and the controller of the last import are remembered.
  srv.fleetPath = undefined;
  await srv.start();
  const done = await waitState(srv, r.json, null, 60000);
  const ev = await getEvents(srv, r.json);
  assert.equal(done.state, 'SUCCEEDED', fmtEvents(ev));
  assert.ok(ev.some((e) => e.step === 'power_cycle_host' && /power cycle sent to BMC .* again after a restart/.test(e.detail || '')), `"sent again":\n${fmtEvents(ev)}`);
  const log = lab.powerLog('h02').slice(logStart);
  assert.equal(cycles(log), 1, `one power cycle:\n${log}`);
  assert.equal((await lab.node('node02')).state, 'IDLE');
});

test('crash after the host restarted, before the outcome was recorded: not sent again, one cycle in the BMC log', { skip }, async (t) => {
  const { lab, srv, logStart } = await crashLab(t);
  const before = slurmdStart(await lab.node('node02'));
  const bmc = lab.bmcPid('h02');
  const r = await create(srv, 'c1', 'i-node02', { mode: POWER_CYCLE, token: srv.op, reason: 'Xid 79' });
  assert.equal(r.status, 200, r.text);
  // The BMC has cut the power: stop it there, so that noderepair cannot see the power come
  // back (and record the outcome) before it is killed.
  const off = await waitFor(() => cycles(lab.powerLog('h02').slice(logStart)) === 1, 30000, 5);
  process.kill(bmc, 'SIGSTOP');
  assert.ok(off, `the BMC cut the power:\n${lab.powerLog('h02').slice(logStart)}`);
  let ev = await getEvents(srv, r.json);
  assert.equal(ev.some((e) => e.step === 'power_cycle_host' && /^done/.test(e.detail || '')), false, `no outcome recorded:\n${fmtEvents(ev)}`);
  await srv.kill9();
  // The host restarts (the BMC powers it back on) while noderepair is down.
  process.kill(bmc, 'SIGCONT');
  await lab.waitNode('node02', (n) => slurmdStart(n) !== before && !/NOT_RESPONDING|^DOWN/.test(n.state), 30000, 'restarted');
  await srv.start();
  const done = await waitState(srv, r.json, null, 60000);
  ev = await getEvents(srv, r.json);
  assert.equal(done.state, 'SUCCEEDED', fmtEvents(ev));
  assert.ok(ev.some((e) => e.step === 'power_cycle_host' && /not sent again after a restart/.test(e.detail || '')), `"not sent again":\n${fmtEvents(ev)}`);
  const log = lab.powerLog('h02').slice(logStart);
  assert.equal(cycles(log), 1, `one power cycle, not two:\n${log}`);
  assert.equal((await lab.node('node02')).state, 'IDLE');
});
