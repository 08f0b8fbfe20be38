// A remediation history over three UTC days for the Overview's tests (docs/http-api.md 11): the
// server is restarted with its wall clock set back by libfaketime to make the older days.
import assert from 'node:assert/strict';
import { create, makePendingApproval, FAKETIME_LIB } from './server.mjs';
import { VM_ONLY, REBOOT, HOST_AWARE, waitState } from './engine.mjs';

// For `test(name, { skip: HISTORY_SKIP }, fn)`.
export const HISTORY_SKIP = FAKETIME_LIB ? false : 'needs libfaketime (Debian package libfaketime)';

// The UTC date `daysAgo` days before now, "2026-12-06".
export const utcDate = (daysAgo) => new Date(Date.now() - daysAgo * 86400000).toISOString().slice(0, 10);

// The server's wall clock `days` behind, still running.
const daysBehind = (days) => (days ? {
  LD_PRELOAD: FAKETIME_LIB, FAKETIME: `-${days}d`, FAKETIME_DONT_FAKE_MONOTONIC: '1',
} : {});

async function repair(srv, cluster, instance, mode) {
  const r = await create(srv, cluster, instance, { mode });
  assert.equal(r.status, 200, r.text);
  return waitState(srv, r.json, ['SUCCEEDED'], 30000);
}

// On a running server whose engine runs, for cluster `c` with instances `${c}-i0`…`${c}-i4`:
// two days ago VM_ONLY and REBOOT_VM, yesterday HOST_AWARE, today VM_ONLY, each SUCCEEDED; and
// today an automated remediation (REBOOT_VM) waiting for approval, which it returns. Leaves the
// server running on the real clock.
export async function seedHistory(srv, c) {
  const day = async (daysAgo, repairs) => {
    await srv.stop();
    srv.opts.env = daysBehind(daysAgo);
    await srv.start();
    for (const [instance, mode] of repairs) await repair(srv, c, `${c}-${instance}`, mode);
  };
  await day(2, [['i0', VM_ONLY], ['i1', REBOOT]]);
  await day(1, [['i2', HOST_AWARE]]);
  await day(0, [['i3', VM_ONLY]]);
  const waiting = await makePendingApproval(srv, c, `${c}-i4`);
  assert.ok(waiting, 'an automated remediation waits for approval');
  assert.equal(waiting.mode, REBOOT);
  return waiting;
}
