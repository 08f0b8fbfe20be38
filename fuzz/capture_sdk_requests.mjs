// Records the raw HTTP requests the official Together SDK sends, as seeds for the
// http_request, list_query and request_body fuzzers. Needs the SDK that the black-box tests
// install (`cd tests && npm ci`); run from the repository root:
//   node fuzz/capture_sdk_requests.mjs
// A loopback server answers every request with a canned remediation and writes what it got.
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const Together = createRequire(path.join(root, 'tests', 'package.json'))('together-ai');
const corpus = (name) => path.join(root, 'fuzz', 'corpus', name);

const remediation = JSON.stringify({
  id: 'r-1', cluster_id: 'c1', instance_id: 'i-1', mode: 'REMEDIATION_MODE_VM_ONLY',
  trigger: 'REMEDIATION_TRIGGER_MANUAL', state: 'PENDING', create_time: '2026-11-28T17:51:21Z',
  update_time: '2026-11-28T17:51:21Z',
});
const list = JSON.stringify({ remediations: [], has_next: false, next_page_token: '' });

// One request per connection: the head, then Content-Length bytes of body.
let onRequest;
const server = net.createServer((socket) => {
  let received = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    received = Buffer.concat([received, chunk]);
    const end = received.indexOf('\r\n\r\n');
    if (end < 0) return;
    const length = /\r\ncontent-length: *(\d+)/i.exec(received.subarray(0, end).toString());
    if (received.length < end + 4 + (length ? Number(length[1]) : 0)) return;
    const isList = /^GET \S*\/remediations(\?|\s)/.test(received.toString());
    const body = isList ? list : remediation;
    socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n` +
               `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    onRequest(received);
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const client = new Together({
  apiKey: 'nr_0123456789abcdef', baseURL: `http://127.0.0.1:${server.address().port}/v1`,
  maxRetries: 0,
});

async function capture(name, call) {
  const got = new Promise((resolve) => { onRequest = resolve; });
  await call();
  const raw = await got;
  mkdirSync(corpus('http_request'), { recursive: true });
  writeFileSync(path.join(corpus('http_request'), `sdk-${name}`), raw);
  const text = raw.toString('latin1');
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  const body = text.slice(head.length + 4);
  const query = head.split(' ')[1].split('?')[1];
  if (query) {
    mkdirSync(corpus('list_query'), { recursive: true });
    writeFileSync(path.join(corpus('list_query'), `sdk-${name}`), query);
  }
  if (body) {
    mkdirSync(corpus('request_body'), { recursive: true });
    writeFileSync(path.join(corpus('request_body'), `sdk-${name}`), body);
  }
}

const r = client.beta.clusters.remediations;
const at = { cluster_id: 'c1', instance_id: 'i-1' };
await capture('create', () => r.create('i-1', {
  cluster_id: 'c1', mode: 'REMEDIATION_MODE_VM_ONLY', reason: 'Xid 79 on gpu-node-01',
}));
await capture('create-idempotent', () => r.create('i-1', {
  cluster_id: 'c1', mode: 'REMEDIATION_MODE_REBOOT_VM', reason: 'ECC', remediation_id: 'my-r-1',
}));
await capture('retrieve', () => r.retrieve('r-1', at));
await capture('list', () => r.list('-', { cluster_id: 'c1' }));
await capture('list-filtered', () => r.list('i-1', {
  cluster_id: 'c1', state: ['PENDING_APPROVAL', 'RUNNING'], mode: ['REMEDIATION_MODE_VM_ONLY'],
  trigger: ['REMEDIATION_TRIGGER_AUTOMATED'], page_size: 20, order_by: 'update_time desc',
  page_token: 'MQoxNzY0OTc5MDgxMDAwMDAwCnItMQo',
}));
await capture('approve', () => r.approve('r-1', {
  ...at, comment: 'go ahead', mode: 'REMEDIATION_MODE_HOST_AWARE',
}));
await capture('reject', () => r.reject('r-1', { ...at, comment: 'not now' }));
await capture('cancel', () => r.cancel('r-1', at));
server.close();
