// Helpers for the engine tests (docs/http-api.md 2.1, 2.2, 4.7, 4.8): workflows per mode, waiting
// for states, reading the fleet (hosts and worker nodes) and checking placement invariants.
import { rPath, sleep, startServer } from './server.mjs';

// A server with its engine running and an operator token (`srv.op`), stopped when test `t` ends.
export async function engineServer(t, fleet, { config } = {}) {
  const s = await startServer({ fleet, config, enginePaused: false });
  t.after(() => s.close());
  s.op = await s.token('op', 'operator');
  return s;
}

export const VM_ONLY = 'REMEDIATION_MODE_VM_ONLY';
export const HOST_AWARE = 'REMEDIATION_MODE_HOST_AWARE';
export const EVICT = 'REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT';
export const REBOOT = 'REMEDIATION_MODE_REBOOT_VM';
export const POWER_CYCLE = 'REMEDIATION_MODE_HOST_POWER_CYCLE';

export const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'AUTO_RESOLVED']);
export const isTerminal = (state) => TERMINAL.has(state);

// The expected timeline of an API-created remediation that succeeds: `S:STATE` for a
// state_change, a bare name for an engine step (consecutive events of one step, e.g.
// "started" then "done", count once).
export const TIMELINE = {
  [VM_ONLY]: ['S:PENDING', 'S:RUNNING', 'reserve_capacity', 'drain', 'delete_vm', 'provision_vm',
    'wait_ready', 'verify', 'rejoin', 'S:SUCCEEDED'],
  [HOST_AWARE]: ['S:PENDING', 'S:QUARANTINING', 'cordon_host', 'reserve_capacity', 'drain',
    'S:QUARANTINED', 'delete_vm', 'S:RUNNING', 'provision_vm', 'wait_ready', 'verify', 'rejoin', 'S:SUCCEEDED'],
  [EVICT]: ['S:PENDING', 'S:RUNNING', 'drain', 'evict_vm', 'S:SUCCEEDED'],
  [REBOOT]: ['S:PENDING', 'S:RUNNING', 'drain', 'reboot_vm', 'wait_ready', 'verify', 'rejoin', 'S:SUCCEEDED'],
  [POWER_CYCLE]: ['S:PENDING', 'S:QUARANTINING', 'cordon_host', 'drain', 'S:QUARANTINED',
    'power_cycle_host', 'S:RUNNING', 'wait_ready', 'verify', 'rejoin', 'uncordon_host', 'S:SUCCEEDED'],
};

// Collapses a timeline to the markers of TIMELINE.
export function markers(events) {
  const out = [];
  for (const e of events) {
    const m = e.type === 'state_change' ? `S:${e.state}` : e.type === 'step' ? e.step : `?${e.type}`;
    if (e.type === 'step' && out[out.length - 1] === m) continue;
    out.push(m);
  }
  return out;
}

export const fmtEvents = (events) => events.map((e) => `${e.time} ${e.type} ${e.state || e.step || ''} [${e.actor}] ${e.detail || ''}`).join('\n');

export async function getRem(srv, r, token, timeoutMs = 10000) {
  const g = await srv.api('GET', rPath(r.cluster_id, r.instance_id, r.id), { token, timeoutMs });
  if (g.status !== 200) throw new Error(`GET ${r.id}: ${g.status} ${g.text}`);
  return g.json;
}

export async function getEvents(srv, r, token, timeoutMs = 10000) {
  const g = await srv.api('GET', rPath(r.cluster_id, r.instance_id, r.id, 'events'), { token, timeoutMs });
  if (g.status !== 200) throw new Error(`GET ${r.id}/events: ${g.status} ${g.text}`);
  return g.json.events;
}

// Polls fn() every `every` ms until it returns a truthy value; returns it, or null after ms.
export async function waitFor(fn, ms, every = 25) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= deadline) return null;
    await sleep(every);
  }
}

// Waits until the remediation is in one of `states` (default: any terminal state).
// Returns the remediation, or throws with the last one seen.
export async function waitState(srv, r, states = null, ms = 10000, token) {
  let last = null;
  const ok = await waitFor(async () => {
    last = await getRem(srv, r, token);
    return states ? states.includes(last.state) : isTerminal(last.state);
  }, ms);
  if (!ok) throw new Error(`${r.id} (${r.mode}) did not reach ${states ? states.join('|') : 'a terminal state'} within ${ms} ms; last: ${JSON.stringify(last)}`);
  return last;
}

export async function getHosts(srv, token, timeoutMs = 10000) {
  const g = await srv.api('GET', '/v1/compute/hosts', { token, timeoutMs });
  if (g.status !== 200) throw new Error(`GET hosts: ${g.status} ${g.text}`);
  return g.json.hosts;
}

export const byHost = (hosts) => Object.fromEntries(hosts.map((h) => [h.host_name, h]));

// Every worker node of the given clusters, by instance id.
export async function getNodes(srv, clusterIds, token) {
  const nodes = {};
  for (const c of clusterIds) {
    const g = await srv.api('GET', `/v1/compute/clusters/${encodeURIComponent(c)}`, { token });
    if (g.status !== 200) throw new Error(`GET cluster ${c}: ${g.status} ${g.text}`);
    for (const n of g.json.gpu_worker_nodes) nodes[n.instance_id] = n;
  }
  return nodes;
}

// Instance facts of a fleet file: id → {cluster_id, num_gpus, host}.
export function fleetInstances(fleet) {
  const m = {};
  for (const c of fleet.clusters) for (const i of c.instances) m[i.instance_id] = { cluster_id: c.cluster_id, ...i };
  return m;
}

// Placement invariants that hold at every moment (docs/http-api.md 4.7, "used_gpus includes slots
// reserved for in-flight replacements"):
// - every instance a host lists is one the fleet owns, and appears on one host only;
// - the instances a host lists fit in it; used_gpus is at least their sum and at most gpu_slots.
// With atRest (nothing in flight) also: used_gpus equals that sum (no reservation leaked),
// and each worker node's host_name agrees with the hosts listing.
// Returns a list of violations (empty when all hold).
export function placementViolations(fleet, hosts, nodes, { atRest = false } = {}) {
  const inst = fleetInstances(fleet);
  const bad = [];
  const where = {};
  for (const h of hosts) {
    let sum = 0;
    for (const id of h.instances) {
      if (!inst[id]) { bad.push(`host ${h.host_name} lists ${id}, which the fleet does not own`); continue; }
      if (where[id]) bad.push(`${id} is listed on ${where[id]} and on ${h.host_name}`);
      where[id] = h.host_name;
      sum += nodes?.[id]?.num_gpus ?? inst[id].num_gpus;
    }
    if (sum > h.gpu_slots) bad.push(`host ${h.host_name}: its instances need ${sum} GPUs but it has ${h.gpu_slots} slots`);
    if (h.used_gpus > h.gpu_slots) bad.push(`host ${h.host_name}: used_gpus ${h.used_gpus} > gpu_slots ${h.gpu_slots}`);
    if (h.used_gpus < sum) bad.push(`host ${h.host_name}: used_gpus ${h.used_gpus} < ${sum} GPUs of its instances ${h.instances.join(',')}`);
    if (atRest && h.used_gpus !== sum) bad.push(`host ${h.host_name}: used_gpus ${h.used_gpus} at rest, but its instances [${h.instances.join(',')}] take ${sum} (leaked reservation?)`);
  }
  if (nodes && atRest) {
    for (const [id, n] of Object.entries(nodes)) {
      if (n.host_name !== undefined && where[id] !== n.host_name) bad.push(`node ${id}: host_name ${n.host_name}, hosts listing says ${where[id] ?? 'nowhere'}`);
      if (n.host_name === undefined && where[id]) bad.push(`node ${id}: no host_name, but ${where[id]} lists it`);
      if (n.host_name === undefined && n.status !== 'Evicted') bad.push(`node ${id}: no host_name at rest, status ${n.status} (want Evicted)`);
      if (n.host_name !== undefined && n.status !== 'Ready') bad.push(`node ${id}: status ${n.status} at rest on ${n.host_name} (want Ready)`);
    }
  }
  return bad;
}

// Checks a succeeded remediation's effect on placement and cordons (docs/http-api.md 2.1, 4.7).
// before: the worker node and hosts before it ran; after: the same afterwards.
// Returns a list of violations.
export function outcomeViolations(mode, nodeBefore, nodeAfter, hostsAfter) {
  const bad = [];
  const id = nodeBefore.instance_id;
  const hb = byHost(hostsAfter);
  const oldHost = nodeBefore.host_name;
  const newHost = nodeAfter.host_name;
  if (mode === EVICT) {
    if (newHost !== undefined) bad.push(`${id} EVICT: host_name ${newHost} (want absent)`);
    if (nodeAfter.status !== 'Evicted') bad.push(`${id} EVICT: status ${nodeAfter.status} (want Evicted)`);
    return bad;
  }
  if (nodeAfter.status !== 'Ready') bad.push(`${id} ${mode}: status ${nodeAfter.status} (want Ready)`);
  if (newHost === undefined) { bad.push(`${id} ${mode}: no host_name afterwards`); return bad; }
  if (!hb[newHost]?.instances.includes(id)) bad.push(`${id} ${mode}: host ${newHost} does not list it`);
  if (mode === REBOOT || mode === POWER_CYCLE) {
    if (newHost !== oldHost) bad.push(`${id} ${mode}: moved from ${oldHost} to ${newHost} (want same host)`);
  }
  if (mode === POWER_CYCLE && hb[oldHost]?.cordoned !== false) bad.push(`${id} POWER_CYCLE: host ${oldHost} still cordoned`);
  if (mode === HOST_AWARE) {
    if (newHost === oldHost) bad.push(`${id} HOST_AWARE: stayed on ${oldHost} (want a different host)`);
    if (hb[oldHost]?.cordoned !== true) bad.push(`${id} HOST_AWARE: old host ${oldHost} not cordoned afterwards`);
  }
  return bad;
}
