// Records what the server answers to the requests the CLI sends, as seeds for the cli_reply
// fuzzer (status, x-request-id and body, in its input format; of a body that is not JSON the
// first KiB), and a real page token of the alert list for the alert_query fuzzer. Needs
// `build/noderepair` (`make build`); run from the repository root:
//   node fuzz/capture_server_replies.mjs
// It serves the demo fleet from a database in a temporary directory, on a free port.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const corpus = (name) => path.join(root, 'fuzz', 'corpus', name);

const port = await new Promise((resolve) => {
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const { port: free } = probe.address();
    probe.close(() => resolve(free));
  });
});
const dir = mkdtempSync(path.join(os.tmpdir(), 'noderepair-capture-'));
const server = spawn(path.join(root, 'build', 'noderepair'),
  ['serve', '--demo', '--db', `sqlite:${path.join(dir, 'capture.db')}`,
   '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
const token = await new Promise((resolve, reject) => {
  const read = (chunk) => {
    output += chunk;
    const found = /admin token: (\S+)[\s\S]*listening on/.exec(output);
    if (found) resolve(found[1]);
  };
  server.stdout.on('data', read);
  server.stderr.on('data', read);
  server.on('exit', () => reject(new Error(`server exited:\n${output}`)));
});

// One request as the CLI sends it; the reply goes to corpus/cli_reply/NAME.
async function capture(name, method, target, body, headers = { authorization: `Bearer ${token}` }) {
  const res = await fetch(`http://127.0.0.1:${port}${target}`, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { accept: 'application/json', 'content-type': 'application/json', ...headers },
  });
  let text = Buffer.from(await res.arrayBuffer());
  const json = text.length > 0 && text[0] === 0x7b;
  if (!json) text = text.subarray(0, 1024);  // enough of what is not ours
  const id = Buffer.from(res.headers.get('x-request-id') ?? '');
  mkdirSync(corpus('cli_reply'), { recursive: true });
  writeFileSync(path.join(corpus('cli_reply'), name),
    Buffer.concat([Buffer.from([res.status >> 8, res.status & 255, id.length]), id, text]));
  return json ? JSON.parse(text) : null;
}

try {
  const c = '/v1/compute/clusters/demo-cluster-1';
  const remediations = `${c}/instances/-/remediations`;
  // First, while the cluster has room: an Xid alert and the remediation it makes.
  await fetch(`http://127.0.0.1:${port}/v1/sim/instances/i-1-02/faults`, {
    method: 'POST', headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ kind: 'xid', xid: 79 }),
  });
  await capture('clusters-list', 'GET', '/v1/compute/clusters');
  await capture('cluster-get', 'GET', c);
  await capture('hosts-list', 'GET', '/v1/compute/hosts');
  const created = await capture('remediation-create', 'POST',
    `${c}/instances/i-1-01/remediations`, { mode: 'REMEDIATION_MODE_VM_ONLY', reason: 'Xid 79' });
  await capture('remediation-create-bad-mode', 'POST', `${c}/instances/i-1-01/remediations`,
    { mode: 'SIDEWAYS' });
  await fetch(`http://127.0.0.1:${port}/v1/sim/instances/i-1-03/faults`, {
    method: 'POST', headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ kind: 'thermal' }),
  });
  await capture('remediations-page', 'GET', `${remediations}?page_size=1`);
  const automated = await (await fetch(
    `http://127.0.0.1:${port}${c}/instances/i-1-02/remediations`,
    { headers: { authorization: `Bearer ${token}` } })).json();
  await capture('remediation-with-linked-alert', 'GET',
    `${c}/instances/i-1-02/remediations/${automated.remediations[0].id}`);
  await capture('remediation-events', 'GET',
    `${c}/instances/i-1-01/remediations/${created.id}/events`);
  await capture('remediation-reject-not-waiting', 'POST',
    `${c}/instances/i-1-01/remediations/${created.id}/reject`, {});
  const alerts = await capture('alerts-page', 'GET', `${c}/health/alerts?page_size=1`);
  mkdirSync(corpus('alert_query'), { recursive: true });
  writeFileSync(path.join(corpus('alert_query'), 'cli-next-page'),
    `page_size=1&page_token=${alerts.next_page_token}`);
  await capture('health-check-run', 'POST', `${c}/instances/i-1-04/health_checks`,
    { tests: ['dcgm_diag', 'gpu_burn'] });
  await capture('health-checks-list', 'GET', `${c}/instances/i-1-04/health_checks`);
  await capture('engine-status', 'GET', '/v1/engine');
  await capture('cluster-unknown', 'GET', '/v1/compute/clusters/nope');
  await capture('no-token', 'GET', '/v1/compute/clusters', undefined, {});
  await capture('metrics-not-json', 'GET', '/metrics');
} finally {
  server.kill('SIGTERM');
  await new Promise((resolve) => server.on('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
}
