// A flood of concurrent connections, each sending one create (docs/http-api.md 10, overload).
// Run as its own process, so that its open-files limit can be raised without touching the test
// runner's: `sh -c 'ulimit -n "$(ulimit -Hn)" && exec node lib/flood.mjs'`.
// Input (environment): FLOOD_PORT, FLOOD_TOKEN, FLOOD_CLUSTER, FLOOD_PREFIX (instance ids are
// `${prefix}${k}`), FLOOD_CONNECTIONS. It opens every connection first, then sends every request
// at once, and prints one JSON summary on stdout.
import net from 'node:net';

const port = Number(process.env.FLOOD_PORT);
const token = process.env.FLOOD_TOKEN;
const cluster = process.env.FLOOD_CLUSTER;
const prefix = process.env.FLOOD_PREFIX;
const connections = Number(process.env.FLOOD_CONNECTIONS || 2000);
const TIMEOUT_MS = 60000;

// Parses one HTTP/1.1 response (Content-Length framed) from the bytes received so far.
function parseResponse(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(head[0].split(' ')[1]);
  const headers = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] || 0);
  if (buf.length < end + 4 + length) return null;
  return { status, headers, body: buf.subarray(end + 4, end + 4 + length).toString('utf8') };
}

function open() {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    socket.once('connect', () => resolve({ socket }));
    socket.once('error', (e) => resolve({ error: e.code || String(e) }));
  });
}

function send(socket, k) {
  const body = JSON.stringify({ mode: 'REMEDIATION_MODE_VM_ONLY', reason: 'flood' });
  const path = `/v1/compute/clusters/${cluster}/instances/${prefix}${k}/remediations`;
  const request = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n`
    + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
    + `Connection: close\r\n\r\n${body}`;
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ error: 'timeout' }), TIMEOUT_MS);
    socket.on('data', (d) => {
      received = Buffer.concat([received, d]);
      const res = parseResponse(received);
      if (res) finish(res);
    });
    socket.on('error', (e) => finish({ error: e.code || String(e) }));
    socket.on('close', () => finish(parseResponse(received) || { error: 'closed without an answer' }));
    socket.write(request);
  });
}

const started = Date.now();
const opened = await Promise.all(Array.from({ length: connections }, open));
const connectedMs = Date.now() - started;
const results = await Promise.all(opened.map((o, k) => (o.socket ? send(o.socket, k) : o)));
const summary = {
  connections,
  connected: opened.filter((o) => o.socket).length,
  connect_ms: connectedMs,
  total_ms: Date.now() - started,
  statuses: {},
  errors: {},
  created: [],
  unavailable_without_retry_after: 0,
  unavailable_bodies: {},
};
for (const r of results) {
  if (r.error) {
    summary.errors[r.error] = (summary.errors[r.error] || 0) + 1;
    continue;
  }
  summary.statuses[r.status] = (summary.statuses[r.status] || 0) + 1;
  if (r.status === 200) {
    const created = JSON.parse(r.body);
    summary.created.push({ id: created.id, instance_id: created.instance_id });
  }
  if (r.status === 503) {
    if (r.headers['retry-after'] !== '1') summary.unavailable_without_retry_after += 1;
    let message = '(not JSON)';
    try {
      const body = JSON.parse(r.body);
      message = body.code === 14 ? body.message.replace(/\d+/g, 'N') : `code ${body.code}`;
    } catch { /* counted as not JSON */ }
    summary.unavailable_bodies[message] = (summary.unavailable_bodies[message] || 0) + 1;
  }
}
process.stdout.write(`${JSON.stringify(summary)}\n`);
