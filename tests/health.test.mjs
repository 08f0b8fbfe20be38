// docs/http-api.md 2.2, 4.4, 4.5, 5, 6 (simulated faults), 7 (automation.*): passive health signals.
// The Alertmanager webhook, the default policy table, severities, linking, escalation,
// dedupe by fingerprint, per-alert status, auto-resolve, cooldown, blast radius, cluster
// automation policy, per-instance opt-out, the alerts listing and the simulated-fault loop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Server, startServer, makeFleet, rPath, create, expectStatus, findNullOrEmpty, listAll,
  RFC3339_Z, micros, sleep, sweptAfter, scannedAfter, MANUAL, AUTOMATED,
} from './lib/server.mjs';
import {
  VM_ONLY, HOST_AWARE, EVICT, REBOOT, getRem, getEvents, waitFor, waitState, fmtEvents,
} from './lib/engine.mjs';

const WEBHOOK = '/v1/integrations/alertmanager';
// Webhooks captured from a real Alertmanager 0.25.
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'alertmanager');
const SYSTEM = 'system:health-checks';
const CRIT = 'PHC_SEVERITY_CRITICAL';
const WARN = 'PHC_SEVERITY_WARNING';
const INFO = 'PHC_SEVERITY_INFO';
const ACTIVE = ['PENDING_APPROVAL', 'PENDING', 'QUARANTINING', 'QUARANTINED', 'RUNNING'];

// docs/http-api.md 5, default policy table (null: recorded and linked, no remediation).
const DEFAULT_POLICY = {
  DmesgGpuFallenOffBus: HOST_AWARE,
  GpuSmClockThermalThrottle: HOST_AWARE,
  GpuPcieReplayRateHigh: HOST_AWARE,
  IBRailsDownOrDegraded: HOST_AWARE,
  IBLinkFlapping: HOST_AWARE,
  NpdCperHardwareErrorFatal: VM_ONLY,
  NpdReadonlyFilesystem: VM_ONLY,
  NpdXfsShutdown: VM_ONLY,
  DmesgXidError: REBOOT, // label xid other than 79
  GpuEccDoubleBitError: REBOOT,
  GpuRowRemapFailure: REBOOT,
  NpdKernelDeadlock: REBOOT,
  NpdFrequentKubeletRestart: REBOOT,
  NpdFrequentContainerdRestart: REBOOT,
  NpdFrequentUnregisterNetDevice: REBOOT,
  KubeNodeMemoryPressure: REBOOT,
  KubeNodePIDPressure: REBOOT,
  KubeNodeDiskPressure: null,
  SlurmNodeUnavailable: null,
};
const defaultSeverity = (mode) => (mode === HOST_AWARE || mode === VM_ONLY ? CRIT : WARN);

// ---- payload builders -------------------------------------------------------------------

let fpSeq = 0;
const iso = (ms = Date.now()) => new Date(ms).toISOString();
const nameOf = (iid) => iid.replace(/-i(\d+)$/, '-gpu-$1'); // makeFleet's instance_name

// One alert of a v4 webhook. labels: extra labels (instance_id etc. given by the caller).
function al(alertname, labels, {
  status = 'firing', annotations, startsAt = iso(), endsAt, fingerprint,
} = {}) {
  return {
    status,
    labels: { alertname, ...labels },
    annotations: annotations ?? { summary: `${alertname} summary`, description: `${alertname} description` },
    startsAt,
    endsAt: endsAt ?? (status === 'firing' ? '0001-01-01T00:00:00Z' : iso()),
    generatorURL: 'http://127.0.0.1:9090/graph',
    fingerprint: fingerprint ?? `fp-${process.pid}-${++fpSeq}`,
  };
}

function hook(alerts, { status } = {}) {
  return {
    receiver: 'noderepair',
    status: status ?? (alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved'),
    alerts,
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    version: '4',
    groupKey: '{}:{}',
    truncatedAlerts: 0,
  };
}

// Posts alerts through the webhook (operator token unless given).
async function post(srv, alerts, { token, status } = {}) {
  return srv.api('POST', WEBHOOK, { token: token === undefined ? srv.op : token, body: hook(alerts, { status }) });
}
async function postOk(srv, alerts, expectCreated, opts) {
  const r = await post(srv, alerts, opts);
  assert.equal(r.status, 200, `webhook: ${r.text}`);
  assert.deepEqual(r.json, { alerts: alerts.length, remediations_created: expectCreated, out_of_scope: 0 }, `webhook answer for ${alerts.map((a) => `${a.labels.alertname}/${a.status}`).join(',')}`);
  return r.json;
}

// ---- readers ----------------------------------------------------------------------------

async function rems(srv, c, i) {
  return (await listAll(srv, c, i)).all;
}
async function only(srv, c, i) {
  const all = await rems(srv, c, i);
  assert.equal(all.length, 1, `${c}/${i}: want exactly one remediation, got ${JSON.stringify(all.map((r) => [r.mode, r.state, r.trigger]))}`);
  return all[0];
}
async function alerts(srv, c, { instance, token, status } = {}) {
  const out = [];
  let tok = '';
  for (let n = 0; n < 1000; n++) {
    const q = { page_size: '1000' };
    if (tok) q.page_token = tok;
    if (status) q.status = status;
    const r = await srv.api('GET', `/v1/compute/clusters/${c}/health/alerts`, { token, query: q });
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.alerts);
    if (!r.json.has_next) break;
    tok = r.json.next_page_token;
  }
  return instance ? out.filter((a) => a.instance_id === instance) : out;
}
async function alertByFp(srv, c, fp) {
  const a = (await alerts(srv, c)).find((x) => x.fingerprint === fp);
  assert.ok(a, `alert ${fp} listed in ${c}`);
  return a;
}
async function cluster(srv, c) {
  const g = await srv.api('GET', `/v1/compute/clusters/${c}`);
  assert.equal(g.status, 200, g.text);
  return g.json;
}
async function activeCount(srv, c) {
  return (await rems(srv, c, '-')).filter((r) => ACTIVE.includes(r.state)).length;
}
const sameTime = (a, b, what) => assert.equal(micros(a), micros(b), `${what}: ${a} vs ${b}`);

// Checks an automated remediation created from `alert` (the payload alert) on c/i.
function checkAutomated(r, { c, i, mode, alert, state = 'PENDING_APPROVAL' }) {
  const ctx = JSON.stringify(r);
  assert.equal(r.cluster_id, c, ctx);
  assert.equal(r.instance_id, i, ctx);
  assert.equal(r.instance_name, nameOf(i), ctx);
  assert.equal(r.mode, mode, `mode for ${alert.labels.alertname}: ${ctx}`);
  assert.equal(r.trigger, AUTOMATED, ctx);
  assert.equal(r.state, state, ctx);
  assert.equal(r.requested_by, SYSTEM, ctx);
  assert.equal(typeof r.reason, 'string');
  assert.ok(r.reason.includes(alert.labels.alertname), `reason summarises the evidence (names the alert): ${r.reason}`);
  assert.match(r.create_time, RFC3339_Z);
  assert.ok(!('end_time' in r) && !('start_time' in r), ctx);
  assert.ok(!('active_health_check_run_id' in r), ctx);
  assert.ok(Array.isArray(r.linked_alerts) && r.linked_alerts.length >= 1, `linked_alerts: ${ctx}`);
  const la = r.linked_alerts.find((x) => x.passive_health_check_alert_id === r.passive_health_check_event_id);
  assert.ok(la, `passive_health_check_event_id ${r.passive_health_check_event_id} is one of the linked alerts: ${ctx}`);
  assert.equal(la.alert_name, alert.labels.alertname);
  assert.equal(la.cluster_id, c);
  assert.equal(la.instance_id, i);
  assert.equal(la.target_vm, nameOf(i));
  sameTime(la.started_at, alert.startsAt, 'started_at = startsAt');
  assert.ok(!('resolved_at' in la), `a firing alert has no resolved_at: ${JSON.stringify(la)}`);
  assert.deepEqual(la.annotations, alert.annotations);
  return la;
}

// ---- servers ----------------------------------------------------------------------------

let main; // paused engine, fraction 1.0, TTL 1 s, cooldown 2 s, two custom rules
let viewer;
let approver;
let nextK = 0;
const fresh = () => `h-i${nextK++}`;
const H = 'h';

before(async () => {
  main = await startServer({
    fleet: makeFleet([
      { cluster_id: H, instances: 160 },
      { cluster_id: 'auto', instances: 8 },
      { cluster_id: 'list', instances: 4 },
      { cluster_id: 'opt', instances: 4 },
      { cluster_id: 'x2', instances: 2 },
      { cluster_id: 'ties', instances: 1 },
    ]),
    config: [
      'automation:',
      '  max_active_fraction: 1.0',
      '  auto_resolve_ttl_s: 1',
      '  cooldown_s: 2',
      '  rules:',
      '    NodeDown: REBOOT_VM',
      '    EvictMe: REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT',
      '',
    ].join('\n'),
  });
  main.op = await main.token('ops', 'operator');
  viewer = await main.token('watcher', 'viewer');
  approver = await main.token('reviewer', 'approver');
});

after(async () => { if (main) await main.close(); });

// ---- the webhook: roles, malformed payloads, unknown instances ---------------------------

test('webhook: roles (no token 401, bad token 401, viewer 403; operator, approver, admin 200)', async () => {
  const i = fresh();
  const body = hook([al('NoRuleForThis', { instance_id: i })]);
  expectStatus(assert, await main.api('POST', WEBHOOK, { token: null, body }), 401, 16, 'no token');
  expectStatus(assert, await main.api('POST', WEBHOOK, { token: 'nope', body }), 401, 16, 'unknown token');
  expectStatus(assert, await main.api('POST', WEBHOOK, { token: viewer, body }), 403, 7, 'viewer');
  assert.deepEqual(await alerts(main, H, { instance: i }), [], 'rejected posts stored nothing');
  for (const token of [main.op, approver, main.adminToken]) {
    const r = await main.api('POST', WEBHOOK, { token, body: hook([al('NoRuleForThis', { instance_id: i })]) });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { alerts: 1, remediations_created: 0, out_of_scope: 0 });
  }
  assert.equal((await alerts(main, H, { instance: i })).length, 3);
  assert.deepEqual(await rems(main, H, i), [], 'an alert that matches no rule creates nothing');
});

test('webhook: malformed payloads → 400 code 3 and nothing stored (not even the valid alerts beside them)', async () => {
  const i = fresh();
  const good = () => al('GpuEccDoubleBitError', { instance_id: i });
  const cases = {
    'not JSON': { rawBody: '{"alerts": [' },
    'an array': { body: [good()] },
    'a string': { body: 'alerts' },
    'no alerts': { body: { version: '4', status: 'firing' } },
    'alerts is an object': { body: { version: '4', alerts: { a: good() } } },
    'alerts is null': { body: { version: '4', alerts: null } },
    'alert not an object': { body: hook([good(), 42]) },
    'status missing': { body: hook([good(), (() => { const a = good(); delete a.status; return a; })()]) },
    'status pending': { body: hook([good(), { ...good(), status: 'pending' }]) },
    'label value a number': { body: hook([good(), { ...good(), labels: { alertname: 'DmesgXidError', instance_id: i, xid: 79 } }]) },
    'labels an array': { body: hook([good(), { ...good(), labels: ['alertname'] }]) },
    'no alertname': { body: hook([good(), { ...good(), labels: { instance_id: i } }]) },
    'startsAt garbage': { body: hook([good(), { ...good(), startsAt: 'yesterday' }]) },
    'startsAt missing': { body: hook([good(), (() => { const a = good(); delete a.startsAt; return a; })()]) },
    'version 3': { body: { ...hook([good()]), version: '3' } },
    'version as a number': { body: { ...hook([good()]), version: 4 } },
  };
  for (const [what, req] of Object.entries(cases)) {
    const r = await main.api('POST', WEBHOOK, { token: main.op, ...req });
    expectStatus(assert, r, 400, 3, what);
  }
  assert.deepEqual(await alerts(main, H, { instance: i }), [], 'no alert stored by any malformed payload');
  assert.deepEqual(await rems(main, H, i), [], 'no remediation created by any malformed payload');
  // an empty alerts array is well-formed
  const e = await main.api('POST', WEBHOOK, { token: main.op, body: hook([]) });
  assert.equal(e.status, 200, e.text);
  assert.deepEqual(e.json, { alerts: 0, remediations_created: 0, out_of_scope: 0 });
});

test('webhook: alerts for unknown instances → 200, recorded, nothing created', async () => {
  const before = await rems(main, H, '-');
  const r = await post(main, [
    al('DmesgXidError', { instance_id: 'no-such-instance', xid: '79' }),
    al('GpuEccDoubleBitError', { node: 'no-such-node' }),
    al('NpdXfsShutdown', { hostname: 'no-such-host' }),
    al('NpdKernelDeadlock', {}), // no instance label at all
  ]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { alerts: 4, remediations_created: 0, out_of_scope: 0 });
  assert.deepEqual((await rems(main, H, '-')).map((x) => x.id), before.map((x) => x.id), 'no remediation anywhere');
});

test('webhook: instance by label instance_id, else node / target_vm / hostname = instance_name', async () => {
  const [a, b, c, d, e] = [fresh(), fresh(), fresh(), fresh(), fresh()];
  await postOk(main, [
    al('GpuEccDoubleBitError', { node: nameOf(a) }),
    al('GpuEccDoubleBitError', { target_vm: nameOf(b) }),
    al('GpuEccDoubleBitError', { hostname: nameOf(c) }),
    // instance_id wins over node
    al('GpuEccDoubleBitError', { instance_id: d, node: nameOf(e) }),
  ], 4);
  for (const i of [a, b, c, d]) {
    const r = await only(main, H, i);
    assert.equal(r.mode, REBOOT);
    assert.equal(r.linked_alerts[0].target_vm, nameOf(i), 'target_vm is the instance name');
  }
  assert.deepEqual(await rems(main, H, e), [], 'node label ignored when instance_id is present');
});

// ---- policy table, Xid, severity ----------------------------------------------------------

test('default policy table: every alertname → its mode (AUTOMATED, PENDING_APPROVAL, system:health-checks, linked alert)', async () => {
  const sent = [];
  for (const [name, mode] of Object.entries(DEFAULT_POLICY)) {
    const i = fresh();
    const labels = { instance_id: i };
    if (name === 'DmesgXidError') labels.xid = '13';
    sent.push({ i, mode, alert: al(name, labels, { startsAt: iso(Date.now() - 60000) }) });
  }
  const nonePolicy = { i: fresh(), mode: null, alert: null };
  nonePolicy.alert = al('SomeAlertNoRuleCovers', { instance_id: nonePolicy.i });
  sent.push(nonePolicy);
  const want = sent.filter((s) => s.mode).length;
  const res = await postOk(main, sent.map((s) => s.alert), want);
  assert.equal(res.remediations_created, Object.values(DEFAULT_POLICY).filter(Boolean).length);
  const listed = await alerts(main, H);
  for (const s of sent) {
    const name = s.alert.labels.alertname;
    const la = listed.find((x) => x.fingerprint === s.alert.fingerprint);
    assert.ok(la, `${name} recorded`);
    assert.equal(la.firing, true);
    assert.equal(la.waiting, false);
    assert.deepEqual(la.labels, s.alert.labels);
    if (!s.mode) {
      assert.deepEqual(await rems(main, H, s.i), [], `${name}: no remediation`);
      assert.ok(!('node_remediation_intent_id' in la), `${name}: not linked to anything`);
      continue;
    }
    const r = await only(main, H, s.i);
    const linked = checkAutomated(r, { c: H, i: s.i, mode: s.mode, alert: s.alert });
    assert.equal(r.linked_alerts.length, 1);
    assert.equal(linked.severity, defaultSeverity(s.mode), `${name}: default severity`);
    assert.equal(la.node_remediation_intent_id, r.id, `${name}: alert list links the remediation`);
    assert.equal(la.passive_health_check_alert_id, r.passive_health_check_event_id);
  }
  // severity of the warning-only ones too
  for (const s of sent.filter((x) => !x.mode && x.alert.labels.alertname in DEFAULT_POLICY)) {
    const la = listed.find((x) => x.fingerprint === s.alert.fingerprint);
    assert.equal(la.severity, WARN, `${s.alert.labels.alertname}: warning by default`);
  }
});

test('DmesgXidError: xid 79 → HOST_AWARE (critical), other xids → REBOOT_VM (warning); xid.events', async () => {
  const cases = [
    { xid: '79', mode: HOST_AWARE, sev: CRIT, mnemonic: 'GPU has fallen off the bus' },
    { xid: '13', mode: REBOOT, sev: WARN },
    { xid: '48', mode: REBOOT, sev: WARN },
  ];
  const sent = cases.map((c) => ({ ...c, i: fresh() }));
  for (const s of sent) s.alert = al('DmesgXidError', { instance_id: s.i, xid: s.xid });
  await postOk(main, sent.map((s) => s.alert), sent.length);
  for (const s of sent) {
    const r = await only(main, H, s.i);
    const la = checkAutomated(r, { c: H, i: s.i, mode: s.mode, alert: s.alert });
    assert.equal(la.severity, s.sev, `xid ${s.xid} severity`);
    assert.ok(r.reason.includes(s.xid), `reason mentions the Xid code ${s.xid}: ${r.reason}`);
    const events = la.annotation?.xid?.events;
    assert.ok(Array.isArray(events) && events.length === 1, `annotation.xid.events: ${JSON.stringify(la.annotation)}`);
    assert.equal(events[0].xid_code, s.xid);
    assert.equal(events[0].count, 1);
    if (s.mnemonic) assert.deepEqual(events[0], { xid_code: '79', mnemonic: s.mnemonic, count: 1 });
  }
});

test('severity: the severity label wins (critical|warning|info); anything else → the default', async () => {
  const cases = [
    { name: 'GpuEccDoubleBitError', sev: 'critical', want: CRIT },
    { name: 'GpuSmClockThermalThrottle', sev: 'info', want: INFO },
    { name: 'NpdXfsShutdown', sev: 'warning', want: WARN },
    { name: 'NpdXfsShutdown', sev: 'urgent', want: CRIT },
    { name: 'KubeNodeMemoryPressure', sev: 'bogus', want: WARN },
  ];
  const sent = cases.map((c) => ({ ...c, i: fresh() }));
  for (const s of sent) s.alert = al(s.name, { instance_id: s.i, severity: s.sev });
  await postOk(main, sent.map((s) => s.alert), sent.length);
  for (const s of sent) {
    const r = await only(main, H, s.i);
    assert.equal(r.linked_alerts[0].severity, s.want, `${s.name} severity=${s.sev}`);
    assert.equal((await alertByFp(main, H, s.alert.fingerprint)).severity, s.want);
  }
});

test('a remediation made from an alert has no null and no "" anywhere (docs/http-api.md 2), even without description', async () => {
  const i = fresh();
  // only a summary annotation: description, summary_line, … are not known
  await postOk(main, [al('NpdKernelDeadlock', { instance_id: i }, { annotations: { summary: 'kernel deadlock' } })], 1);
  const r = await only(main, H, i);
  assert.deepEqual(findNullOrEmpty(r), [], `unset fields are omitted, not "": ${JSON.stringify(r.linked_alerts)}`);
});

test('SlurmNodeUnavailable / KubeNodeDiskPressure: recorded and linked, never a remediation; slurm reason from label or annotation', async () => {
  const i = fresh();
  const j = fresh();
  const byLabel = al('SlurmNodeUnavailable', { instance_id: i, reason: 'Not responding' });
  const byAnnotation = al('SlurmNodeUnavailable', { instance_id: j }, { annotations: { summary: 's', reason: 'Kill task failed' } });
  const disk = al('KubeNodeDiskPressure', { instance_id: i });
  await postOk(main, [byLabel, byAnnotation, disk], 0);
  assert.deepEqual(await rems(main, H, i), []);
  assert.deepEqual(await rems(main, H, j), []);
  const a1 = await alertByFp(main, H, byLabel.fingerprint);
  assert.deepEqual(a1.annotation.slurm_node_unavailable, { reason: 'Not responding' });
  const a2 = await alertByFp(main, H, byAnnotation.fingerprint);
  assert.deepEqual(a2.annotation.slurm_node_unavailable, { reason: 'Kill task failed' });
  // once a remediation is active on i, a new slurm alert is linked to it as evidence
  const m = await create(main, H, i, { mode: VM_ONLY, reason: 'manual', token: main.op });
  assert.equal(m.status, 200, m.text);
  const again = al('SlurmNodeUnavailable', { instance_id: i, reason: 'Node unexpectedly rebooted' });
  await postOk(main, [again], 0);
  const r = await getRem(main, m.json);
  const la = r.linked_alerts?.find((x) => x.alert_name === 'SlurmNodeUnavailable');
  assert.ok(la, `slurm alert linked to the manual remediation: ${JSON.stringify(r)}`);
  assert.deepEqual(la.annotation.slurm_node_unavailable, { reason: 'Node unexpectedly rebooted' });
  assert.equal(la.severity, WARN);
  assert.equal(r.mode, VM_ONLY);
  assert.equal(r.trigger, MANUAL);
});

test('per-instance rules from config (automation.rules): NodeDown: REBOOT_VM, EvictMe: REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT', async () => {
  const i = fresh();
  const j = fresh();
  await postOk(main, [al('NodeDown', { instance_id: i }), al('EvictMe', { instance_id: j })], 2);
  assert.equal((await only(main, H, i)).mode, REBOOT);
  const e = await only(main, H, j);
  assert.equal(e.mode, EVICT);
  assert.equal(e.state, 'PENDING_APPROVAL');
});

// ---- linking, escalation, dedupe, per-alert status ---------------------------------------

test('linking: an alert on an instance with an active MANUAL remediation is linked, never escalates it, creates nothing', async () => {
  const i = fresh();
  const m = await create(main, H, i, { mode: REBOOT, reason: 'by hand', token: main.op });
  assert.equal(m.status, 200);
  const heavy = al('DmesgXidError', { instance_id: i, xid: '79' });
  await postOk(main, [heavy], 0);
  const r = await getRem(main, m.json);
  assert.equal(r.mode, REBOOT, 'a manual remediation keeps its mode');
  assert.equal(r.state, 'PENDING');
  assert.equal(r.trigger, MANUAL);
  assert.equal(r.linked_alerts?.length, 1, JSON.stringify(r));
  assert.equal(r.linked_alerts[0].alert_name, 'DmesgXidError');
  assert.ok(!('passive_health_check_event_id' in r), 'a manual remediation was not created by an alert');
  const la = await alertByFp(main, H, heavy.fingerprint);
  assert.equal(la.node_remediation_intent_id, m.json.id);
  assert.equal((await rems(main, H, i)).length, 1);
});

test('escalation: REBOOT_VM → VM_ONLY → HOST_AWARE in place while PENDING_APPROVAL; lighter alerts only link; a mode_change event each', async () => {
  const i = fresh();
  const first = al('GpuEccDoubleBitError', { instance_id: i });
  await postOk(main, [first], 1);
  const r0 = await only(main, H, i);
  assert.equal(r0.mode, REBOOT);
  await sleep(5);
  await postOk(main, [al('NpdReadonlyFilesystem', { instance_id: i })], 0);
  const r1 = await getRem(main, r0);
  assert.equal(r1.mode, VM_ONLY, 'escalated to VM_ONLY');
  assert.equal(r1.id, r0.id);
  assert.equal(r1.state, 'PENDING_APPROVAL');
  assert.equal(r1.linked_alerts.length, 2);
  assert.ok(micros(r1.update_time) > micros(r0.update_time), 'escalation bumps update_time');
  await postOk(main, [al('KubeNodePIDPressure', { instance_id: i })], 0); // lighter: linked only
  assert.equal((await getRem(main, r0)).mode, VM_ONLY);
  await postOk(main, [al('IBLinkFlapping', { instance_id: i })], 0);
  const r2 = await getRem(main, r0);
  assert.equal(r2.mode, HOST_AWARE, 'escalated to HOST_AWARE');
  await postOk(main, [al('NpdXfsShutdown', { instance_id: i }), al('GpuRowRemapFailure', { instance_id: i })], 0);
  const r3 = await getRem(main, r0);
  assert.equal(r3.mode, HOST_AWARE, 'never de-escalated');
  assert.equal(r3.linked_alerts.length, 6);
  assert.deepEqual(r3.linked_alerts.map((a) => a.alert_name).sort(), ['GpuEccDoubleBitError', 'GpuRowRemapFailure',
    'IBLinkFlapping', 'KubeNodePIDPressure', 'NpdReadonlyFilesystem', 'NpdXfsShutdown']);
  assert.equal(r3.passive_health_check_event_id, r0.passive_health_check_event_id, 'the creating alert stays the event id');
  assert.equal((await rems(main, H, i)).length, 1);
  const ev = await getEvents(main, r0);
  // docs/http-api.md 4.8: an escalation is a mode_change event naming both modes, with no state.
  const esc = ev.filter((e) => e.type === 'mode_change');
  assert.equal(esc.length, 2, `two escalation events:\n${fmtEvents(ev)}`);
  assert.ok(esc.every((e) => e.state === undefined && /escalat/i.test(e.detail)));
  assert.match(esc[0].detail, /REMEDIATION_MODE_REBOOT_VM.*REMEDIATION_MODE_VM_ONLY/);
  assert.match(esc[1].detail, /REMEDIATION_MODE_VM_ONLY.*REMEDIATION_MODE_HOST_AWARE/);
  assert.equal(ev.filter((e) => e.type === 'state_change').length, 1, 'an escalation changes no state');
});

test('escalation: an approved automated one (PENDING) is not escalated, only linked', async () => {
  const i = fresh();
  await postOk(main, [al('GpuEccDoubleBitError', { instance_id: i })], 1);
  const r0 = await only(main, H, i);
  const a = await main.api('POST', rPath(H, i, r0.id, 'approve'), { token: approver, body: {} });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json.state, 'PENDING');
  await postOk(main, [al('DmesgGpuFallenOffBus', { instance_id: i })], 0);
  const r1 = await getRem(main, r0);
  assert.equal(r1.mode, REBOOT, 'approved: mode unchanged');
  assert.equal(r1.linked_alerts.length, 2, 'but the alert is linked');
});

test('escalation never rewrites a mode outside REBOOT_VM < VM_ONLY < HOST_AWARE (a pending EVICT stays EVICT)', async () => {
  const i = fresh();
  await postOk(main, [al('EvictMe', { instance_id: i })], 1);
  const r0 = await only(main, H, i);
  assert.equal(r0.mode, EVICT);
  await postOk(main, [al('GpuEccDoubleBitError', { instance_id: i })], 0);
  const r1 = await getRem(main, r0);
  assert.equal(r1.linked_alerts.length, 2, 'linked');
  assert.equal(r1.mode, EVICT, `a REBOOT_VM alert turned a pending EVICT_WITHOUT_REPLACEMENT into ${r1.mode}`);
});

test('concurrent webhooks for one instance: exactly one remediation, every alert linked to it', async () => {
  const i = fresh();
  const names = ['GpuEccDoubleBitError', 'NpdKernelDeadlock', 'NpdXfsShutdown', 'KubeNodeMemoryPressure', 'GpuRowRemapFailure',
    'NpdReadonlyFilesystem', 'KubeNodePIDPressure', 'NpdFrequentKubeletRestart', 'IBLinkFlapping', 'DmesgGpuFallenOffBus'];
  const res = await Promise.all(names.map((n) => post(main, [al(n, { instance_id: i })])));
  assert.deepEqual(res.map((r) => r.status), names.map(() => 200));
  assert.equal(res.reduce((n, r) => n + r.json.remediations_created, 0), 1, 'created once in total');
  const r = await only(main, H, i);
  assert.equal(r.linked_alerts.length, names.length);
  assert.equal(r.mode, HOST_AWARE, 'ends at the heaviest mode whatever the order');
});

test('dedupe by fingerprint: repeats refresh one alert, never duplicate alert or remediation', async () => {
  const i = fresh();
  const a = al('NpdXfsShutdown', { instance_id: i }, { startsAt: iso(Date.now() - 5000) });
  await postOk(main, [a], 1);
  await postOk(main, [a], 0);
  await postOk(main, [a, a], 0);
  const refreshed = { ...a, annotations: { summary: 'still broken', description: 'repeat' } };
  await postOk(main, [refreshed], 0);
  const listed = await alerts(main, H, { instance: i });
  assert.equal(listed.length, 1, `one alert for one fingerprint: ${JSON.stringify(listed)}`);
  assert.deepEqual(listed[0].annotations, refreshed.annotations, 'a repeat refreshes the alert');
  const r = await only(main, H, i);
  assert.equal(r.linked_alerts.length, 1);
  assert.equal(r.linked_alerts[0].annotation.title, 'still broken');
  // same labels, another fingerprint: another alert, linked to the same remediation
  await postOk(main, [al('NpdXfsShutdown', { instance_id: i })], 0);
  assert.equal((await alerts(main, H, { instance: i })).length, 2);
  assert.equal((await getRem(main, r)).linked_alerts.length, 2);
});

test('per-alert status: fixture webhook-firing-group-with-resolved.json (group firing, one alert resolved)', async () => {
  const n1 = fresh();
  const n2 = fresh();
  const fx = JSON.parse(readFileSync(path.join(FIXTURES, 'webhook-firing-group-with-resolved.json'), 'utf8'));
  const text = JSON.stringify(fx).replaceAll('"n1"', JSON.stringify(nameOf(n1))).replaceAll('"n2"', JSON.stringify(nameOf(n2)));
  const body = JSON.parse(text);
  assert.equal(body.status, 'firing');
  const r = await main.api('POST', WEBHOOK, { token: main.op, body });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { alerts: 2, remediations_created: 1, out_of_scope: 0 }, 'NodeDown is REBOOT_VM by rule; only n1 fires');
  const r1 = await only(main, H, n1);
  checkAutomated(r1, { c: H, i: n1, mode: REBOOT, alert: body.alerts[0] });
  assert.deepEqual(await rems(main, H, n2), [], 'the resolved alert of a firing group creates nothing');
  const a2 = await alertByFp(main, H, body.alerts[1].fingerprint);
  assert.equal(a2.firing, false);
  assert.equal(a2.instance_id, n2);
  sameTime(a2.resolved_at, body.alerts[1].endsAt, 'resolved_at = endsAt');
  sameTime(a2.started_at, body.alerts[1].startsAt, 'started_at = startsAt');
  assert.ok(!('node_remediation_intent_id' in a2));
  const a1 = await alertByFp(main, H, body.alerts[0].fingerprint);
  assert.equal(a1.firing, true);
  assert.ok(!('resolved_at' in a1));
  // the reverse: a "resolved" group holding a firing alert still acts on the firing one
  const n3 = fresh();
  await postOk(main, [al('NodeDown', { node: nameOf(n3) })], 1, { status: 'resolved' });
  assert.equal((await only(main, H, n3)).state, 'PENDING_APPROVAL');
});

// ---- auto-resolve (TTL 1 s), cooldown (2 s) -------------------------------------------------

test('auto-resolve: PENDING_APPROVAL with every linked alert resolved ≥ TTL → AUTO_RESOLVED; partial, approved, manual stay', async () => {
  const [a, b, c, d] = [fresh(), fresh(), fresh(), fresh()];
  const fa = al('GpuEccDoubleBitError', { instance_id: a });
  const fb1 = al('GpuEccDoubleBitError', { instance_id: b });
  const fb2 = al('NpdKernelDeadlock', { instance_id: b });
  const fc = al('GpuEccDoubleBitError', { instance_id: c });
  const fd = al('GpuEccDoubleBitError', { instance_id: d });
  await postOk(main, [fa, fb1, fb2, fc], 3);
  const md = await create(main, H, d, { mode: REBOOT, reason: 'manual', token: main.op });
  assert.equal(md.status, 200);
  await postOk(main, [fd], 0); // linked to the manual one
  const ra = await only(main, H, a);
  const rb = await only(main, H, b);
  const rc = await only(main, H, c);
  const ap = await main.api('POST', rPath(H, c, rc.id, 'approve'), { token: approver });
  assert.equal(ap.json?.state, 'PENDING', ap.text);
  const res = (x) => ({ ...x, status: 'resolved', endsAt: iso() });
  await postOk(main, [res(fa), res(fb1), res(fc), res(fd)], 0);
  const now = await getRem(main, ra);
  assert.equal(now.state, 'PENDING_APPROVAL', 'not before the TTL');
  const resolved = now.linked_alerts[0];
  assert.match(resolved.resolved_at, RFC3339_Z, 'linked alert shows resolved_at');
  const ar = await waitState(main, ra, ['AUTO_RESOLVED'], 5000);
  assert.match(ar.end_time, RFC3339_Z);
  assert.ok(micros(ar.end_time) - micros(resolved.resolved_at) >= 1000000n, `AUTO_RESOLVED ≥ 1 s after resolution: ${resolved.resolved_at} → ${ar.end_time}`);
  assert.equal(ar.linked_alerts.length, 1);
  const ev = await getEvents(main, ra);
  assert.equal(ev[ev.length - 1].type, 'state_change');
  assert.equal(ev[ev.length - 1].state, 'AUTO_RESOLVED');
  // The sweep that auto-resolved `ra` saw rb, rc and md too; more passes change nothing.
  await sweptAfter(main);
  assert.equal((await getRem(main, rb)).state, 'PENDING_APPROVAL', 'one of two linked alerts still fires');
  assert.equal((await getRem(main, rc)).state, 'PENDING', 'an approved one is never auto-resolved');
  assert.equal((await getRem(main, md.json)).state, 'PENDING', 'a manual one is never auto-resolved');
  // resolve the second alert of b: now it goes
  await postOk(main, [res(fb2)], 0);
  await waitState(main, rb, ['AUTO_RESOLVED'], 5000);
  // AUTO_RESOLVED starts no cooldown: a new alert on a creates a new one at once
  await postOk(main, [al('GpuEccDoubleBitError', { instance_id: a })], 1);
  const list = await rems(main, H, a);
  assert.deepEqual(list.map((x) => x.state), ['PENDING_APPROVAL', 'AUTO_RESOLVED']);
});

test('auto-resolve waits while a new firing alert is linked after the first resolved', async () => {
  const i = fresh();
  const f1 = al('GpuEccDoubleBitError', { instance_id: i });
  await postOk(main, [f1], 1);
  const r = await only(main, H, i);
  const resolvedAt = Date.now();
  await postOk(main, [{ ...f1, status: 'resolved', endsAt: iso() }, al('NpdKernelDeadlock', { instance_id: i })], 0);
  // Past the first alert's TTL (1 s here), the sweeper would have auto-resolved it by now.
  await sweptAfter(main, { notBefore: resolvedAt + 1500 });
  const g = await getRem(main, r);
  assert.equal(g.state, 'PENDING_APPROVAL', `a firing linked alert holds it: ${JSON.stringify(g.linked_alerts)}`);
  assert.equal(g.linked_alerts.length, 2);
});

test('cooldown (cooldown_s 2): after CANCELLED (cancel or reject) no automated one; the held alert waits and is taken up when it ends', async () => {
  const i = fresh();
  const j = fresh();
  const m = await create(main, H, i, { mode: VM_ONLY, reason: 'm', token: main.op });
  assert.equal(m.status, 200);
  assert.equal((await main.api('POST', rPath(H, i, m.json.id, 'cancel'), { token: main.op })).status, 200);
  await postOk(main, [al('GpuEccDoubleBitError', { instance_id: j })], 1);
  const pj = await only(main, H, j);
  const rj = await main.api('POST', rPath(H, j, pj.id, 'reject'), { token: approver, body: { comment: 'no' } });
  assert.equal(rj.json?.state, 'CANCELLED', rj.text);
  const t0 = Date.now();
  const ai = al('GpuEccDoubleBitError', { instance_id: i });
  const aj = al('DmesgGpuFallenOffBus', { instance_id: j });
  await postOk(main, [ai, aj], 0);
  for (const [inst, a] of [[i, ai], [j, aj]]) {
    const la = await alertByFp(main, H, a.fingerprint);
    assert.equal(la.firing, true, 'recorded');
    assert.equal(la.waiting, true, 'held by the cooldown, it waits (docs/http-api.md 11)');
    assert.ok(!('node_remediation_intent_id' in la));
    assert.deepEqual((await rems(main, H, inst)).filter((x) => ACTIVE.includes(x.state)), [], `${inst}: blocked by cooldown`);
  }
  await sleep(Math.max(0, 2000 - (Date.now() - t0)));
  // The sweeper takes the waiting alerts up once the cooldown ended; a repeat only refreshes.
  assert.ok(await waitFor(async () => (await rems(main, H, i))[0].state === 'PENDING_APPROVAL'
    && (await rems(main, H, j))[0].state === 'PENDING_APPROVAL', 5000), 'taken up after the cooldown');
  await postOk(main, [ai, aj], 0);
  assert.equal((await rems(main, H, i))[0].state, 'PENDING_APPROVAL');
  const nj = (await rems(main, H, j))[0];
  assert.equal(nj.state, 'PENDING_APPROVAL');
  assert.equal(nj.mode, HOST_AWARE);
  assert.equal(nj.passive_health_check_event_id, (await alertByFp(main, H, aj.fingerprint)).passive_health_check_alert_id);
});

// ---- cluster automation policy ------------------------------------------------------------

test('cluster automation: PATCH roles and validation; GET shows automation', async () => {
  const p = '/v1/compute/clusters/auto';
  const c0 = await cluster(main, 'auto');
  assert.deepEqual(c0.automation, { policy: 'approve', automatic_alerts: [], waiting_signals: 0 });
  const body = { automation: { policy: 'automatic', automatic_alerts: ['DmesgXidError', 'EvictMe'] } };
  expectStatus(assert, await main.api('PATCH', p, { token: main.op, body }), 403, 7, 'operator');
  expectStatus(assert, await main.api('PATCH', p, { token: approver, body }), 403, 7, 'approver');
  expectStatus(assert, await main.api('PATCH', p, { token: null, body }), 401, 16, 'no token');
  expectStatus(assert, await main.api('PATCH', p, { body: { automation: { policy: 'yolo' } } }), 400, 3, 'bad policy');
  expectStatus(assert, await main.api('PATCH', p, { body: { automation: { policy: 'automatic', automatic_alerts: 'DmesgXidError' } } }), 400, 3, 'alerts not an array');
  expectStatus(assert, await main.api('PATCH', p, { body: {} }), 400, 3, 'no automation');
  expectStatus(assert, await main.api('PATCH', '/v1/compute/clusters/nope', { body }), 404, 5, 'unknown cluster');
  assert.deepEqual((await cluster(main, 'auto')).automation, c0.automation, 'rejected PATCHes changed nothing');
  const ok = await main.api('PATCH', p, { body });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json.automation.policy, 'automatic');
  assert.deepEqual((await cluster(main, 'auto')).automation, { policy: 'automatic', automatic_alerts: ['DmesgXidError', 'EvictMe'], waiting_signals: 0 });
});

test('cluster automation: automatic + in scope → PENDING, reviewed_by auto-approved; out of scope and EVICT wait; approve restores', async () => {
  const p = '/v1/compute/clusters/auto';
  assert.equal((await main.api('PATCH', p, { body: { automation: { policy: 'automatic', automatic_alerts: ['DmesgXidError', 'EvictMe'] } } })).status, 200);
  const xid = al('DmesgXidError', { instance_id: 'auto-i0', xid: '79' });
  await postOk(main, [xid, al('GpuEccDoubleBitError', { instance_id: 'auto-i1' }), al('EvictMe', { instance_id: 'auto-i2' })], 3);
  const r0 = await only(main, 'auto', 'auto-i0');
  assert.equal(r0.state, 'PENDING', 'in scope: approved at once');
  assert.equal(r0.mode, HOST_AWARE);
  assert.equal(r0.trigger, AUTOMATED);
  assert.equal(r0.reviewed_by, 'auto-approved');
  assert.match(r0.review_time, RFC3339_Z);
  assert.equal(r0.requested_by, SYSTEM);
  assert.equal(r0.linked_alerts.length, 1);
  const ev = await getEvents(main, r0);
  assert.deepEqual(ev.filter((e) => e.type === 'state_change').map((e) => e.state), ['PENDING_APPROVAL', 'PENDING'], fmtEvents(ev));
  const r1 = await only(main, 'auto', 'auto-i1');
  assert.equal(r1.state, 'PENDING_APPROVAL', 'out of scope');
  assert.ok(!('reviewed_by' in r1));
  const r2 = await only(main, 'auto', 'auto-i2');
  assert.equal(r2.mode, EVICT);
  assert.equal(r2.state, 'PENDING_APPROVAL', 'EVICT_WITHOUT_REPLACEMENT is never automatic');
  assert.ok(!('reviewed_by' in r2));
  // empty list = every alert; EVICT still excluded
  assert.equal((await main.api('PATCH', p, { body: { automation: { policy: 'automatic', automatic_alerts: [] } } })).status, 200);
  await postOk(main, [al('GpuEccDoubleBitError', { instance_id: 'auto-i3' }), al('EvictMe', { instance_id: 'auto-i4' })], 2);
  assert.equal((await only(main, 'auto', 'auto-i3')).state, 'PENDING');
  assert.equal((await only(main, 'auto', 'auto-i3')).reviewed_by, 'auto-approved');
  assert.equal((await only(main, 'auto', 'auto-i4')).state, 'PENDING_APPROVAL');
  // back to approve
  const back = await main.api('PATCH', p, { body: { automation: { policy: 'approve' } } });
  assert.equal(back.status, 200, back.text);
  assert.deepEqual((await cluster(main, 'auto')).automation, { policy: 'approve', automatic_alerts: [], waiting_signals: 0 });
  await postOk(main, [al('DmesgXidError', { instance_id: 'auto-i5', xid: '79' })], 1);
  assert.equal((await only(main, 'auto', 'auto-i5')).state, 'PENDING_APPROVAL');
  // automation of one cluster does not leak into another
  await postOk(main, [al('DmesgXidError', { instance_id: 'x2-i0', xid: '13' })], 1);
  assert.equal((await only(main, 'x2', 'x2-i0')).state, 'PENDING_APPROVAL');
});

// ---- per-instance opt-out -----------------------------------------------------------------

test('auto_repair opt-out: PATCH roles/validation; node shows it; alerts recorded, nothing created; manual works; opt back in', async () => {
  const p = (i) => `/v1/compute/clusters/opt/instances/${i}`;
  expectStatus(assert, await main.api('PATCH', p('opt-i0'), { token: viewer, body: { auto_repair: false } }), 403, 7, 'viewer');
  expectStatus(assert, await main.api('PATCH', p('opt-i0'), { token: null, body: { auto_repair: false } }), 401, 16, 'no token');
  expectStatus(assert, await main.api('PATCH', p('opt-i0'), { token: main.op, body: { auto_repair: 'no' } }), 400, 3, 'not a bool');
  expectStatus(assert, await main.api('PATCH', p('opt-i0'), { token: main.op, body: {} }), 400, 3, 'missing');
  expectStatus(assert, await main.api('PATCH', p('nope'), { token: main.op, body: { auto_repair: false } }), 404, 5, 'unknown instance');
  expectStatus(assert, await main.api('PATCH', p('x2-i1'), { token: main.op, body: { auto_repair: false } }), 404, 5, 'instance of another cluster');
  const n0 = (await cluster(main, 'opt')).gpu_worker_nodes.find((n) => n.instance_id === 'opt-i0');
  assert.equal(n0.auto_repair, true, 'default on');
  for (const i of ['opt-i0', 'opt-i1']) {
    const r = await main.api('PATCH', p(i), { token: main.op, body: { auto_repair: false } });
    assert.equal(r.status, 200, r.text);
  }
  const nodes = (await cluster(main, 'opt')).gpu_worker_nodes;
  for (const i of ['opt-i0', 'opt-i1']) {
    const n = nodes.find((x) => x.instance_id === i);
    assert.equal(n.auto_repair, false);
    assert.equal(n.auto_remediation_enabled, false);
  }
  assert.equal((await main.api('GET', '/v1/compute/clusters/x2')).json.gpu_worker_nodes.every((n) => n.auto_repair === true), true, 'other instances untouched');
  const a0 = al('DmesgXidError', { instance_id: 'opt-i0', xid: '79' });
  const a1 = al('GpuEccDoubleBitError', { instance_id: 'opt-i1' });
  await postOk(main, [a0, a1], 0);
  assert.deepEqual(await rems(main, 'opt', 'opt-i0'), []);
  const la0 = await alertByFp(main, 'opt', a0.fingerprint);
  assert.equal(la0.firing, true);
  assert.equal(la0.waiting, false);
  // manual still works, and later alerts link to it
  const m = await create(main, 'opt', 'opt-i0', { mode: VM_ONLY, reason: 'by hand', token: main.op });
  assert.equal(m.status, 200, m.text);
  await postOk(main, [al('NpdXfsShutdown', { instance_id: 'opt-i0' })], 0);
  assert.equal((await getRem(main, m.json)).linked_alerts?.length, 1, 'linked to the manual remediation');
  // opt back in: the repeat of the held alert now creates
  const on = await main.api('PATCH', p('opt-i1'), { token: main.op, body: { auto_repair: true } });
  assert.equal(on.status, 200, on.text);
  assert.equal((await cluster(main, 'opt')).gpu_worker_nodes.find((x) => x.instance_id === 'opt-i1').auto_repair, true);
  await postOk(main, [a1], 1);
  assert.equal((await only(main, 'opt', 'opt-i1')).state, 'PENDING_APPROVAL');
});

// ---- alerts listing -----------------------------------------------------------------------

test('alerts listing: newest first by started_at, status filter, paging, tokens, roles', async () => {
  const base = Date.now() - 3600000;
  const sent = [];
  for (let k = 0; k < 7; k++) {
    const firing = k % 2 === 0;
    sent.push(al('ListProbe', { instance_id: `list-i${k % 4}`, k: String(k) }, {
      status: firing ? 'firing' : 'resolved',
      startsAt: iso(base + k * 1000),
      endsAt: firing ? undefined : iso(base + k * 1000 + 500),
    }));
  }
  await postOk(main, [...sent].sort(() => Math.random() - 0.5), 0);
  const all = await alerts(main, 'list');
  assert.deepEqual(all.map((a) => a.labels.k), ['6', '5', '4', '3', '2', '1', '0'], 'newest first');
  for (const a of all) {
    for (const f of ['passive_health_check_alert_id', 'alert_name', 'cluster_id', 'instance_id', 'target_vm', 'severity',
      'started_at', 'annotations', 'annotation', 'fingerprint', 'labels']) assert.ok(f in a, `field ${f}: ${JSON.stringify(a)}`);
    assert.equal(typeof a.firing, 'boolean');
    assert.equal(typeof a.waiting, 'boolean');
    assert.equal(a.cluster_id, 'list');
    assert.match(a.started_at, RFC3339_Z);
    assert.equal('resolved_at' in a, !a.firing);
    assert.equal(a.firing, Number(a.labels.k) % 2 === 0);
  }
  const firing = await alerts(main, 'list', { status: 'firing' });
  assert.deepEqual(firing.map((a) => a.labels.k), ['6', '4', '2', '0']);
  const resolved = await alerts(main, 'list', { status: 'resolved' });
  assert.deepEqual(resolved.map((a) => a.labels.k), ['5', '3', '1']);
  // paging by 2
  const seen = [];
  let tok = '';
  let pages = 0;
  for (;;) {
    const q = { page_size: '2' };
    if (tok) q.page_token = tok;
    const r = await main.api('GET', '/v1/compute/clusters/list/health/alerts', { query: q });
    assert.equal(r.status, 200, r.text);
    pages++;
    assert.ok(r.json.alerts.length <= 2);
    seen.push(...r.json.alerts.map((a) => a.labels.k));
    if (!r.json.has_next) { assert.equal(r.json.next_page_token, ''); break; }
    assert.equal(typeof r.json.next_page_token, 'string');
    assert.ok(r.json.next_page_token.length > 0);
    tok = r.json.next_page_token;
    if (pages === 1) {
      expectStatus(assert, await main.api('GET', '/v1/compute/clusters/list/health/alerts', { query: { page_token: tok, status: 'firing' } }), 400, 3, 'token with another filter');
      expectStatus(assert, await main.api('GET', '/v1/compute/clusters/list/health/alerts', { query: { page_token: tok.slice(0, -2) + (tok.endsWith('A') ? 'BB' : 'AA') } }), 400, 3, 'tampered token');
    }
  }
  assert.equal(pages, 4);
  assert.deepEqual(seen, ['6', '5', '4', '3', '2', '1', '0'], 'every alert once, in order');
  // filtered paging
  const fp = await main.api('GET', '/v1/compute/clusters/list/health/alerts', { query: { status: 'resolved', page_size: '2' } });
  assert.deepEqual(fp.json.alerts.map((a) => a.labels.k), ['5', '3']);
  assert.equal(fp.json.has_next, true);
  const fp2 = await main.api('GET', '/v1/compute/clusters/list/health/alerts', { query: { status: 'resolved', page_size: '2', page_token: fp.json.next_page_token } });
  assert.deepEqual(fp2.json.alerts.map((a) => a.labels.k), ['1']);
  assert.equal(fp2.json.has_next, false);
  // errors and roles
  expectStatus(assert, await main.api('GET', '/v1/compute/clusters/list/health/alerts', { query: { status: 'pending' } }), 400, 3, 'bad status');
  expectStatus(assert, await main.api('GET', '/v1/compute/clusters/list/health/alerts', { query: { page_size: '-1' } }), 400, 3, 'negative page_size');
  expectStatus(assert, await main.api('GET', '/v1/compute/clusters/nope/health/alerts'), 404, 5, 'unknown cluster');
  expectStatus(assert, await main.api('GET', '/v1/compute/clusters/list/health/alerts', { token: null }), 401, 16, 'no token');
  const v = await main.api('GET', '/v1/compute/clusters/list/health/alerts', { token: viewer });
  assert.equal(v.status, 200, 'a viewer reads alerts');
  const scoped = await main.token('scoped-viewer', 'viewer', ['x2']);
  const s = await main.api('GET', '/v1/compute/clusters/list/health/alerts', { token: scoped });
  assert.ok(s.status === 403 || s.status === 404, `out-of-scope cluster → 403/404, got ${s.status}`);
  assert.equal((await main.api('GET', '/v1/compute/clusters/x2/health/alerts', { token: scoped })).status, 200);
  // an empty cluster lists nothing
  const e = await main.api('GET', '/v1/compute/clusters/x2/health/alerts', { query: { status: 'resolved' } });
  assert.deepEqual(e.json, { alerts: [], has_next: false, next_page_token: '' });
});

test('alerts listing: equal started_at pages every alert exactly once', async () => {
  const t = iso(Date.now() - 7200000);
  const sent = Array.from({ length: 7 }, (_, k) => al('TieProbe', { instance_id: 'ties-i0', k: String(k) }, { startsAt: t }));
  await postOk(main, sent, 0);
  for (const size of [1, 2, 3]) {
    const seen = [];
    let tok = '';
    for (let n = 0; n < 20; n++) {
      const q = { page_size: String(size) };
      if (tok) q.page_token = tok;
      const r = await main.api('GET', '/v1/compute/clusters/ties/health/alerts', { query: q });
      assert.equal(r.status, 200, r.text);
      seen.push(...r.json.alerts.map((a) => a.labels.k));
      if (!r.json.has_next) break;
      tok = r.json.next_page_token;
    }
    assert.deepEqual([...seen].sort(), ['0', '1', '2', '3', '4', '5', '6'], `page_size ${size}: ${seen}`);
  }
});

test('automation settings survive a restart (cluster policy, auto_repair)', async () => {
  const srv = await startServer({ fleet: makeFleet([{ cluster_id: 'p', instances: 2 }]) });
  try {
    srv.op = await srv.token('op', 'operator');
    assert.equal((await srv.api('PATCH', '/v1/compute/clusters/p', { body: { automation: { policy: 'automatic', automatic_alerts: ['NpdXfsShutdown'] } } })).status, 200);
    assert.equal((await srv.api('PATCH', '/v1/compute/clusters/p/instances/p-i1', { token: srv.op, body: { auto_repair: false } })).status, 200);
    await srv.restart();
    const c = await cluster(srv, 'p');
    assert.deepEqual(c.automation, { policy: 'automatic', automatic_alerts: ['NpdXfsShutdown'], waiting_signals: 0 });
    assert.deepEqual(c.gpu_worker_nodes.map((n) => [n.instance_id, n.auto_repair]), [['p-i0', true], ['p-i1', false]]);
    await postOk(srv, [al('NpdXfsShutdown', { instance_id: 'p-i0' }), al('NpdXfsShutdown', { instance_id: 'p-i1' })], 1);
    assert.equal((await only(srv, 'p', 'p-i0')).reviewed_by, 'auto-approved');
  } finally {
    await srv.close();
  }
});

// ---- blast radius -------------------------------------------------------------------------

test('blast radius: max_active cap (10 instances × 0.3 → 3, capped at 2), waiting, taken up oldest first when room frees', async () => {
  const srv = await startServer({
    fleet: makeFleet([{ cluster_id: 'b10', instances: 10 }]),
    config: 'automation: {max_active_fraction: 0.3, max_active: 2, cooldown_s: 0}\n',
  });
  try {
    srv.op = await srv.token('op', 'operator');
    const appr = await srv.token('ap', 'approver');
    const m = await create(srv, 'b10', 'b10-i0', { mode: VM_ONLY, reason: 'manual counts too', token: srv.op });
    assert.equal(m.status, 200);
    const a1 = al('GpuEccDoubleBitError', { instance_id: 'b10-i1' });
    await postOk(srv, [a1], 1);
    assert.equal(await activeCount(srv, 'b10'), 2);
    const now = Date.now();
    const a2 = al('GpuEccDoubleBitError', { instance_id: 'b10-i2' }, { startsAt: iso(now - 2000) });
    const a3 = al('NpdXfsShutdown', { instance_id: 'b10-i3' }, { startsAt: iso(now - 1000) });
    await postOk(srv, [a3, a2], 0);
    assert.equal(await activeCount(srv, 'b10'), 2, 'exactly the limit');
    for (const a of [a2, a3]) {
      const la = await alertByFp(srv, 'b10', a.fingerprint);
      assert.equal(la.waiting, true, `held back: ${JSON.stringify(la)}`);
      assert.ok(!('node_remediation_intent_id' in la));
    }
    assert.equal((await cluster(srv, 'b10')).automation.waiting_signals, 2);
    // an alert on an instance that is already active is linked, not held back
    const a1b = al('IBLinkFlapping', { instance_id: 'b10-i1' });
    await postOk(srv, [a1b], 0);
    const la1b = await alertByFp(srv, 'b10', a1b.fingerprint);
    assert.equal(la1b.waiting, false);
    assert.ok(la1b.node_remediation_intent_id);
    // the sweeper does not create while full
    await sweptAfter(srv);
    assert.deepEqual(await rems(srv, 'b10', 'b10-i2'), []);
    assert.equal((await cluster(srv, 'b10')).automation.waiting_signals, 2);
    // a cancel frees one slot: the oldest waiting signal is taken up
    assert.equal((await srv.api('POST', rPath('b10', 'b10-i0', m.json.id, 'cancel'), { token: srv.op })).status, 200);
    const got = await waitFor(async () => (await rems(srv, 'b10', 'b10-i2'))[0], 4000, 100);
    assert.ok(got, 'waiting alert on b10-i2 taken up within 4 s of the cancel');
    checkAutomated(got, { c: 'b10', i: 'b10-i2', mode: REBOOT, alert: a2 });
    assert.equal((await alertByFp(srv, 'b10', a2.fingerprint)).waiting, false);
    assert.equal((await alertByFp(srv, 'b10', a2.fingerprint)).node_remediation_intent_id, got.id);
    await sweptAfter(srv);
    assert.deepEqual(await rems(srv, 'b10', 'b10-i3'), [], 'still full: b10-i3 keeps waiting');
    assert.equal((await alertByFp(srv, 'b10', a3.fingerprint)).waiting, true);
    assert.equal((await cluster(srv, 'b10')).automation.waiting_signals, 1);
    assert.equal(await activeCount(srv, 'b10'), 2);
    // a waiting alert that resolves stops waiting and is never taken up
    await postOk(srv, [{ ...a3, status: 'resolved', endsAt: iso() }], 0);
    assert.equal((await alertByFp(srv, 'b10', a3.fingerprint)).waiting, false);
    assert.equal((await cluster(srv, 'b10')).automation.waiting_signals, 0);
    const r1 = await only(srv, 'b10', 'b10-i1');
    assert.equal((await srv.api('POST', rPath('b10', 'b10-i1', r1.id, 'reject'), { token: appr })).status, 200);
    await sweptAfter(srv);
    assert.deepEqual(await rems(srv, 'b10', 'b10-i3'), [], 'a resolved signal is not taken up');
  } finally {
    await srv.close();
  }
});

test('blast radius: fraction (4 × 0.3 → 1), the floor of 1 (2 × 0.3 → 1); automatic policy also waits, then auto-approves; concurrent webhooks', async () => {
  const srv = await startServer({
    fleet: makeFleet([{ cluster_id: 'b4', instances: 4 }, { cluster_id: 'b2', instances: 2 }, { cluster_id: 'c20', instances: 20 }]),
    config: 'automation: {max_active_fraction: 0.3, max_active: 2, cooldown_s: 0}\n',
  });
  try {
    srv.op = await srv.token('op', 'operator');
    assert.equal((await srv.api('PATCH', '/v1/compute/clusters/b4', { body: { automation: { policy: 'automatic' } } })).status, 200);
    await postOk(srv, [al('GpuEccDoubleBitError', { instance_id: 'b4-i0' }), al('GpuEccDoubleBitError', { instance_id: 'b4-i1' }, { startsAt: iso(Date.now() - 1000) })], 1);
    const r0 = (await rems(srv, 'b4', '-'))[0];
    assert.equal(r0.state, 'PENDING', 'auto-approved');
    assert.equal(r0.reviewed_by, 'auto-approved');
    const waitingInst = r0.instance_id === 'b4-i0' ? 'b4-i1' : 'b4-i0';
    assert.equal(await activeCount(srv, 'b4'), 1);
    assert.equal((await cluster(srv, 'b4')).automation.waiting_signals, 1);
    await postOk(srv, [al('GpuEccDoubleBitError', { instance_id: 'b4-i2' })], 0);
    assert.equal((await cluster(srv, 'b4')).automation.waiting_signals, 2);
    assert.equal((await srv.api('POST', rPath('b4', r0.instance_id, r0.id, 'cancel'), { token: srv.op })).status, 200);
    const got = await waitFor(async () => (await rems(srv, 'b4', waitingInst))[0], 4000, 100);
    assert.ok(got, `waiting signal on ${waitingInst} taken up`);
    assert.equal(got.state, 'PENDING', 'taken up and auto-approved');
    assert.equal(got.reviewed_by, 'auto-approved');
    assert.equal(await activeCount(srv, 'b4'), 1);
    assert.equal((await cluster(srv, 'b4')).automation.waiting_signals, 1);
    // floor of 1
    await postOk(srv, [al('NpdXfsShutdown', { instance_id: 'b2-i0' }), al('NpdXfsShutdown', { instance_id: 'b2-i1' })], 1);
    assert.equal(await activeCount(srv, 'b2'), 1);
    assert.equal((await cluster(srv, 'b2')).automation.waiting_signals, 1);
    // 20 concurrent webhooks on 20 instances (limit min(floor(6), 2) = 2): exactly 2 created
    const res = await Promise.all(Array.from({ length: 20 }, (_, k) => post(srv, [al('NpdKernelDeadlock', { instance_id: `c20-i${k}` })])));
    assert.deepEqual(res.map((r) => r.status), res.map(() => 200));
    assert.equal(res.reduce((n, r) => n + r.json.remediations_created, 0), 2, 'created exactly up to the limit');
    assert.equal(await activeCount(srv, 'c20'), 2);
    assert.equal((await cluster(srv, 'c20')).automation.waiting_signals, 18);
    await sweptAfter(srv);
    assert.equal(await activeCount(srv, 'c20'), 2, 'the sweeper keeps the limit too');
  } finally {
    await srv.close();
  }
});

test('defaults (no config): fraction 0.10 (25 → 2), cooldown 30 min, auto-resolve TTL 300 s measured from endsAt', async () => {
  const srv = await startServer({
    fleet: makeFleet([{ cluster_id: 'd25', instances: 25 }, { cluster_id: 'd1', instances: 1 }, { cluster_id: 'dt', instances: 20 }]),
  });
  try {
    srv.op = await srv.token('op', 'operator');
    await postOk(srv, ['d25-i0', 'd25-i1', 'd25-i2'].map((i) => al('GpuEccDoubleBitError', { instance_id: i })), 2);
    assert.equal(await activeCount(srv, 'd25'), 2);
    assert.equal((await cluster(srv, 'd25')).automation.waiting_signals, 1);
    // cooldown
    const m = await create(srv, 'd1', 'd1-i0', { mode: VM_ONLY, token: srv.op });
    assert.equal((await srv.api('POST', rPath('d1', 'd1-i0', m.json.id, 'cancel'), { token: srv.op })).status, 200);
    const a = al('GpuEccDoubleBitError', { instance_id: 'd1-i0' });
    await postOk(srv, [a], 0);
    await sweptAfter(srv);
    await postOk(srv, [a], 0);
    assert.deepEqual((await rems(srv, 'd1', 'd1-i0')).map((x) => x.state), ['CANCELLED']);
    // TTL: resolved 6 min ago → AUTO_RESOLVED; resolved 4 min ago → still waiting
    const t = Date.now();
    const old = al('GpuEccDoubleBitError', { instance_id: 'dt-i0' }, { startsAt: iso(t - 20 * 60000) });
    const recent = al('GpuEccDoubleBitError', { instance_id: 'dt-i1' }, { startsAt: iso(t - 20 * 60000) });
    await postOk(srv, [old, recent], 2);
    await postOk(srv, [{ ...old, status: 'resolved', endsAt: iso(t - 6 * 60000) }, { ...recent, status: 'resolved', endsAt: iso(t - 4 * 60000) }], 0);
    const r0 = await only(srv, 'dt', 'dt-i0');
    await waitState(srv, r0, ['AUTO_RESOLVED'], 4000);
    await sweptAfter(srv);
    assert.equal((await only(srv, 'dt', 'dt-i1')).state, 'PENDING_APPROVAL');
  } finally {
    await srv.close();
  }
});

test('automation.rules overrides the table (none, X, REMEDIATION_MODE_X, new names); a bad mode stops startup', async () => {
  const srv = await startServer({
    fleet: makeFleet([{ cluster_id: 'r', instances: 8 }]),
    config: [
      'automation:',
      '  max_active_fraction: 1.0',
      '  rules:',
      '    GpuEccDoubleBitError: none',
      '    KubeNodeDiskPressure: VM_ONLY',
      '    GpuPcieReplayRateHigh: REMEDIATION_MODE_REBOOT_VM',
      '    CustomAlert: HOST_AWARE',
      '',
    ].join('\n'),
  });
  try {
    srv.op = await srv.token('op', 'operator');
    const sent = [
      ['r-i0', 'GpuEccDoubleBitError', null, WARN],
      ['r-i1', 'KubeNodeDiskPressure', VM_ONLY, CRIT],
      ['r-i2', 'GpuPcieReplayRateHigh', REBOOT, WARN],
      ['r-i3', 'CustomAlert', HOST_AWARE, CRIT],
      ['r-i4', 'NpdXfsShutdown', VM_ONLY, CRIT], // untouched default
    ].map(([i, name, mode, sev]) => ({ i, mode, sev, alert: al(name, { instance_id: i }) }));
    await postOk(srv, sent.map((s) => s.alert), 4);
    for (const s of sent) {
      const list = await rems(srv, 'r', s.i);
      const la = await alertByFp(srv, 'r', s.alert.fingerprint);
      assert.equal(la.severity, s.sev, `${s.alert.labels.alertname} severity`);
      if (!s.mode) { assert.deepEqual(list, [], `${s.alert.labels.alertname}: none`); continue; }
      assert.equal(list.length, 1);
      assert.equal(list[0].mode, s.mode, s.alert.labels.alertname);
    }
  } finally {
    await srv.close();
  }
  const bad = new Server({ fleet: makeFleet([{ cluster_id: 'r', instances: 1 }]), config: 'automation:\n  rules:\n    X: REMEDIATION_MODE_TELEPORT\n' });
  try {
    await assert.rejects(bad.start(), /exited early/, 'an unknown mode in automation.rules is a startup error');
  } finally {
    await bad.close();
  }
});

// ---- simulated faults, with the engine running --------------------------------------------

let eng; // engine running, zero timing, fraction 1.0, cooldown 2 s
before(async () => {
  eng = await startServer({
    fleet: makeFleet([{ cluster_id: 'e', instances: 6 }, { cluster_id: 'e2', instances: 3 }]),
    enginePaused: false,
    config: 'automation: {max_active_fraction: 1.0, cooldown_s: 2}\n',
  });
  eng.op = await eng.token('op', 'operator');
  eng.viewer = await eng.token('v', 'viewer');
  eng.approver = await eng.token('ap', 'approver');
});
after(async () => { if (eng) await eng.close(); });

const fault = (srv, i, body, token) => srv.api('POST', `/v1/sim/instances/${i}/faults`, { token: token === undefined ? srv.op : token, body });

test('sim faults: roles and validation', async () => {
  expectStatus(assert, await fault(eng, 'e-i5', { kind: 'xid', xid: 79 }, eng.viewer), 403, 7, 'viewer');
  expectStatus(assert, await fault(eng, 'e-i5', { kind: 'xid', xid: 79 }, null), 401, 16, 'no token');
  expectStatus(assert, await fault(eng, 'e-i5', { kind: 'meteor' }), 400, 3, 'unknown kind');
  expectStatus(assert, await fault(eng, 'e-i5', { kind: 'xid' }), 400, 3, 'xid without a code');
  expectStatus(assert, await fault(eng, 'e-i5', { kind: 'xid', xid: 'seventy-nine' }), 400, 3, 'xid not a number');
  assert.deepEqual(await alerts(eng, 'e', { instance: 'e-i5' }), []);
});

test('sim faults: unknown instance → 404 NOT_FOUND', async () => {
  expectStatus(assert, await fault(eng, 'no-such-instance', { kind: 'xid', xid: 79 }), 404, 5, 'unknown instance');
});

test('sim loop: xid 79 → PENDING_APPROVAL HOST_AWARE → approve → engine → SUCCEEDED with the linked alert; then cooldown; slurm_drain; clear', async () => {
  const i = 'e-i0';
  const f = await fault(eng, i, { kind: 'xid', xid: 79 });
  assert.equal(f.status, 200, f.text);
  assert.deepEqual(f.json, { alerts: 1, remediations_created: 1, out_of_scope: 0 });
  const pa = await only(eng, 'e', i);
  assert.equal(pa.state, 'PENDING_APPROVAL');
  assert.equal(pa.mode, HOST_AWARE);
  assert.equal(pa.trigger, AUTOMATED);
  assert.equal(pa.requested_by, SYSTEM);
  const la = pa.linked_alerts?.[0];
  assert.equal(la?.alert_name, 'DmesgXidError', JSON.stringify(pa));
  assert.deepEqual(la.annotation.xid.events, [{ xid_code: '79', mnemonic: 'GPU has fallen off the bus', count: 1 }]);
  assert.equal(la.severity, CRIT);
  assert.equal(pa.passive_health_check_event_id, la.passive_health_check_alert_id);
  await scannedAfter(eng);
  assert.equal((await getRem(eng, pa)).state, 'PENDING_APPROVAL', 'the running engine does not touch PENDING_APPROVAL');
  const hostBefore = (await cluster(eng, 'e')).gpu_worker_nodes.find((n) => n.instance_id === i).host_name;
  expectStatus(assert, await eng.api('POST', rPath('e', i, pa.id, 'approve'), { token: eng.op, body: {} }), 403, 7, 'operator approves');
  const ap = await eng.api('POST', rPath('e', i, pa.id, 'approve'), { token: eng.approver, body: { comment: 'go' } });
  assert.equal(ap.status, 200, ap.text);
  assert.equal(ap.json.reviewed_by, 'ap');
  assert.equal(ap.json.review_comment, 'go');
  const done = await waitState(eng, pa, ['SUCCEEDED', 'FAILED'], 10000);
  assert.equal(done.state, 'SUCCEEDED', JSON.stringify(done));
  assert.equal(done.mode, HOST_AWARE);
  assert.match(done.start_time, RFC3339_Z);
  assert.match(done.end_time, RFC3339_Z);
  assert.deepEqual(done.linked_alerts.map((x) => x.passive_health_check_alert_id), [la.passive_health_check_alert_id], 'the result keeps its linked alert');
  const node = (await cluster(eng, 'e')).gpu_worker_nodes.find((n) => n.instance_id === i);
  assert.notEqual(node.host_name, hostBefore, 'HOST_AWARE moved it');
  assert.equal(node.latest_remediation?.id, pa.id);
  // cooldown after SUCCEEDED: a new fault creates nothing
  const t = await fault(eng, i, { kind: 'thermal' });
  assert.deepEqual(t.json, { alerts: 1, remediations_created: 0, out_of_scope: 0 }, 'cooldown after SUCCEEDED');
  // slurm_drain: recorded with its reason, nothing created
  const s = await fault(eng, 'e-i1', { kind: 'slurm_drain', reason: 'Kill task failed' });
  assert.deepEqual(s.json, { alerts: 1, remediations_created: 0, out_of_scope: 0 });
  const sa = (await alerts(eng, 'e', { instance: 'e-i1' })).find((x) => x.alert_name === 'SlurmNodeUnavailable');
  assert.deepEqual(sa?.annotation?.slurm_node_unavailable, { reason: 'Kill task failed' });
  assert.deepEqual(await rems(eng, 'e', 'e-i1'), []);
  // thermal elsewhere → HOST_AWARE
  assert.deepEqual((await fault(eng, 'e-i2', { kind: 'thermal' })).json, { alerts: 1, remediations_created: 1, out_of_scope: 0 });
  const th = await only(eng, 'e', 'e-i2');
  assert.equal(th.mode, HOST_AWARE);
  assert.equal(th.linked_alerts[0].alert_name, 'GpuSmClockThermalThrottle');
  // clear resolves the passive alerts of the instance
  for (const inst of [i, 'e-i1', 'e-i2']) {
    const c = await fault(eng, inst, { kind: 'clear' });
    assert.equal(c.status, 200, c.text);
  }
  for (const inst of [i, 'e-i1', 'e-i2']) {
    const list = await alerts(eng, 'e', { instance: inst });
    assert.ok(list.length > 0);
    assert.deepEqual(list.filter((x) => x.firing).map((x) => x.alert_name), [], `${inst}: every alert resolved by clear`);
  }
});

test('sim clear keeps the evidence: labels (xid), annotations, xid.events, severity; no "" fields', async () => {
  const i = 'e-i3';
  assert.equal((await fault(eng, i, { kind: 'xid', xid: 79 })).json?.remediations_created, 1);
  const before = (await alerts(eng, 'e', { instance: i }))[0];
  assert.equal((await fault(eng, i, { kind: 'clear' })).status, 200);
  const after = (await alerts(eng, 'e', { instance: i }))[0];
  assert.equal(after.firing, false);
  assert.equal(after.labels.xid, '79', `clear keeps the xid label: ${JSON.stringify(after.labels)}`);
  assert.deepEqual(after.annotation.xid?.events, before.annotation.xid.events, 'xid.events survive the clear');
  assert.equal(after.severity, before.severity);
  assert.deepEqual(after.annotations, before.annotations, 'clear does not rewrite the annotations');
  const r = await only(eng, 'e', i);
  assert.deepEqual(findNullOrEmpty(r), [], `no "" in the remediation after clear: ${JSON.stringify(r.linked_alerts)}`);
});

test('sim: xid 13 then xid 79 on the same instance escalates REBOOT_VM → HOST_AWARE', async () => {
  const i = 'e-i4';
  assert.equal((await fault(eng, i, { kind: 'xid', xid: 13 })).json?.remediations_created, 1);
  const r0 = await only(eng, 'e', i);
  assert.equal(r0.mode, REBOOT);
  assert.equal((await fault(eng, i, { kind: 'xid', xid: 79 })).status, 200);
  const r1 = await getRem(eng, r0);
  const codes = r1.linked_alerts.flatMap((a) => a.annotation.xid?.events?.map((e) => e.xid_code) ?? []);
  assert.ok(codes.includes('79'), `xid 79 is linked evidence: ${JSON.stringify(r1.linked_alerts)}`);
  assert.equal(r1.mode, HOST_AWARE, `evidence of Xid 79 is linked (${codes}) but the mode stays ${r1.mode}`);
});

test('automatic policy with the engine running: thermal fault → auto-approved → SUCCEEDED without a person', async () => {
  assert.equal((await eng.api('PATCH', '/v1/compute/clusters/e2', { body: { automation: { policy: 'automatic', automatic_alerts: ['GpuSmClockThermalThrottle'] } } })).status, 200);
  assert.deepEqual((await fault(eng, 'e2-i0', { kind: 'thermal' })).json, { alerts: 1, remediations_created: 1, out_of_scope: 0 });
  const r = await only(eng, 'e2', 'e2-i0');
  const done = await waitState(eng, r, ['SUCCEEDED', 'FAILED'], 10000);
  assert.equal(done.state, 'SUCCEEDED');
  assert.equal(done.reviewed_by, 'auto-approved');
  assert.equal(done.trigger, AUTOMATED);
  assert.equal(done.linked_alerts.length, 1);
  // an xid 13 is out of scope: waits for a person
  assert.deepEqual((await fault(eng, 'e2-i1', { kind: 'xid', xid: 13 })).json, { alerts: 1, remediations_created: 1, out_of_scope: 0 });
  await scannedAfter(eng);
  assert.equal((await only(eng, 'e2', 'e2-i1')).state, 'PENDING_APPROVAL');
});
