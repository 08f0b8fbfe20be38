// The noderepair web console: one ES module, no framework, no build step, no CDN.
// It talks only to this origin's /v1 API with a bearer token kept in sessionStorage,
// renders with DOM calls (never innerHTML with data), routes on the location hash and
// follows the remediations:watch stream (or polls) to update what is shown in place.

export const MODES = [
  'REMEDIATION_MODE_VM_ONLY',
  'REMEDIATION_MODE_HOST_AWARE',
  'REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT',
  'REMEDIATION_MODE_REBOOT_VM',
  'REMEDIATION_MODE_HOST_POWER_CYCLE',
];
export const STATES = [
  'PENDING_APPROVAL', 'PENDING', 'QUARANTINING', 'QUARANTINED', 'RUNNING',
  'SUCCEEDED', 'FAILED', 'CANCELLED', 'AUTO_RESOLVED',
];
const ACTIVE = STATES.slice(0, 5);
const TESTS = [
  'dcgm_diag', 'gpu_burn', 'nccl_single_node', 'nccl_multi_node', 'nvbandwidth_h2d',
  'nvbandwidth_d2h', 'nvbandwidth_latency', 'ib_write_bw', 'storage',
];
const CODE_NAMES = {
  1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS', 7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION',
  10: 'ABORTED', 12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE', 16: 'UNAUTHENTICATED',
};
const PAGE_SIZE = 50;
const POLL_MS = 2000;
const TOKEN_KEY = 'noderepair.token';

// ---------------------------------------------------------------------------
// Server-sent events: a small parser for fetch() streams (EventSource cannot send a
// bearer token). Follows the HTML spec's line rules; an event with a name but no data
// (e.g. `event: reset`) is still dispatched.

export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buf = '';
    this.data = [];
    this.event = '';
    this.lastId = '';
    this.retry = null;
  }

  push(text) {
    this.buf += text;
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (c !== '\n' && c !== '\r') continue;
      if (c === '\r' && i + 1 === this.buf.length) break; // a '\n' may follow in the next chunk
      const line = this.buf.slice(start, i);
      if (c === '\r' && this.buf[i + 1] === '\n') i++;
      start = i + 1;
      this.line(line);
    }
    this.buf = this.buf.slice(start);
  }

  line(line) {
    if (line === '') {
      if (this.data.length || this.event) {
        this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.lastId });
      }
      this.data = [];
      this.event = '';
      return;
    }
    if (line[0] === ':') return; // comment (keepalive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

// ---------------------------------------------------------------------------
// Small helpers.

const enc = encodeURIComponent;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function short(value) {
  return String(value || '').replace(/^(REMEDIATION_MODE_|REMEDIATION_TRIGGER_|PHC_SEVERITY_)/, '');
}

// A sortable key for an RFC 3339 UTC time whose fraction may have any number of digits.
export function timeKey(ts) {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(ts || '');
  return m ? `${m[1]}.${(m[2] || '').padEnd(9, '0')}` : '';
}

export function fmtTime(ts) {
  return ts ? String(ts).slice(0, 19).replace('T', ' ') : '';
}

function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const timeEl = (ts) => (ts ? h('time', { datetime: ts, title: ts }, fmtTime(ts)) : '');
const badge = (text, kind = text) => h('span', { class: `badge s-${kind}` }, text);
const link = (parts, text, props = {}) => h('a', { href: hashOf(...parts), ...props }, text);

function hashOf(...parts) {
  return '#/' + parts.map((p) => enc(p)).join('/');
}

function select(props, options, value) {
  const el = h('select', props, options.map(([v, t]) => h('option', { value: v }, t)));
  el.value = value;
  return el;
}

function table(caption, columns, rows, emptyText) {
  const body = h('tbody', {}, rows);
  if (!rows.length) body.append(emptyRow(columns.length, emptyText));
  return h('div', { class: 'scroll' }, h('table', { class: 'grid' },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    body));
}

function emptyRow(span, text) {
  return h('tr', {}, h('td', { class: 'empty', colspan: span }, text));
}

// Runs fn at most once per `ms`, after the last call.
function debounce(fn, ms) {
  let timer = null;
  const wrapped = () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

// Of overlapping fetches, lets only the last one started render: `const current = ticket();
// await …; if (!current()) return;`.
function tickets() {
  let n = 0;
  return () => {
    const mine = ++n;
    return () => mine === n;
  };
}

// Replaces `old` with `fresh`, keeping keyboard focus on the equivalent control.
function replaceKeepingFocus(old, fresh) {
  const active = document.activeElement;
  const key = active && old.contains(active) ? active.dataset.focusKey : null;
  old.replaceWith(fresh);
  if (key) fresh.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}

// ---------------------------------------------------------------------------
// API access.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  describe() {
    if (!this.status) return this.message;
    const name = CODE_NAMES[this.code];
    return `${this.message} (HTTP ${this.status}${name ? ' ' + name : ''})`;
  }
}

let token = null;

async function errorFrom(res) {
  const text = await res.text().catch(() => '');
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  const message = json && typeof json.message === 'string' && json.message
    ? json.message : (text.trim().slice(0, 300) || res.statusText || 'request failed');
  return new ApiError(res.status, json && typeof json.code === 'number' ? json.code : 0, message);
}

async function api(method, path, body, { auth = token } = {}) {
  const headers = { authorization: `Bearer ${auth}` };
  let payload;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 0, `Cannot reach the server: ${e.message}`);
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (err.status === 401 && auth === token && token) signOut(err);
    throw err;
  }
  const text = await res.text();
  return text ? JSON.parse(text) : {};
}

const clusterPath = (c) => `/v1/compute/clusters/${enc(c)}`;
const remPath = (c, i, id, verb) =>
  `${clusterPath(c)}/instances/${enc(i)}/remediations` + (id ? `/${enc(id)}` : '') + (verb ? `/${verb}` : '');

// ---------------------------------------------------------------------------
// Page chrome: error and notice regions, live indicator, navigation.

const $ = (id) => document.getElementById(id);

function describeError(e) {
  return e instanceof ApiError ? e.describe() : String(e && e.message ? e.message : e);
}

function showError(e, { prefix = '', background = false } = {}) {
  const box = $('error');
  const text = (prefix ? prefix + ': ' : '') + describeError(e);
  box.dataset.background = background ? '1' : '';
  box.replaceChildren(h('p', {}, text),
    h('button', { type: 'button', onclick: clearError }, 'Dismiss'));
}

function clearError() {
  $('error').replaceChildren();
}

function clearBackgroundError() {
  if ($('error').dataset.background === '1') clearError();
}

function notify(...content) {
  $('notice').replaceChildren(h('p', {}, content),
    h('button', { type: 'button', onclick: () => $('notice').replaceChildren() }, 'Dismiss'));
}

function setLive(mode) {
  const el = $('live');
  const text = { stream: 'Live', poll: `Polling every ${POLL_MS / 1000} s`, reconnecting: 'Reconnecting…', off: 'Live updates off' };
  el.dataset.mode = mode || '';
  el.textContent = mode ? text[mode] : '';
  document.documentElement.dataset.live = mode || '';
}

let clusters = null; // [{cluster_id, cluster_name, status}]
let clustersPromise = null;
let lastCluster = null;

function loadClusters() {
  if (!clustersPromise) {
    clustersPromise = api('GET', '/v1/compute/clusters').then((r) => {
      clusters = r.clusters || [];
      return clusters;
    });
    clustersPromise.catch(() => { clustersPromise = null; });
  }
  return clustersPromise;
}

const NAV = [
  ['overview', 'Overview'], ['repairs', 'Repairs'], ['nodes', 'Nodes'], ['alerts', 'Alerts'], ['health', 'Health checks'],
  ['incidents', 'Incidents'],
];

function renderNav(active, clusterId) {
  const nav = $('nav');
  nav.hidden = false;
  $('signout').hidden = false;
  const sel = $('cluster');
  const list = clusters || (clusterId ? [{ cluster_id: clusterId, cluster_name: clusterId }] : []);
  const current = clusterId || lastCluster || list[0]?.cluster_id || '';
  sel.replaceChildren(...list.map((c) => h('option', { value: c.cluster_id },
    c.cluster_name && c.cluster_name !== c.cluster_id ? `${c.cluster_name} (${c.cluster_id})` : c.cluster_id)));
  sel.value = current;
  const items = current ? NAV.map(([view, text]) => [hashOf('clusters', current, view), view, text]) : [];
  items.push([hashOf('hosts'), 'hosts', 'Hosts']);
  $('nav-links').replaceChildren(...items.map(([href, view, text]) =>
    h('li', {}, h('a', { href, 'aria-current': view === active ? 'page' : false }, text))));
}

async function refreshEngine() {
  try {
    const e = await api('GET', '/v1/engine');
    $('engine').hidden = !e.paused;
  } catch {
    $('engine').hidden = true;
  }
}

// ---------------------------------------------------------------------------
// Dialogs: one builder for every form (approve, reject, cancel, repair, health check).
// The server's error stays inside the open dialog, in its own alert region.

function formDialog({ title, intro, fields = [], submit, closeLabel = 'Close', danger = false, onSubmit }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const openerKey = opener?.dataset?.focusKey;
    const id = `dlg-${Math.random().toString(36).slice(2)}`;
    const err = h('div', { class: 'error', role: 'alert' });
    const controls = fields.map((f) => fieldControl(f, id));
    const submitBtn = h('button', { type: 'submit', class: danger ? 'danger' : 'primary' }, submit);
    const form = h('form', { method: 'dialog' },
      h('h2', { id: `${id}-title` }, title),
      intro ? h('p', {}, intro) : null,
      controls.map((c) => c.el),
      err,
      h('div', { class: 'buttons' }, submitBtn,
        h('button', { type: 'button', onclick: () => dlg.close() }, closeLabel)));
    const dlg = h('dialog', { 'aria-labelledby': `${id}-title` }, form);
    let result = null;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const values = {};
      for (const c of controls) values[c.name] = c.value();
      submitBtn.disabled = true;
      err.replaceChildren();
      try {
        result = await onSubmit(values);
        dlg.close();
      } catch (e) {
        err.replaceChildren(h('p', {}, describeError(e)));
      } finally {
        submitBtn.disabled = false;
      }
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      const target = opener?.isConnected ? opener
        : openerKey ? document.querySelector(`[data-focus-key="${CSS.escape(openerKey)}"]`) : null;
      (target || document.querySelector('main h1'))?.focus();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

function fieldControl(f, prefix) {
  const id = `${prefix}-${f.name}`;
  if (f.type === 'checkboxes') {
    const boxes = f.options.map(([v, t]) => h('input', { type: 'checkbox', value: v, checked: (f.value || []).includes(v) }));
    const el = h('fieldset', {}, h('legend', {}, f.label),
      boxes.map((b, k) => h('label', {}, b, f.options[k][1])));
    return { name: f.name, el, value: () => boxes.filter((b) => b.checked).map((b) => b.value) };
  }
  let input;
  const hint = f.hint ? `${id}-hint` : undefined;
  if (f.type === 'select') input = select({ id, name: f.name, 'aria-describedby': hint }, f.options, f.value ?? '');
  else if (f.type === 'textarea') input = h('textarea', { id, name: f.name, placeholder: f.placeholder, required: f.required, maxlength: 2000 });
  else input = h('input', { id, name: f.name, type: 'text', placeholder: f.placeholder, required: f.required, value: f.value });
  const el = h('div', { class: 'field' }, h('label', { for: id }, f.label), input,
    f.hint ? h('small', { class: 'muted', id: hint }, f.hint) : null);
  return { name: f.name, el, value: () => input.value.trim() };
}

const modeOptions = (modes = MODES) => modes.map((m) => [m, short(m)]);

// The actions of a remediation, each opening its dialog; the result is shown everywhere.
function remediationActions(r) {
  const who = r.instance_name || r.instance_id;
  const out = [];
  if (r.state === 'PENDING_APPROVAL') {
    out.push(h('button', {
      type: 'button', class: 'primary', 'aria-label': `Approve repair of ${who}`, dataset: { focusKey: `approve:${r.id}` },
      onclick: () => formDialog({
        title: `Approve repair of ${who}`,
        intro: `Mode ${short(r.mode)}. ${r.reason || ''}`,
        fields: [
          { name: 'comment', label: 'Comment', type: 'textarea', placeholder: 'Why this is safe to run' },
          { name: 'mode', label: 'Mode', type: 'select', value: '',
            options: [['', `Keep ${short(r.mode)}`], ...modeOptions(MODES.filter((m) => m !== 'REMEDIATION_MODE_HOST_POWER_CYCLE'))],
            hint: 'A host power cycle cannot be chosen as an override.' },
        ],
        submit: 'Approve',
        onSubmit: (v) => api('POST', remPath(r.cluster_id, r.instance_id, r.id, 'approve'),
          { comment: v.comment, ...(v.mode ? { mode: v.mode } : {}) }),
      }).then(applied('Approved')),
    }, 'Approve'));
    out.push(h('button', {
      type: 'button', 'aria-label': `Reject repair of ${who}`, dataset: { focusKey: `reject:${r.id}` },
      onclick: () => formDialog({
        title: `Reject repair of ${who}`,
        fields: [{ name: 'comment', label: 'Comment', type: 'textarea', placeholder: 'Why it should not run' }],
        submit: 'Reject', danger: true,
        onSubmit: (v) => api('POST', remPath(r.cluster_id, r.instance_id, r.id, 'reject'), { comment: v.comment }),
      }).then(applied('Rejected')),
    }, 'Reject'));
  }
  if (r.state === 'PENDING_APPROVAL' || r.state === 'PENDING') {
    out.push(h('button', {
      type: 'button', class: 'danger', 'aria-label': `Cancel repair of ${who}`, dataset: { focusKey: `cancel:${r.id}` },
      onclick: () => formDialog({
        title: `Cancel repair of ${who}?`,
        intro: `The ${short(r.mode)} repair in state ${r.state} will not run.`,
        submit: 'Cancel repair', closeLabel: 'Keep it', danger: true,
        onSubmit: () => api('POST', remPath(r.cluster_id, r.instance_id, r.id, 'cancel')),
      }).then(applied('Cancelled')),
    }, 'Cancel'));
  }
  return out;
}

// Shared by every action: show the new state everywhere at once.
function applied(verb) {
  return (r) => {
    if (!r || !r.id) return;
    deliver(r);
    notify(`${verb} repair of ${r.instance_name || r.instance_id}: now `, badge(r.state), ' ',
      link(['clusters', r.cluster_id, 'repairs', r.instance_id, r.id], 'details'));
  };
}

function repairDialog(clusterId, node, done) {
  return formDialog({
    title: `Repair ${node.node_name}`,
    intro: `Instance ${node.instance_id}` + (node.host_name ? ` on host ${node.host_name}` : ' (no VM)') + '.',
    fields: [
      { name: 'mode', label: 'Mode', type: 'select', value: 'REMEDIATION_MODE_REBOOT_VM', options: modeOptions() },
      { name: 'reason', label: 'Reason', type: 'textarea', required: true, placeholder: 'e.g. Xid 79 seen in dmesg' },
    ],
    submit: 'Create repair',
    onSubmit: (v) => api('POST', remPath(clusterId, node.instance_id), { mode: v.mode, reason: v.reason }),
  }).then(done);
}

function healthDialog(clusterId, nodes, preselected) {
  return formDialog({
    title: 'Run a health check',
    fields: [
      { name: 'instance', label: 'Node', type: 'select', value: preselected || nodes[0]?.instance_id,
        options: nodes.map((n) => [n.instance_id, `${n.node_name} (${n.instance_id})`]) },
      { name: 'tests', label: 'Tests', type: 'checkboxes', value: ['dcgm_diag'], options: TESTS.map((t) => [t, t]) },
    ],
    submit: 'Run',
    onSubmit: (v) => api('POST', `${clusterPath(clusterId)}/instances/${enc(v.instance)}/health_checks`, { tests: v.tests }),
  }).then((run) => {
    if (run && run.id) notify(`Health check ${run.id} started on ${run.instance_id}: `, badge(run.state));
    return run;
  });
}

// ---------------------------------------------------------------------------
// Batch approve in the Repairs view (docs/http-api.md 11): a checkbox on each repair waiting
// for approval, "Approve selected" sends one …/remediations:batchApprove, and each row shows
// its own outcome (approved, or the server's reason) until the next batch.

const batch = { selected: new Set(), outcome: new Map(), bar: null };

function batchSelectCell(r) {
  const note = batch.outcome.get(r.id);
  const out = [];
  if (r.state === 'PENDING_APPROVAL') {
    out.push(h('input', {
      type: 'checkbox', class: 'batch-select', checked: batch.selected.has(r.id),
      'aria-label': `Select repair of ${r.instance_name || r.instance_id}`, dataset: { focusKey: `select:${r.id}` },
      onchange: (ev) => {
        if (ev.target.checked) batch.selected.add(r.id); else batch.selected.delete(r.id);
        batchRefreshBar();
      },
    }));
  }
  if (note) out.push(h('small', { class: note.ok ? 'batch-ok' : 'batch-error', role: 'status' }, note.text));
  return out;
}

function batchRefreshBar() {
  if (!batch.bar) return;
  const n = batch.selected.size;
  batch.bar.button.disabled = n === 0;
  batch.bar.button.textContent = n ? `Approve selected (${n})` : 'Approve selected';
}

function batchApproveBar(clusterId) {
  batch.selected.clear();
  batch.outcome.clear();
  const button = h('button', { type: 'button', class: 'primary', id: 'approve-selected', disabled: true,
    onclick: () => batchApproveDialog(clusterId) }, 'Approve selected');
  const selectAll = h('button', { type: 'button', onclick: () => {
    for (const box of document.querySelectorAll('#repairs input.batch-select')) {
      box.checked = true;
      batch.selected.add(box.closest('tr').dataset.id);
    }
    batchRefreshBar();
  } }, 'Select all waiting');
  batch.bar = { button };
  return h('div', { class: 'toolbar batch' }, selectAll, button);
}

function batchApproveDialog(clusterId) {
  const ids = [...batch.selected];
  return formDialog({
    title: `Approve ${ids.length} repair${ids.length === 1 ? '' : 's'}`,
    intro: 'Each one is approved on its own; the ones that cannot be are listed with the reason.',
    fields: [{ name: 'comment', label: 'Comment', type: 'textarea', placeholder: 'Why these are safe to run' }],
    submit: 'Approve',
    onSubmit: (v) => api('POST', `${clusterPath(clusterId)}/remediations:batchApprove`, { ids, comment: v.comment }),
  }).then((reply) => {
    if (!reply || !reply.results) return;
    batch.selected.clear();
    batch.outcome.clear();
    let approved = 0;
    for (const res of reply.results) {
      if (res.remediation) {
        approved++;
        batch.outcome.set(res.id, { ok: true, text: 'approved' });
      } else {
        batch.outcome.set(res.id, { ok: false, text: res.error?.message || 'refused' });
      }
    }
    for (const res of reply.results) {
      const row = document.querySelector(`#repairs tr[data-id="${CSS.escape(res.id)}"]`);
      if (res.remediation) deliver(res.remediation);
      else if (row) {
        const state = row.querySelector('td.state')?.textContent.trim();
        row.querySelector('td.select')?.replaceChildren(...batchSelectCell({ id: res.id, state }));
      }
    }
    batchRefreshBar();
    const refused = reply.results.length - approved;
    notify(`Approved ${approved} of ${reply.results.length}` + (refused ? `; ${refused} refused (see the rows)` : ''));
  });
}

// ---------------------------------------------------------------------------
// Views. Each returns {root, load(quiet), onRemediation(r), destroy()}; load(true) is a
// background refresh (live fallback, stream resync) that keeps what is shown on failure.

function heading(text) {
  return h('h1', { tabindex: '-1' }, text);
}

function repairRow(r) {
  return h('tr', { dataset: { id: r.id, updated: timeKey(r.update_time) } },
    h('td', { class: 'select' }, batchSelectCell(r)),
    h('td', { class: 'time' }, timeEl(r.create_time)),
    h('th', { scope: 'row' }, link(['clusters', r.cluster_id, 'repairs', r.instance_id, r.id],
      r.instance_name || r.instance_id, { dataset: { focusKey: `open:${r.id}` }, title: `Repair ${r.id}` })),
    h('td', { class: 'state' }, badge(r.state)),
    h('td', {}, short(r.mode)),
    h('td', {}, short(r.trigger), h('small', {}, r.requested_by || '')),
    h('td', { class: 'reason', title: r.reason || '' }, r.reason || ''),
    h('td', { class: 'time' }, timeEl(r.update_time)),
    h('td', { class: 'actions' }, remediationActions(r)));
}

const REPAIR_COLUMNS = ['Select', 'Created (UTC)', 'Node', 'State', 'Mode', 'Trigger / by', 'Reason', 'Updated (UTC)', 'Actions'];

function repairsView(clusterId, query) {
  const f = {
    state: query.get('state') || '', mode: query.get('mode') || '', trigger: query.get('trigger') || '',
  };
  const tokens = ['']; // page tokens; tokens[k] opens page k
  let page = 0;
  let seq = 0;
  let newest = '';
  let firstRows = true;
  let body = h('tbody');
  const info = h('span', { class: 'muted' });
  const newer = h('button', { type: 'button', disabled: true, onclick: () => { page--; load(); } }, '← Newer');
  const older = h('button', { type: 'button', disabled: true, onclick: () => { page++; load(); } }, 'Older →');
  const stateOptions = [['', 'Any state'], [ACTIVE.join(','), 'Active (not finished)'],
    ['SUCCEEDED,FAILED,CANCELLED,AUTO_RESOLVED', 'Finished'], ...STATES.map((s) => [s, s])];
  if (f.state && !stateOptions.some(([v]) => v === f.state)) stateOptions.push([f.state, f.state]);
  const onFilter = (key) => (ev) => {
    f[key] = ev.target.value;
    const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
    history.replaceState(null, '', hashOf('clusters', clusterId, 'repairs') + (q.toString() ? `?${q}` : ''));
    tokens.length = 1;
    page = 0;
    load();
  };
  const root = h('section', {},
    heading('Repairs'),
    h('div', { class: 'toolbar', role: 'search' },
      h('label', {}, 'State', select({ onchange: onFilter('state') }, stateOptions, f.state)),
      h('label', {}, 'Mode', select({ onchange: onFilter('mode') }, [['', 'Any mode'], ...modeOptions()], f.mode)),
      h('label', {}, 'Trigger', select({ onchange: onFilter('trigger') },
        [['', 'Any trigger'], ['REMEDIATION_TRIGGER_MANUAL', 'MANUAL'], ['REMEDIATION_TRIGGER_AUTOMATED', 'AUTOMATED']], f.trigger))),
    h('div', { class: 'scroll' }, h('table', { class: 'grid', id: 'repairs' },
      h('caption', { class: 'sr-only' }, 'Repairs, newest first'),
      h('thead', {}, h('tr', {}, REPAIR_COLUMNS.map((c) => h('th', { scope: 'col' }, c)))),
      body)),
    h('div', { class: 'pager' }, newer, older, info));
  root.insertBefore(batchApproveBar(clusterId), root.querySelector('.scroll'));

  function matches(r) {
    return (!f.state || f.state.split(',').includes(r.state)) && (!f.mode || f.mode === r.mode) &&
      (!f.trigger || f.trigger === r.trigger);
  }

  // Changes that arrive while a page is being fetched are applied again on top of it: the
  // page may have been read before them.
  let inflight = 0;
  let missed = new Map();

  async function load(quiet = false) {
    const mine = ++seq;
    const q = new URLSearchParams({ page_size: String(PAGE_SIZE) });
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    if (tokens[page]) q.set('page_token', tokens[page]);
    if (!quiet) info.textContent = 'Loading…';
    inflight++;
    let list;
    try {
      list = await api('GET', `${remPath(clusterId, '-')}?${q}`);
    } finally {
      inflight--;
    }
    const replay = [...missed.values()];
    if (!inflight) missed = new Map();
    if (mine !== seq) return;
    tokens.length = page + 1;
    if (list.has_next) tokens.push(list.next_page_token);
    const rows = list.remediations.map(repairRow);
    const fresh = h('tbody', {}, rows.length ? rows : emptyRow(REPAIR_COLUMNS.length, 'No repairs match these filters.'));
    replaceKeepingFocus(body, fresh);
    body = fresh;
    newest = timeKey(list.remediations[0]?.create_time);
    newer.disabled = page === 0;
    older.disabled = !list.has_next;
    info.textContent = `Page ${page + 1} · ${list.remediations.length} shown` + (list.has_next ? ' · more older' : '');
    if (firstRows && rows.length) {
      firstRows = false;
      performance.mark('nr:first-rows');
    }
    replay.sort((a, b) => (timeKey(a.create_time) < timeKey(b.create_time) ? -1 : 1)).forEach(apply);
  }

  function onRemediation(r) {
    if (r.cluster_id !== clusterId) return;
    if (inflight) {
      const known = missed.get(r.id);
      if (!known || timeKey(known.update_time) <= timeKey(r.update_time)) missed.set(r.id, r);
    }
    apply(r);
  }

  // Shows a change: updates its row (never with an older version), or puts a new
  // remediation that matches the filters at the top of the first page.
  function apply(r) {
    const tr = body.querySelector(`tr[data-id="${CSS.escape(r.id)}"]`);
    if (tr) {
      if (timeKey(r.update_time) >= tr.dataset.updated) replaceKeepingFocus(tr, repairRow(r));
    } else if (page === 0 && matches(r) && timeKey(r.create_time) >= newest) {
      body.querySelector('td.empty')?.parentElement.remove();
      body.prepend(repairRow(r));
      newest = timeKey(r.create_time);
    }
  }

  return { root, load, onRemediation, cluster: clusterId };
}

const FIELDS = [
  ['id', 'ID'], ['state', 'State'], ['mode', 'Mode'], ['trigger', 'Trigger'],
  ['cluster_id', 'Cluster'], ['instance_id', 'Instance'], ['instance_name', 'Node'],
  ['reason', 'Reason'], ['requested_by', 'Requested by'], ['reviewed_by', 'Reviewed by'],
  ['review_time', 'Reviewed (UTC)'], ['review_comment', 'Review comment'],
  ['create_time', 'Created (UTC)'], ['update_time', 'Updated (UTC)'],
  ['start_time', 'Started (UTC)'], ['end_time', 'Ended (UTC)'], ['error_message', 'Error'],
  ['active_health_check_run_id', 'Active health check run'],
  ['passive_health_check_event_id', 'Passive health check alert'],
];

function fieldValue(key, v) {
  if (v === undefined || v === '') return h('span', { class: 'muted' }, '—');
  if (key === 'state') return badge(v);
  if (key.endsWith('_time')) return timeEl(v);
  if (key === 'mode' || key === 'trigger') return short(v);
  if (typeof v === 'object') return h('code', {}, JSON.stringify(v));
  if (key.endsWith('_id') || key === 'id') return h('code', {}, v);
  return String(v);
}

function kvTable(caption, map) {
  const entries = Object.entries(map || {});
  if (!entries.length) return null;
  return h('table', { class: 'grid kv' }, h('caption', { class: 'sr-only' }, caption),
    h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, String(v))))));
}

function alertCard(a) {
  const ann = a.annotation || {};
  const xid = ann.xid?.events || [];
  return h('article', { class: 'alert-card' },
    h('h3', {}, a.alert_name, ' ', badge(short(a.severity), short(a.severity)), ' ',
      a.resolved_at ? badge('resolved') : badge('firing')),
    ann.title ? h('p', {}, ann.title) : null,
    h('dl', { class: 'fields' },
      h('dt', {}, 'Alert ID'), h('dd', {}, h('code', {}, a.passive_health_check_alert_id)),
      a.target_vm ? [h('dt', {}, 'Target VM'), h('dd', {}, a.target_vm)] : null,
      h('dt', {}, 'Started (UTC)'), h('dd', {}, timeEl(a.started_at)),
      h('dt', {}, 'Resolved (UTC)'), h('dd', {}, a.resolved_at ? timeEl(a.resolved_at) : h('span', { class: 'muted' }, 'still firing')),
      ann.description ? [h('dt', {}, 'Description'), h('dd', {}, ann.description)] : null,
      ann.summary_line ? [h('dt', {}, 'Summary'), h('dd', {}, ann.summary_line)] : null,
      ann.slurm_node_unavailable ? [h('dt', {}, 'Slurm reason'), h('dd', {}, ann.slurm_node_unavailable.reason)] : null),
    xid.length ? h('table', { class: 'grid' }, h('caption', { class: 'sr-only' }, 'Xid events'),
      h('thead', {}, h('tr', {}, ['Xid', 'Mnemonic', 'Count'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, xid.map((e) => h('tr', {}, h('td', {}, e.xid_code), h('td', {}, e.mnemonic), h('td', { class: 'num' }, e.count))))) : null,
    Object.keys(a.labels || {}).length ? [h('h4', {}, 'Labels'), kvTable('Labels', a.labels)] : null,
    Object.keys(a.annotations || {}).length ? [h('h4', {}, 'Annotations'), kvTable('Annotations', a.annotations)] : null);
}

function eventsTable(events) {
  return table('Timeline, oldest first', ['Time (UTC)', 'Event', 'Actor', 'Detail'],
    events.map((e) => h('tr', {},
      h('td', { class: 'time' }, timeEl(e.time)),
      h('td', {}, e.state ? badge(e.state) : h('code', {}, e.step || e.type)),
      h('td', {}, e.actor || ''),
      h('td', {}, e.detail || ''))),
    'No events yet.');
}

function detailsView(clusterId, instanceId, id) {
  const title = heading('Repair');
  let actions = h('div', { class: 'actions' });
  const fields = h('dl', { class: 'fields', id: 'fields' });
  const evidence = h('div', {});
  const timeline = h('div', { id: 'timeline' });
  let shown = null;
  let seq = 0;
  const root = h('section', {},
    h('p', { class: 'crumb' }, link(['clusters', clusterId, 'repairs'], '← All repairs')),
    h('div', { class: 'head' }, title, actions),
    h('div', { class: 'cols' },
      h('section', { class: 'panel', 'aria-labelledby': 'h-fields' }, h('h2', { id: 'h-fields' }, 'Fields'), fields),
      h('section', { class: 'panel', 'aria-labelledby': 'h-evidence' }, h('h2', { id: 'h-evidence' }, 'Evidence (linked alerts)'), evidence)),
    h('section', { 'aria-labelledby': 'h-timeline' }, h('h2', { id: 'h-timeline' }, 'Timeline'), timeline));

  function render(r) {
    shown = r;
    title.textContent = `Repair of ${r.instance_name || r.instance_id} `;
    title.append(badge(r.state));
    const fresh = h('div', { class: 'actions' }, remediationActions(r));
    replaceKeepingFocus(actions, fresh);
    actions = fresh;
    const keys = [...FIELDS, ...Object.keys(r).filter((k) => k !== 'linked_alerts' && !FIELDS.some(([f]) => f === k)).map((k) => [k, k])];
    fields.replaceChildren(...keys.flatMap(([k, label]) => [h('dt', {}, label), h('dd', { dataset: { field: k } }, fieldValue(k, r[k]))]));
    const alerts = r.linked_alerts || [];
    evidence.replaceChildren(...(alerts.length ? alerts.map(alertCard)
      : [h('p', { class: 'muted' }, r.trigger === 'REMEDIATION_TRIGGER_MANUAL' ? 'None: a manual repair.' : 'No linked alerts.')]));
  }

  const ticket = tickets();
  async function loadEvents() {
    const current = ticket();
    const ev = await api('GET', remPath(clusterId, instanceId, id, 'events'));
    if (current()) timeline.replaceChildren(eventsTable(ev.events || []));
  }
  const eventsSoon = debounce(() => loadEvents().catch((e) => showError(e, { background: true })), 100);

  async function load() {
    const mine = ++seq;
    const current = ticket();
    const [r, ev] = await Promise.all([api('GET', remPath(clusterId, instanceId, id)),
      api('GET', remPath(clusterId, instanceId, id, 'events'))]);
    if (mine !== seq) return;
    if (!shown || timeKey(r.update_time) >= timeKey(shown.update_time)) render(r);
    if (current()) timeline.replaceChildren(eventsTable(ev.events || []));
  }

  function onRemediation(r) {
    if (r.id !== id || r.cluster_id !== clusterId) return;
    if (shown && timeKey(r.update_time) < timeKey(shown.update_time)) return;
    render(r);
    eventsSoon();
  }

  // Engine steps add timeline events without always changing the remediation itself.
  const timer = setInterval(() => { if (shown && ACTIVE.includes(shown.state)) eventsSoon(); }, POLL_MS);
  return { root, load, onRemediation, cluster: clusterId, destroy: () => { clearInterval(timer); eventsSoon.cancel(); } };
}

function nodesView(clusterId) {
  const summary = h('p', { class: 'muted' });
  const holder = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  let nodes = [];
  const root = h('section', {}, heading('Nodes'), summary, holder);
  const refreshSoon = debounce(() => load(true).catch((e) => showError(e, { background: true })), 300);

  function latestCell(r) {
    if (!r) return h('td', { class: 'latest' }, h('span', { class: 'muted' }, 'none'));
    return h('td', { class: 'latest' }, badge(r.state), ' ',
      link(['clusters', clusterId, 'repairs', r.instance_id, r.id], `${short(r.mode)} · ${fmtTime(r.create_time)}`));
  }

  function row(n) {
    return h('tr', { dataset: { instance: n.instance_id } },
      h('th', { scope: 'row' }, n.node_name,
        n.attention ? h('span', { class: 'attention', title: n.attention }, ' ⚠ needs a person: ', n.attention) : null),
      h('td', {}, h('code', {}, n.instance_id)),
      h('td', {}, n.host_name || h('span', { class: 'muted' }, 'none')),
      h('td', {}, badge(n.status, n.status === 'Ready' ? 'Ready' : n.status === 'Evicted' ? 'FAILED' : 'RUNNING')),
      h('td', { class: 'num' }, n.num_gpus),
      h('td', {}, n.auto_repair === false ? 'off' : 'on'),
      latestCell(n.latest_remediation),
      h('td', { class: 'actions' },
        h('button', {
          type: 'button', 'aria-label': `Repair ${n.node_name}`, dataset: { focusKey: `repair:${n.instance_id}` },
          onclick: () => repairDialog(clusterId, n, (r) => {
            if (!r) return;
            applied('Created')(r);
            refreshSoon();
          }),
        }, 'Repair'),
        h('button', {
          type: 'button', 'aria-label': `Health check ${n.node_name}`, dataset: { focusKey: `check:${n.instance_id}` },
          onclick: () => healthDialog(clusterId, nodes, n.instance_id),
        }, 'Health check')));
  }

  const ticket = tickets();
  async function load() {
    const current = ticket();
    const c = await api('GET', clusterPath(clusterId));
    if (!current()) return;
    nodes = c.gpu_worker_nodes || [];
    const a = c.automation || {};
    summary.textContent = `${c.cluster_name} · ${c.status} · ${nodes.length} nodes, ${c.num_gpus ?? ''} GPUs · automation: ${a.policy || 'approve'}` +
      (a.automatic_alerts?.length ? ` (${a.automatic_alerts.join(', ')})` : '') +
      (a.waiting_signals ? ` · ${a.waiting_signals} signals waiting (blast radius)` : '');
    const fresh = h('div', {}, table('GPU worker nodes',
      ['Node', 'Instance', 'Host', 'Status', 'GPUs', 'Auto-repair', 'Latest repair', 'Actions'],
      nodes.map(row), 'This cluster has no nodes.'));
    replaceKeepingFocus(holder.firstChild, fresh);
  }

  // A node's status follows the engine's steps: refresh while any of its nodes is being repaired.
  const timer = setInterval(() => {
    const busy = (n) => (n.status !== 'Ready' && n.status !== 'Evicted') || ACTIVE.includes(n.latest_remediation?.state);
    if (nodes.some(busy)) refreshSoon();
  }, POLL_MS);

  function onRemediation(r) {
    if (r.cluster_id !== clusterId) return;
    const tr = root.querySelector(`tr[data-instance="${CSS.escape(r.instance_id)}"]`);
    const cell = tr?.querySelector('td.latest');
    if (cell) cell.replaceWith(latestCell(r));
    refreshSoon();
  }

  return { root, load, onRemediation, cluster: clusterId, destroy: () => { clearInterval(timer); refreshSoon.cancel(); } };
}

function hostsView() {
  const holder = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const root = h('section', {}, heading('Hosts'), holder);
  const refreshSoon = debounce(() => load(true).catch((e) => showError(e, { background: true })), 300);

  function row(host) {
    const verb = host.cordoned ? 'uncordon' : 'cordon';
    return h('tr', { dataset: { host: host.host_name } },
      h('th', { scope: 'row' }, host.host_name),
      h('td', { class: 'num' }, `${host.used_gpus} / ${host.gpu_slots}`),
      h('td', {}, host.cordoned ? badge('cordoned') : 'no'),
      suspectCell(host, () => load(true)),
      h('td', {}, host.power ? (host.power === 'on' ? 'on' : badge(host.power)) : h('span', { class: 'muted' }, 'no BMC')),
      h('td', {}, (host.instances || []).join(', ')),
      h('td', { class: 'actions' }, h('button', {
        type: 'button', 'aria-label': `${host.cordoned ? 'Uncordon' : 'Cordon'} ${host.host_name}`,
        dataset: { focusKey: `cordon:${host.host_name}` },
        onclick: async () => {
          try {
            await api('POST', `/v1/compute/hosts/${enc(host.host_name)}:${verb}`);
            notify(`Host ${host.host_name} ${host.cordoned ? 'uncordoned' : 'cordoned'}.`);
            await load(true);
          } catch (e) {
            showError(e, { prefix: `Could not ${verb} ${host.host_name}` });
          }
        },
      }, host.cordoned ? 'Uncordon' : 'Cordon')));
  }

  const ticket = tickets();
  async function load() {
    const current = ticket();
    const r = await api('GET', '/v1/compute/hosts');
    if (!current()) return;
    const fresh = h('div', {}, table('Hosts', ['Host', 'Used GPUs / slots', 'Cordoned', 'Suspect (rack)', 'Power', 'Instances', 'Actions'],
      (r.hosts || []).map(row), 'No hosts.'));
    replaceKeepingFocus(holder.firstChild, fresh);
  }

  // Hosts span clusters and the stream follows one: refresh on a timer as well.
  const timer = setInterval(refreshSoon, 5000);
  return { root, load, onRemediation: refreshSoon, destroy: () => { clearInterval(timer); refreshSoon.cancel(); } };
}

// docs/http-api.md 11: a host's suspicion (the fault follows the host) and its rack, with the
// admin's "clear" (the cordon stays).
function suspectCell(host, reload) {
  const rack = host.rack ? h('span', { class: 'muted' }, ` (${host.rack})`) : null;
  if (!host.suspect) return h('td', {}, 'no', rack);
  return h('td', {}, h('span', { class: 'attention', title: host.suspect_reason || '' }, '⚠ suspect: ', host.suspect_reason || ''), rack, ' ',
    h('button', {
      type: 'button', 'aria-label': `Clear suspicion of ${host.host_name}`, dataset: { focusKey: `clear:${host.host_name}` },
      onclick: async () => {
        try {
          await api('POST', `/v1/compute/hosts/${enc(host.host_name)}:clear`);
          notify(`Host ${host.host_name} is no longer suspect; its cordon stays.`);
          await reload();
        } catch (e) {
          showError(e, { prefix: `Could not clear ${host.host_name}` });
        }
      },
    }, 'Clear'));
}

// docs/http-api.md 11: a cluster's incidents (one fault of a rack rather than N broken nodes),
// released back to automation or dismissed by an approver.
function incidentsView(clusterId) {
  const holder = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const root = h('section', {}, heading('Incidents'),
    h('p', { class: 'muted' }, 'While an incident is open, automation creates nothing for its instances.'), holder);
  const refreshSoon = debounce(() => load(true).catch((e) => showError(e, { background: true })), 300);

  function act(incident, verb) {
    return h('button', {
      type: 'button', 'aria-label': `${verb} incident ${incident.id}`, dataset: { focusKey: `${verb}:${incident.id}` },
      onclick: async () => {
        try {
          await api('POST', `${clusterPath(clusterId)}/incidents/${enc(incident.id)}:${verb}`);
          notify(`Incident ${incident.scope} ${verb === 'release' ? 'released to automation' : 'dismissed'}.`);
          await load(true);
        } catch (e) {
          showError(e, { prefix: `Could not ${verb} the incident` });
        }
      },
    }, verb === 'release' ? 'Release' : 'Dismiss');
  }

  function row(i) {
    return h('tr', { dataset: { incident: i.id } },
      h('th', { scope: 'row' }, i.scope),
      h('td', {}, i.state === 'OPEN' ? h('span', { class: 'attention' }, '⚠ OPEN') : i.state),
      h('td', { class: 'num' }, i.signals),
      h('td', {}, (i.instances || []).join(', ')),
      h('td', {}, timeEl(i.first_seen)),
      h('td', {}, timeEl(i.last_seen)),
      h('td', { class: 'actions' }, i.state === 'OPEN' ? [act(i, 'release'), act(i, 'dismiss')] : ''));
  }

  const ticket = tickets();
  async function load() {
    const current = ticket();
    const r = await api('GET', `${clusterPath(clusterId)}/incidents`);
    if (!current()) return;
    const fresh = h('div', {}, table('Incidents', ['Scope', 'State', 'Signals', 'Instances', 'First seen', 'Last seen', 'Actions'],
      (r.incidents || []).map(row), 'No incidents.'));
    replaceKeepingFocus(holder.firstChild, fresh);
  }

  const timer = setInterval(refreshSoon, 5000);
  return { root, load, onRemediation: refreshSoon, cluster: clusterId, destroy: () => { clearInterval(timer); refreshSoon.cancel(); } };
}

function alertsView(clusterId, query) {
  let status = query.get('status') || '';
  const tokens = [''];
  let page = 0;
  const holder = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const info = h('span', { class: 'muted' });
  const newer = h('button', { type: 'button', disabled: true, onclick: () => { page--; load(); } }, '← Newer');
  const older = h('button', { type: 'button', disabled: true, onclick: () => { page++; load(); } }, 'Older →');
  const root = h('section', {}, heading('Alerts'),
    h('div', { class: 'toolbar', role: 'search' }, h('label', {}, 'Status', select({
      onchange: (ev) => {
        status = ev.target.value;
        history.replaceState(null, '', hashOf('clusters', clusterId, 'alerts') + (status ? `?status=${status}` : ''));
        tokens.length = 1;
        page = 0;
        load();
      },
    }, [['', 'Firing and resolved'], ['firing', 'Firing'], ['resolved', 'Resolved']], status))),
    holder, h('div', { class: 'pager' }, newer, older, info));
  const refreshSoon = debounce(() => load(true).catch((e) => showError(e, { background: true })), 300);
  const ticket = tickets();

  function row(a) {
    const ann = a.annotation || {};
    return h('tr', {},
      h('td', { class: 'time' }, timeEl(a.started_at)),
      h('th', { scope: 'row' }, a.alert_name),
      h('td', {}, a.target_vm || a.instance_id || ''),
      h('td', {}, badge(short(a.severity), short(a.severity))),
      h('td', {}, a.firing === false || a.resolved_at ? [badge('resolved'), ' ', timeEl(a.resolved_at)] : badge('firing'),
        a.waiting ? [' ', badge('waiting')] : null),
      h('td', { class: 'reason', title: ann.description || '' }, ann.summary_line || ann.title || ''),
      h('td', {}, a.node_remediation_intent_id && a.instance_id
        ? link(['clusters', clusterId, 'repairs', a.instance_id, a.node_remediation_intent_id], 'repair') : ''));
  }

  async function load() {
    const q = new URLSearchParams({ page_size: String(PAGE_SIZE) });
    if (status) q.set('status', status);
    if (tokens[page]) q.set('page_token', tokens[page]);
    const current = ticket();
    const r = await api('GET', `${clusterPath(clusterId)}/health/alerts?${q}`);
    if (!current()) return;
    tokens.length = page + 1;
    if (r.has_next) tokens.push(r.next_page_token);
    const fresh = h('div', {}, table('Health alerts, newest first',
      ['Started (UTC)', 'Alert', 'Node', 'Severity', 'Status', 'Summary', 'Repair'],
      (r.alerts || []).map(row), 'No alerts.'));
    replaceKeepingFocus(holder.firstChild, fresh);
    newer.disabled = page === 0;
    older.disabled = !r.has_next;
    info.textContent = `Page ${page + 1} · ${(r.alerts || []).length} shown`;
  }

  const timer = setInterval(() => { if (page === 0) refreshSoon(); }, 10000);
  return {
    root, load, cluster: clusterId,
    onRemediation: (r) => { if (r.cluster_id === clusterId && page === 0) refreshSoon(); },
    destroy: () => { clearInterval(timer); refreshSoon.cancel(); },
  };
}

function healthView(clusterId, query) {
  let nodes = [];
  let instance = query.get('instance') || '';
  const nodeSelect = h('select', {
    onchange: (ev) => {
      instance = ev.target.value;
      history.replaceState(null, '', hashOf('clusters', clusterId, 'health') + (instance ? `?instance=${enc(instance)}` : ''));
      load();
    },
  });
  const runBtn = h('button', {
    type: 'button', class: 'primary', dataset: { focusKey: 'run-check' },
    onclick: async () => {
      const run = await healthDialog(clusterId, nodes, instance);
      if (run) load(true).catch((e) => showError(e));
    },
  }, 'Run a health check…');
  const holder = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const root = h('section', {}, heading('Health check runs'),
    h('div', { class: 'toolbar' }, h('label', {}, 'Node', nodeSelect), h('span', { class: 'grow' }), runBtn),
    holder);
  let timer = null;

  function row(run) {
    const node = nodes.find((n) => n.instance_id === run.instance_id);
    return h('tr', {},
      h('td', { class: 'time' }, timeEl(run.create_time)),
      h('th', { scope: 'row' }, node ? node.node_name : run.instance_id),
      h('td', {}, badge(run.state), run.waiting ? [' ', badge('waiting')] : null),
      h('td', {}, h('ul', { class: 'tests' }, (run.tests || []).map((t) =>
        h('li', { title: t.detail || '' }, badge(`${t.name}: ${t.state}`, t.state))))),
      h('td', { class: 'time' }, timeEl(run.end_time)),
      h('td', {}, run.remediation_id
        ? link(['clusters', clusterId, 'repairs', run.instance_id, run.remediation_id], 'repair') : ''));
  }

  const ticket = tickets();
  async function load() {
    const current = ticket();
    if (!nodes.length) {
      const c = await api('GET', clusterPath(clusterId));
      nodes = c.gpu_worker_nodes || [];
      const all = nodes.length <= 64;
      if (!instance && !all) instance = nodes[0]?.instance_id || '';
      nodeSelect.replaceChildren(
        ...(all ? [h('option', { value: '' }, `All nodes (${nodes.length})`)] : []),
        ...nodes.map((n) => h('option', { value: n.instance_id }, n.node_name)));
      nodeSelect.value = instance;
    }
    const targets = instance ? nodes.filter((n) => n.instance_id === instance) : nodes;
    const runs = [];
    let next = 0;
    const worker = async () => {
      while (next < targets.length) {
        const n = targets[next++];
        const r = await api('GET', `${clusterPath(clusterId)}/instances/${enc(n.instance_id)}/health_checks`);
        runs.push(...(r.health_checks || []));
      }
    };
    await Promise.all(Array.from({ length: Math.min(6, targets.length) }, worker));
    if (!current()) return;
    runs.sort((a, b) => (a.create_time < b.create_time ? 1 : a.create_time > b.create_time ? -1 : 0));
    const fresh = h('div', {}, table('Health check runs, newest first',
      ['Started (UTC)', 'Node', 'State', 'Tests', 'Ended (UTC)', 'Repair'], runs.map(row), 'No health check runs.'));
    replaceKeepingFocus(holder.firstChild, fresh);
    clearTimeout(timer);
    if (runs.some((r) => r.state === 'RUNNING')) {
      timer = setTimeout(() => load(true).catch((e) => showError(e, { background: true })), POLL_MS);
    }
  }

  return { root, load, cluster: clusterId, destroy: () => clearTimeout(timer) };
}

function homeView() {
  const root = h('section', {}, heading('Clusters'), h('p', { class: 'muted' }, 'Loading…'));
  async function load() {
    const list = await loadClusters();
    if (list.length) {
      location.replace(hashOf('clusters', lastCluster && list.some((c) => c.cluster_id === lastCluster)
        ? lastCluster : list[0].cluster_id, 'overview'));
      return;
    }
    root.replaceChildren(heading('Clusters'), h('p', {}, 'This token sees no clusters. ', link(['hosts'], 'Hosts')));
  }
  return { root, load };
}

function signInView() {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const tok = input.value.trim();
      if (!tok) return;
      button.disabled = true;
      clearError();
      try {
        await api('GET', '/v1/compute/clusters', undefined, { auth: tok });
      } catch (e) {
        showError(e, { prefix: 'Sign-in failed' });
        input.focus();
        input.select();
        return;
      } finally {
        button.disabled = false;
      }
      token = tok;
      sessionStorage.setItem(TOKEN_KEY, tok);
      clustersPromise = null;
      const target = pendingHash && pendingHash !== '#/' ? pendingHash : '#/';
      pendingHash = null;
      focusHeading = true;
      if (location.hash === target) route();
      else location.hash = target;
      signedIn();
    },
  },
  h('label', { for: 'token' }, 'Access token'), input,
  h('small', { class: 'muted' }, 'A token from ', h('code', {}, 'noderepair token create'),
    ' or the admin token printed on first start. It is kept in this tab only.'),
  button);
  return h('section', { class: 'signin panel' }, h('h1', {}, 'Sign in to noderepair'), form);
}

// ---------------------------------------------------------------------------
// Overview (docs/http-api.md 11): what needs a person, as links to the filtered views, and the
// last 30 days as charts. The charts are SVG drawn here by hand: a few rectangles and lines need
// no charting library (nothing to vendor, license or load), and each chart has its numbers in a
// table for screen readers.

const SVG_NS = 'http://www.w3.org/2000/svg';
const MODE_COLORS = {
  REMEDIATION_MODE_VM_ONLY: '#1a5fb4',
  REMEDIATION_MODE_HOST_AWARE: '#c64600',
  REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT: '#613583',
  REMEDIATION_MODE_REBOOT_VM: '#26a269',
  REMEDIATION_MODE_HOST_POWER_CYCLE: '#a51d2d',
};
const OUTCOME_COLORS = { succeeded: '#26734d', failed: '#a51d2d' };
const STAGE_NAMES = {
  waiting_for_approval: 'Waiting for approval', queued: 'Queued', quarantine: 'Quarantine',
  action: 'Action', recovery: 'Recovery',
};

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c);
  return el;
}

const STAGE_COLORS = { p50: '#1a5fb4', p90: '#99c1f1' };
// A legend's colour sample: an SVG fill, as the console's CSP forbids inline styles.
const swatch = (color) => svg('svg', { class: 'swatch', width: 12, height: 12, 'aria-hidden': 'true' },
  svg('rect', { width: 12, height: 12, fill: color }));
const sumOf = (counts) => Object.values(counts || {}).reduce((a, b) => a + b, 0);

// "40 ms", "12 s", "4.5 min", "3.2 h", "2.1 d"
export function fmtSeconds(s) {
  if (s === null || s === undefined) return '–';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${+s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${+(s / 60).toFixed(1)} min`;
  if (s < 86400) return `${+(s / 3600).toFixed(1)} h`;
  return `${+(s / 86400).toFixed(1)} d`;
}

// A stacked bar per day: `series` is [[key, label, color]], `valueOf(day, key)` the count.
function stackedDays(id, title, days, series, valueOf) {
  const W = 640;
  const H = 180;
  const pad = { l: 32, r: 8, t: 8, b: 22 };
  const max = Math.max(1, ...days.map((d) => series.reduce((a, [k]) => a + valueOf(d, k), 0)));
  const step = (W - pad.l - pad.r) / Math.max(1, days.length);
  const y = (v) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  const bars = [];
  days.forEach((d, k) => {
    let base = 0;
    for (const [key, label, color] of series) {
      const n = valueOf(d, key);
      if (!n) continue;
      bars.push(svg('rect', {
        class: 'bar', x: (pad.l + k * step + 1).toFixed(1), width: Math.max(1, step - 2).toFixed(1),
        y: y(base + n).toFixed(1), height: (y(base) - y(base + n)).toFixed(1), fill: color,
        'data-date': d.date, 'data-series': key,
      }, svg('title', {}, `${d.date}: ${n} ${label}`)));
      base += n;
    }
  });
  const ticks = [0, max / 2, max].map((v) => Math.round(v)).filter((v, k, a) => a.indexOf(v) === k);
  const axis = ticks.map((v) => [
    svg('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: 'grid' }),
    svg('text', { x: pad.l - 4, y: y(v) + 4, 'text-anchor': 'end' }, String(v)),
  ]);
  const labels = days.length ? [0, days.length - 1].map((k) => svg('text', {
    x: pad.l + k * step + step / 2, y: H - 6, 'text-anchor': k ? 'end' : 'start',
  }, days[k].date.slice(5))) : [];
  const legend = h('ul', { class: 'legend' }, series.map(([, label, color]) => h('li', {}, swatch(color), label)));
  const data = h('table', { class: 'sr-only' }, h('caption', {}, title),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Date'), series.map(([, label]) => h('th', { scope: 'col' }, label)))),
    h('tbody', {}, days.map((d) => h('tr', {}, h('th', { scope: 'row' }, d.date),
      series.map(([key]) => h('td', {}, String(valueOf(d, key))))))));
  return h('figure', { class: 'chart', id },
    h('figcaption', {}, title),
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, focusable: 'false' }, axis, bars, labels),
    legend, data);
}

// p50 and p90 per stage, as horizontal bars on one scale.
function stageChart(stages) {
  const title = 'Time per stage, p50 and p90 (last 30 days)';
  const W = 640;
  const rowH = 30;
  const pad = { l: 150, r: 110 };
  const H = stages.length * rowH + 8;
  const max = Math.max(1e-3, ...stages.map((s) => s.p90_s || 0));
  const x = (v) => pad.l + (v / max) * (W - pad.l - pad.r);
  const rows = stages.map((s, k) => {
    const top = 4 + k * rowH;
    const name = STAGE_NAMES[s.stage] || s.stage;
    return svg('g', { class: 'stage', 'data-stage': s.stage },
      svg('text', { x: pad.l - 8, y: top + 17, 'text-anchor': 'end' }, name),
      s.p90_s === null ? svg('text', { x: pad.l, y: top + 17, class: 'none' }, 'none ended') : [
        svg('rect', { class: 'p90', fill: STAGE_COLORS.p90, x: pad.l, y: top + 3, height: rowH - 10, width: Math.max(1, x(s.p90_s) - pad.l).toFixed(1) },
          svg('title', {}, `${name}: p90 ${fmtSeconds(s.p90_s)}`)),
        svg('rect', { class: 'p50', fill: STAGE_COLORS.p50, x: pad.l, y: top + 8, height: rowH - 20, width: Math.max(1, x(s.p50_s) - pad.l).toFixed(1) },
          svg('title', {}, `${name}: p50 ${fmtSeconds(s.p50_s)}`)),
        svg('text', { x: x(s.p90_s) + 6, y: top + 17 }, `${fmtSeconds(s.p50_s)} / ${fmtSeconds(s.p90_s)}`),
      ]);
  });
  const data = h('table', { class: 'sr-only' }, h('caption', {}, title),
    h('thead', {}, h('tr', {}, ['Stage', 'Ended', 'p50', 'p90'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, stages.map((s) => h('tr', {}, h('th', { scope: 'row' }, STAGE_NAMES[s.stage] || s.stage),
      h('td', {}, String(s.count ?? '')), h('td', {}, fmtSeconds(s.p50_s)), h('td', {}, fmtSeconds(s.p90_s))))));
  return h('figure', { class: 'chart', id: 'chart-stages' },
    h('figcaption', {}, title),
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, focusable: 'false' }, rows),
    h('ul', { class: 'legend' }, h('li', {}, swatch(STAGE_COLORS.p50), 'p50'), h('li', {}, swatch(STAGE_COLORS.p90), 'p90')),
    data);
}

// The "needs a person" counts, each a link to the view that lists them.
function needsPersonCards(clusterId, needs) {
  const cards = [
    ['approvals_waiting', 'Approvals waiting', ['clusters', clusterId, 'repairs'], '?state=PENDING_APPROVAL'],
    ['attention', 'Nodes needing attention', ['clusters', clusterId, 'nodes'], ''],
    ['suspect_hosts', 'Suspect hosts', ['hosts'], ''],
    ['open_incidents', 'Open incidents', ['clusters', clusterId, 'incidents'], ''],
  ];
  return h('ul', { class: 'needs', 'aria-label': 'Needs a person' }, cards.map(([key, label, parts, q]) => {
    const n = needs?.[key] ?? 0;
    return h('li', { class: n ? 'hot' : '' },
      h('a', { href: hashOf(...parts) + q, dataset: { need: key, focusKey: `need:${key}` } },
        h('span', { class: 'n' }, String(n)), h('span', {}, label)));
  }));
}

function overviewView(clusterId) {
  let content = h('div', { class: 'muted' }, 'Loading…');
  const root = h('section', { id: 'overview' }, heading('Overview'), content);
  const refresh = debounce(() => { if (view?.root === root) loadView(view, true); }, 1000);

  async function load() {
    const stats = await api('GET', `${clusterPath(clusterId)}/stats?days=30`);
    const modes = MODES.filter((m) => stats.days.some((d) => d.created[m]));
    const fresh = h('div', {},
      needsPersonCards(clusterId, stats.needs_person),
      h('div', { class: 'charts' },
        stackedDays('chart-created', 'Repairs started per day, by mode (last 30 days, UTC)', stats.days,
          modes.map((m) => [m, short(m), MODE_COLORS[m]]), (d, m) => d.created[m] || 0),
        stackedDays('chart-outcomes', 'Repairs ended per day, by outcome', stats.days,
          [['succeeded', 'Succeeded', OUTCOME_COLORS.succeeded], ['failed', 'Failed', OUTCOME_COLORS.failed]],
          (d, k) => sumOf(d[k])),
        stageChart(stats.stages)));
    replaceKeepingFocus(content, fresh);
    content = fresh;
    performance.mark('nr:overview');
  }

  return { root, load, onRemediation: (r) => { if (r.cluster_id === clusterId) refresh(); }, cluster: clusterId, destroy: refresh.cancel };
}

// ---------------------------------------------------------------------------
// Live updates: the cluster's remediations:watch stream, read with fetch() so it can
// carry the token; reconnects with backoff and Last-Event-ID; polls when the server has
// no stream (404).

class Watch {
  constructor(clusterId) {
    this.clusterId = clusterId;
    this.lastId = '';
    this.stopped = false;
    this.ctrl = null;
    this.backoff = 500;
    this.pollTimer = null;
  }

  start() {
    this.loop();
    return this;
  }

  stop() {
    this.stopped = true;
    this.ctrl?.abort();
    clearInterval(this.pollTimer);
  }

  async loop() {
    setLive('reconnecting');
    while (!this.stopped) {
      const outcome = await this.connect();
      if (this.stopped) return;
      if (outcome === 'poll') {
        setLive('poll');
        this.pollTimer = setInterval(() => resync(), POLL_MS);
        return;
      }
      if (outcome === 'fatal') {
        setLive('off');
        return;
      }
      setLive('reconnecting');
      await sleep(this.backoff);
      this.backoff = Math.min(this.backoff * 2, 15000);
    }
  }

  async connect() {
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    let stall = null;
    const arm = () => { clearTimeout(stall); stall = setTimeout(() => ctrl.abort(), 45000); };
    try {
      const headers = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
      if (this.lastId) headers['last-event-id'] = this.lastId;
      arm();
      const res = await fetch(`${remPath(this.clusterId, '-')}:watch`, { headers, signal: ctrl.signal, cache: 'no-store' });
      if (res.status === 404 || res.status === 405 || res.status === 501) return 'poll';
      if (!res.ok) {
        const err = await errorFrom(res);
        if (res.status === 401 || res.status === 403) {
          showError(err, { prefix: 'Live updates stopped' });
          return 'fatal';
        }
        return 'retry';
      }
      if (!(res.headers.get('content-type') || '').includes('text/event-stream')) return 'poll';
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      this.hadId = !!this.lastId;
      const parser = new SseParser((ev) => this.dispatch(ev));
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        parser.push(value);
      }
      return 'retry';
    } catch {
      return 'retry';
    } finally {
      clearTimeout(stall);
    }
  }

  dispatch(ev) {
    if (this.stopped) return;
    if (ev.id) this.lastId = ev.id;
    if (ev.event === 'ready') {
      this.backoff = 500;
      setLive('stream');
      // Without a replay, changes made before we subscribed could be missed: fetch again.
      if (!this.hadId) resync();
    } else if (ev.event === 'reset') {
      resync();
    } else if (ev.event === 'remediation') {
      let r;
      try { r = JSON.parse(ev.data); } catch { return; }
      deliver(r);
    }
  }
}

let watch = null;

function ensureWatch(clusterId) {
  if (!clusterId || (watch && watch.clusterId === clusterId)) return;
  watch?.stop();
  watch = new Watch(clusterId).start();
}

function stopWatch() {
  watch?.stop();
  watch = null;
  setLive('');
}

// A remediation changed (stream, poll or our own action): update the current view.
function deliver(r) {
  view?.onRemediation?.(r);
}

function resync() {
  if (view?.load) loadView(view, true);
}

// Runs a view's load. A refresh asked for while one runs waits for it and runs once after:
// starting over would throw the running one's answer away and show the view later.
function loadView(v, quiet) {
  if (v.running) {
    v.again = true;
    return;
  }
  v.running = v.load(quiet).then(clearBackgroundError, (e) => {
    if (view === v) showError(e, { background: quiet });
  }).finally(() => {
    v.running = null;
    if (v.again && view === v) {
      v.again = false;
      loadView(v, true);
    }
  });
}

// ---------------------------------------------------------------------------
// Routing.

let view = null;
let pendingHash = null;
let focusHeading = false; // move focus to the new view's heading (user navigation, sign-in)

function parseHash() {
  const raw = location.hash.slice(1) || '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const parts = path.split('/').filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  return { parts, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

function makeView(parts, query) {
  const [a, c, kind, i, id] = parts;
  if (parts.length === 0) return ['home', homeView()];
  if (a === 'hosts' && parts.length === 1) return ['hosts', hostsView()];
  if (a === 'clusters' && c) {
    if (kind === 'overview' && parts.length === 3) return ['overview', overviewView(c)];
    if (kind === 'repairs' && parts.length === 3) return ['repairs', repairsView(c, query)];
    if (kind === 'repairs' && parts.length === 5) return ['repairs', detailsView(c, i, id)];
    if (kind === 'nodes' && parts.length === 3) return ['nodes', nodesView(c)];
    if (kind === 'alerts' && parts.length === 3) return ['alerts', alertsView(c, query)];
    if (kind === 'health' && parts.length === 3) return ['health', healthView(c, query)];
    if (kind === 'incidents' && parts.length === 3) return ['incidents', incidentsView(c)];
    if (parts.length === 2) return ['repairs', repairsView(c, query)];
  }
  return [null, null];
}

function route() {
  const hash = location.hash;
  if (hash && !hash.startsWith('#/')) return; // e.g. the skip link's #main
  if (!token) {
    showSignIn();
    return;
  }
  view?.destroy?.();
  view = null;
  $('notice').replaceChildren();
  clearError();
  const { parts, query } = parseHash();
  const [name, v] = makeView(parts, query);
  const main = $('main');
  if (!v) {
    renderNav(null, lastCluster);
    main.replaceChildren(h('section', {}, heading('Not found'),
      h('p', {}, 'No such page. ', link([], 'Back to the console'))));
    return;
  }
  view = v;
  if (v.cluster) lastCluster = v.cluster;
  renderNav(name, v.cluster);
  main.replaceChildren(v.root);
  if (focusHeading) v.root.querySelector('h1')?.focus();
  focusHeading = false;
  loadView(v, false);
  ensureWatch(v.cluster || lastCluster);
  refreshEngine();
  document.title = `${v.root.querySelector('h1')?.textContent || 'noderepair'} · noderepair`;
}

function showSignIn(err) {
  view?.destroy?.();
  view = null;
  stopWatch();
  if (location.hash && location.hash !== '#/') pendingHash = location.hash;
  $('nav').hidden = true;
  $('signout').hidden = true;
  $('engine').hidden = true;
  const v = signInView();
  $('main').replaceChildren(v);
  if (err) showError(err, { prefix: 'Signed out' });
  v.querySelector('input')?.focus();
  document.title = 'Sign in · noderepair';
}

function signOut(err) {
  token = null;
  clusters = null;
  clustersPromise = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showSignIn(err);
}

function start() {
  token = sessionStorage.getItem(TOKEN_KEY);
  $('skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    ($('main').querySelector('h1') || $('main')).focus();
  });
  $('signout').addEventListener('click', () => {
    clearError();
    location.hash = '#/';
    signOut();
  });
  $('cluster').addEventListener('change', (ev) => {
    const { parts } = parseHash();
    const kind = parts[0] === 'clusters' && ['overview', 'nodes', 'alerts', 'health'].includes(parts[2]) ? parts[2] : 'repairs';
    location.hash = hashOf('clusters', ev.target.value, kind);
  });
  window.addEventListener('hashchange', () => {
    focusHeading = true;
    route();
  });
  route();
  if (token) signedIn();
}

// Fills the cluster picker and the engine badge once a token is known.
function signedIn() {
  loadClusters().then(() => renderNav(currentNav(), view?.cluster), (e) => {
    if (e.status !== 401) showError(e, { prefix: 'Could not list clusters' });
  });
}

function currentNav() {
  const { parts } = parseHash();
  if (parts[0] === 'hosts') return 'hosts';
  return parts[0] === 'clusters' ? (parts[2] || 'repairs') : null;
}

if (typeof document !== 'undefined') start();
