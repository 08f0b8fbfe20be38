// docs/http-api.md 5 end to end with a real Alertmanager (Debian package prometheus-alertmanager):
// an alert injected into Alertmanager reaches noderepair through its webhook receiver
// (Bearer token, send_resolved), creates the automated remediation, and its resolution
// auto-resolves it. Skips when /usr/bin/prometheus-alertmanager is not installed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeFleet, rPath, AUTOMATED } from './lib/server.mjs';
import { HOST_AWARE, waitFor, getRem } from './lib/engine.mjs';
import { AM_SKIP as SKIP, startAlertmanager as startAm } from './lib/alertmanager.mjs';

let srv;
let am; // lib/alertmanager.mjs

const amApi = (method, p, body) => am.api(method, p, body);

async function startAlertmanager(webhookUrl, token) {
  am = await startAm([
    'global:',
    '  resolve_timeout: 5s',
    'route:',
    '  receiver: noderepair',
    '  group_by: [alertname, node]',
    '  group_wait: 1s',
    '  group_interval: 1s',
    '  repeat_interval: 1h',
    'receivers:',
    '  - name: noderepair',
    '    webhook_configs:',
    `      - url: ${JSON.stringify(webhookUrl)}`,
    '        send_resolved: true',
    '        max_alerts: 0',
    '        http_config:',
    '          authorization:',
    '            type: Bearer',
    `            credentials: ${JSON.stringify(token)}`,
    '',
  ].join('\n'));
}

before(async () => {
  if (SKIP) return;
  srv = await startServer({
    fleet: makeFleet([{ cluster_id: 'am', instances: 4 }]),
    config: 'automation: {auto_resolve_ttl_s: 1, max_active_fraction: 1.0}\n',
  });
  const token = await srv.token('alertmanager', 'operator');
  await startAlertmanager(`${srv.base}/v1/integrations/alertmanager`, token);
});

after(async () => {
  await am?.stop();
  if (srv) await srv.close();
});

test('real Alertmanager: DmesgXidError xid=79 → PENDING_APPROVAL HOST_AWARE; resolved → AUTO_RESOLVED', { skip: SKIP, timeout: 60000 }, async () => {
  const iid = 'am-i1';
  const node = 'am-gpu-1';
  const labels = { alertname: 'DmesgXidError', node, xid: '79', severity: 'critical' };
  const annotations = { summary: `Xid 79 on ${node}`, description: 'NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.' };
  const startsAt = new Date(Date.now() - 1000).toISOString();
  // endsAt far ahead, so the alert stays firing past resolve_timeout while we watch
  const fire = await amApi('POST', '/api/v2/alerts', [{
    labels, annotations, startsAt, endsAt: new Date(Date.now() + 3600000).toISOString(),
  }]);
  assert.equal(fire.status, 200, `POST /api/v2/alerts: ${fire.status} ${fire.text}`);

  const ctx = () => `\nAlertmanager log:\n${am.log.text.slice(-3000)}`;
  const rem = await waitFor(async () => {
    const l = await srv.api('GET', rPath('am', iid));
    return l.json?.remediations?.[0];
  }, 20000, 200);
  assert.ok(rem, `no remediation for ${iid} within 20 s of the alert${ctx()}`);
  assert.equal(rem.state, 'PENDING_APPROVAL');
  assert.equal(rem.mode, HOST_AWARE);
  assert.equal(rem.trigger, AUTOMATED);
  assert.equal(rem.requested_by, 'system:health-checks');
  assert.equal(rem.linked_alerts?.length, 1, JSON.stringify(rem));
  const la = rem.linked_alerts[0];
  assert.equal(la.alert_name, 'DmesgXidError');
  assert.equal(la.instance_id, iid);
  assert.equal(la.target_vm, node);
  assert.equal(la.severity, 'PHC_SEVERITY_CRITICAL');
  assert.equal(la.passive_health_check_alert_id, rem.passive_health_check_event_id);
  assert.deepEqual(la.annotation.xid.events, [{ xid_code: '79', mnemonic: 'GPU has fallen off the bus', count: 1 }]);
  assert.deepEqual(la.annotations, annotations);
  assert.ok(!('resolved_at' in la));
  const listed = (await srv.api('GET', '/v1/compute/clusters/am/health/alerts')).json.alerts;
  assert.equal(listed.length, 1, 'one alert recorded, whatever Alertmanager resent');
  assert.deepEqual(listed[0].labels, labels);
  assert.equal(listed[0].firing, true);
  assert.match(listed[0].fingerprint, /^[0-9a-f]{16}$/, 'Alertmanager fingerprint kept');

  // nothing on the other instances
  const all = (await srv.api('GET', rPath('am', '-'))).json.remediations;
  assert.deepEqual(all.map((r) => r.instance_id), [iid]);

  // resolve: the same alert with endsAt in the past
  const endsAt = new Date(Date.now() - 500).toISOString();
  const res = await amApi('POST', '/api/v2/alerts', [{ labels, annotations, startsAt, endsAt }]);
  assert.equal(res.status, 200, res.text);
  const done = await waitFor(async () => {
    const g = await getRem(srv, rem);
    return g.state === 'AUTO_RESOLVED' ? g : null;
  }, 25000, 200);
  const last = await getRem(srv, rem);
  assert.ok(done, `not AUTO_RESOLVED within 25 s of the resolution; last: ${JSON.stringify(last)}${ctx()}`);
  assert.ok(done.end_time, 'end_time set');
  assert.ok(done.linked_alerts[0].resolved_at, 'linked alert resolved');
  const after = (await srv.api('GET', '/v1/compute/clusters/am/health/alerts')).json.alerts;
  assert.equal(after.length, 1);
  assert.equal(after[0].firing, false);
});
