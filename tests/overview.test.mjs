// docs/http-api.md 11, "Overview" and "Notifications": GET …/clusters/{c}/stats over a history
// seeded across three UTC days (the server's clock set back with libfaketime), and noderepair's
// own NoderepairApprovalWaiting alert pushed to a real Alertmanager 0.25 and resolved on approval.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeFleet, expectStatus, makePendingApproval, rPath, counter } from './lib/server.mjs';
import { VM_ONLY, REBOOT, HOST_AWARE, waitState, waitFor } from './lib/engine.mjs';
import { AM_SKIP, startAlertmanager } from './lib/alertmanager.mjs';
import { HISTORY_SKIP, seedHistory, utcDate } from './lib/history.mjs';

const STATS = (c, days) => `/v1/compute/clusters/${c}/stats${days === undefined ? '' : `?days=${days}`}`;
const STAGES = ['waiting_for_approval', 'queued', 'quarantine', 'action', 'recovery'];

let srv;

before(async () => {
  srv = await startServer({
    fleet: makeFleet([{ cluster_id: 'ov', instances: 6 }, { cluster_id: 'other', instances: 1 }]),
    enginePaused: false,
    config: 'automation: {max_active_fraction: 1.0}\n',
  });
});

after(async () => {
  await srv?.close();
});

test('stats: days by mode and outcome, stage percentiles and what needs a person, from a seeded history',
  { skip: HISTORY_SKIP, timeout: 120000 }, async () => {
    const waiting = await seedHistory(srv, 'ov');

    const res = await srv.api('GET', STATS('ov', 3));
    assert.equal(res.status, 200, res.text);
    const { days, stages, needs_person: needs } = res.json;
    assert.deepEqual(days.map((d) => d.date), [utcDate(2), utcDate(1), utcDate(0)], 'oldest first, UTC');
    assert.deepEqual(days[0], {
      date: utcDate(2),
      created: { [VM_ONLY]: 1, [REBOOT]: 1 },
      succeeded: { [VM_ONLY]: 1, [REBOOT]: 1 },
      failed: {},
    });
    assert.deepEqual(days[1], {
      date: utcDate(1), created: { [HOST_AWARE]: 1 }, succeeded: { [HOST_AWARE]: 1 }, failed: {},
    });
    assert.deepEqual(days[2].created, { [VM_ONLY]: 1, [REBOOT]: 1 });
    assert.deepEqual(days[2].succeeded, { [VM_ONLY]: 1 });
    assert.deepEqual(stages.map((s) => s.stage), STAGES);
    const byStage = Object.fromEntries(stages.map((s) => [s.stage, s]));
    // Four repairs ended: each queued, acted and recovered; HOST_AWARE alone was quarantined;
    // the one waiting for approval has not left that stage yet.
    assert.equal(byStage.queued.count, 4);
    assert.equal(byStage.action.count, 4);
    assert.equal(byStage.recovery.count, 4);
    assert.equal(byStage.quarantine.count, 1);
    assert.equal(byStage.waiting_for_approval.count, 0);
    assert.equal(byStage.waiting_for_approval.p50_s, null);
    for (const s of ['queued', 'action', 'recovery', 'quarantine']) {
      assert.equal(typeof byStage[s].p50_s, 'number', s);
      assert.ok(byStage[s].p50_s >= 0 && byStage[s].p50_s <= byStage[s].p90_s, `${s}: ${JSON.stringify(byStage[s])}`);
      assert.ok(byStage[s].p90_s < 60, `${s} took seconds at most with a zero-timing fleet`);
    }
    assert.deepEqual(needs, { approvals_waiting: 1, attention: 0, suspect_hosts: 0, open_incidents: 0 });

    // The default window is 30 days, every day listed, the empty ones with zeros.
    const month = await srv.api('GET', STATS('ov'));
    assert.equal(month.status, 200, month.text);
    assert.equal(month.json.days.length, 30);
    assert.equal(month.json.days[29].date, utcDate(0));
    assert.deepEqual(month.json.days[0], { date: utcDate(29), created: {}, succeeded: {}, failed: {} });

    // Approving it times its wait.
    const approved = await srv.api('POST', rPath('ov', 'ov-i4', waiting.id, 'approve'), { body: {} });
    assert.equal(approved.status, 200, approved.text);
    await waitState(srv, waiting, ['SUCCEEDED', 'FAILED'], 30000);
    const later = (await srv.api('GET', STATS('ov', 1))).json;
    assert.equal(later.stages[0].count, 1, 'waiting_for_approval counted once it ended');
    assert.equal(later.needs_person.approvals_waiting, 0);
  });

test('stats: bad days, unknown cluster, another cluster\'s token', { timeout: 30000 }, async () => {
  for (const days of ['0', '366', 'x', '', '-1', '1.5']) {
    expectStatus(assert, await srv.api('GET', STATS('ov', days)), 400, 3, `days=${days}`);
  }
  assert.equal((await srv.api('GET', STATS('ov', 365))).json.days.length, 365);
  expectStatus(assert, await srv.api('GET', STATS('nope')), 404, 5, 'unknown cluster');
  const viewer = await srv.token('other-viewer', 'viewer', ['other']);
  expectStatus(assert, await srv.api('GET', STATS('ov'), { token: viewer }), 403, 7, 'out of scope');
  const own = await srv.api('GET', STATS('other', 2), { token: viewer });
  assert.equal(own.status, 200, own.text);
  assert.deepEqual(own.json.days.map((d) => d.created), [{}, {}]);
});

test('notifications: a real Alertmanager gets NoderepairApprovalWaiting after approval_after_s and sees it resolved after approval',
  { skip: AM_SKIP, timeout: 90000 }, async (t) => {
    const am = await startAlertmanager([
      'route:',
      '  receiver: nobody',
      '  group_wait: 1s',
      'receivers:',
      '  - name: nobody',
      '',
    ].join('\n'));
    t.after(() => am.stop());
    const s = await startServer({
      fleet: makeFleet([{ cluster_id: 'nt', instances: 2 }]),
      config: [
        'automation: {max_active_fraction: 1.0}',
        'notify:',
        `  alertmanager_url: ${am.url}`,
        '  approval_after_s: 3',
        '  interval_s: 1',
        '  timeout_s: 2',
        '',
      ].join('\n'),
    });
    t.after(() => s.close());
    const ctx = () => `\nnoderepair stderr:\n${s.starts[0].stderr.slice(-2000)}\nAlertmanager log:\n${am.log.text.slice(-2000)}`;
    const ours = async () => {
      const r = await am.api('GET', `/api/v2/alerts?filter=${encodeURIComponent('alertname="NoderepairApprovalWaiting"')}`);
      assert.equal(r.status, 200, r.text);
      return JSON.parse(r.text);
    };

    const waiting = await makePendingApproval(s, 'nt', 'nt-i0');
    assert.ok(waiting, 'an automated remediation waits for approval');
    const created = Date.parse(waiting.create_time);
    const fired = await waitFor(async () => {
      const alerts = await ours();
      return alerts.length ? { alerts, seen: Date.now() } : null;
    }, 30000, 200);
    assert.ok(fired, `no NoderepairApprovalWaiting in Alertmanager within 30 s${ctx()}`);
    assert.ok(fired.seen - created >= 3000, `sent only after approval_after_s (after ${fired.seen - created} ms)`);
    assert.equal(fired.alerts.length, 1);
    const [alert] = fired.alerts;
    assert.equal(alert.status.state, 'active');
    assert.equal(alert.labels.alertname, 'NoderepairApprovalWaiting');
    assert.equal(alert.labels.cluster, 'nt');
    assert.equal(alert.labels.instance, 'nt-i0');
    assert.equal(alert.labels.remediation, waiting.id);
    assert.equal(alert.labels.severity, 'warning');
    assert.equal(Date.parse(alert.startsAt), created, 'startsAt is when it started waiting');
    assert.ok(Date.parse(alert.endsAt) > Date.now(), 'endsAt is ahead while it holds');

    // Still firing five rounds later, past the first send's endsAt (four rounds): re-sent.
    const sent = await counter(s, 'noderepair_notify_posts_total{result="sent"}');
    assert.ok(await waitFor(async () => ((await counter(s, 'noderepair_notify_posts_total{result="sent"}')) >= sent + 5 ? true : null), 20000, 100));
    assert.equal((await ours()).length, 1);

    const approved = await s.api('POST', rPath('nt', 'nt-i0', waiting.id, 'approve'), { body: {} });
    assert.equal(approved.status, 200, approved.text);
    const resolved = await waitFor(async () => ((await ours()).length === 0 ? true : null), 20000, 200);
    assert.ok(resolved, `still active in Alertmanager 20 s after the approval${ctx()}`);
    const metrics = await s.api('GET', '/metrics', { token: null });
    assert.match(metrics.text, /noderepair_notify_posts_total\{result="sent"\} [1-9]/);
    assert.match(metrics.text, /noderepair_notify_posts_total\{result="failed"\} 0/);
  });

test('notifications: a dead Alertmanager blocks nothing and is counted', { timeout: 60000 }, async (t) => {
  const s = await startServer({
    fleet: makeFleet([{ cluster_id: 'dead', instances: 2 }]),
    config: 'notify: {alertmanager_url: "http://127.0.0.1:9", approval_after_s: 0, interval_s: 1, timeout_s: 1}\n',
  });
  t.after(() => s.close());
  const waiting = await makePendingApproval(s, 'dead', 'dead-i0');
  assert.ok(waiting);
  const failed = await waitFor(async () => {
    const m = await s.api('GET', '/metrics', { token: null });
    return /noderepair_notify_posts_total\{result="failed"\} [1-9]/.test(m.text);
  }, 20000, 200);
  assert.ok(failed, 'failed pushes are counted');
  const started = Date.now();
  const listed = await s.api('GET', rPath('dead', '-'));
  assert.equal(listed.status, 200);
  assert.ok(Date.now() - started < 2000, 'the API answers while pushes fail');
  assert.match(s.starts[0].stderr, /notify_failed/);
});
