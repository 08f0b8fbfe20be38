// TLS on the listener (docs/http-api.md 10): HTTPS only, TLS 1.2 or later, with a self-signed
// certificate the test makes with the openssl command. The SDK, the CLI (--cacert) and the watch
// stream work over it; plain HTTP and untrusted clients are refused; SIGHUP swaps in a new
// certificate for new connections while open ones keep working, and refuses a broken one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, renameSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, makeFleet, rPath, BIN } from './lib/server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CID = 'tls';
let dir;
let srv;
let certFile;
let keyFile;
let first; // the certificate the server starts with

// A self-signed certificate for 127.0.0.1 (and no host name), with its SHA-256 fingerprint in
// Node's notation.
function makeCertificate(name) {
  const cert = path.join(dir, `${name}.cert.pem`);
  const key = path.join(dir, `${name}.key.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-days', '1', '-subj', `/CN=noderepair-test-${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', cert]).toString();
  return { cert, key, fingerprint: out.trim().split('=')[1].toUpperCase() };
}

// Puts a certificate and key where the server's configuration points, each file replaced whole.
function install({ cert, key }) {
  writeFileSync(`${keyFile}.new`, readFileSync(key));
  renameSync(`${keyFile}.new`, keyFile);
  writeFileSync(`${certFile}.new`, readFileSync(cert));
  renameSync(`${certFile}.new`, certFile);
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'noderepair-tls-'));
  certFile = path.join(dir, 'server.cert.pem');
  keyFile = path.join(dir, 'server.key.pem');
  first = makeCertificate('first');
  install(first);
  srv = await startServer({
    fleet: makeFleet([{ cluster_id: CID, instances: 10 }]),
    config: `server:\n  tls: {cert_file: ${certFile}, key_file: ${keyFile}}\n`,
  });
});

after(async () => {
  if (srv) await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

// One HTTPS request on a connection of its own, trusting `ca` (default: the first certificate).
function request(method, p, { body, token = srv.adminToken, ca = readFileSync(first.cert) } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request({
      host: '127.0.0.1', port: srv.port, method, path: p, ca, agent: false, timeout: 10000,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(payload ? { 'content-type': 'application/json' } : {}),
      },
    }, (res) => {
      const protocol = res.socket.getProtocol();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json, protocol });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

// A TLS connection kept open; get() sends a request on it and resolves the status line.
function openKeptAlive(ca) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: srv.port, ca }, () => {
      let received = '';
      let waiting = null;
      socket.setEncoding('utf8');
      socket.on('data', (d) => {
        received += d;
        const end = received.indexOf('\r\n\r\n');
        if (end < 0 || !waiting) return;
        const length = Number(/content-length: (\d+)/i.exec(received.slice(0, end))?.[1] || 0);
        if (received.length < end + 4 + length) return;
        const status = received.slice(0, received.indexOf('\r\n'));
        received = received.slice(end + 4 + length);
        const w = waiting;
        waiting = null;
        w(status);
      });
      resolve({
        socket,
        fingerprint: socket.getPeerCertificate().fingerprint256,
        get(p) {
          return new Promise((res) => {
            waiting = res;
            socket.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
          });
        },
      });
    });
    socket.on('error', reject);
  });
}

// The fingerprint a new connection is shown (trusting nothing: only the certificate matters).
function servedFingerprint() {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: srv.port, rejectUnauthorized: false }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fp);
    });
    socket.on('error', reject);
  });
}

async function waitFor(fn, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function cli(args, env = {}) {
  return new Promise((resolve) => {
    const base = { ...process.env };
    for (const k of ['NODEREPAIR_SERVER', 'NODEREPAIR_TOKEN', 'NODEREPAIR_CACERT']) delete base[k];
    const child = spawn(BIN, args, {
      env: { ...base, NODEREPAIR_SERVER: srv.base, NODEREPAIR_TOKEN: srv.adminToken, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

test('the server says https and serves the API and the console over TLS 1.2 or later', async () => {
  assert.equal(srv.scheme, 'https');
  assert.match(srv.starts[0].stdout, /web console at https:\/\/127\.0\.0\.1:\d+\//);
  const health = await request('GET', '/healthz');
  assert.equal(health.status, 200);
  assert.ok(['TLSv1.2', 'TLSv1.3'].includes(health.protocol), health.protocol);
  const console = await request('GET', '/', { token: null });
  assert.equal(console.status, 200);
  assert.match(console.headers['content-type'], /text\/html/);
  // TLS 1.2 is enough; older versions are not offered.
  const tls12 = await new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: srv.port, ca: readFileSync(first.cert), maxVersion: 'TLSv1.2' },
      () => { resolve(s.getProtocol()); s.destroy(); });
    s.on('error', reject);
  });
  assert.equal(tls12, 'TLSv1.2');
});

test('plain HTTP to the HTTPS port is refused: no HTTP answer, the connection is closed', async () => {
  const received = await new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: srv.port }, () => {
      s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    });
    let data = Buffer.alloc(0);
    s.on('data', (d) => { data = Buffer.concat([data, d]); });
    s.on('close', () => resolve(data));
    s.on('error', () => {});
    setTimeout(() => reject(new Error('the server kept a plain HTTP connection open for 10 s')), 10000).unref();
  });
  assert.ok(!received.toString('latin1').startsWith('HTTP/'), `answered: ${received.toString('latin1').slice(0, 80)}`);
});

test('the official SDK creates, gets and lists over HTTPS (NODE_EXTRA_CA_CERTS)', async () => {
  const operator = await srv.token('sdk-tls', 'operator');
  const out = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['lib/sdk_over_tls.mjs'], {
      cwd: HERE,
      env: {
        ...process.env, NODE_EXTRA_CA_CERTS: first.cert, SDK_BASE: `${srv.base}/v1`,
        SDK_TOKEN: operator, SDK_CLUSTER: CID, SDK_INSTANCE: `${CID}-i1`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`sdk child exited ${code}\n${stderr}`))));
  });
  assert.equal(out.created.state, 'PENDING');
  assert.equal(out.created.reason, 'over tls');
  assert.deepEqual(out.got, out.created);
  assert.deepEqual(out.listed.map((r) => r.id), [out.created.id]);
});

test('the CLI talks HTTPS with --cacert or NODEREPAIR_CACERT, and refuses an untrusted server', async () => {
  const made = await cli(['remediations', 'create', '-c', CID, '-i', `${CID}-i2`, '--mode', 'REBOOT_VM', '--json', '--cacert', first.cert]);
  assert.equal(made.code, 0, made.stderr);
  const id = JSON.parse(made.stdout).id;
  const got = await cli(['remediations', 'get', '-c', CID, '-i', `${CID}-i2`, id], { NODEREPAIR_CACERT: first.cert });
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, new RegExp(id));
  const listed = await cli(['remediations', 'list', '-c', CID, '--cacert', first.cert]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(id));

  // Without a CA that signs the server's certificate, nothing is sent.
  const untrusted = await cli(['engine', 'status']);
  assert.notEqual(untrusted.code, 0, untrusted.stdout);
  assert.match(untrusted.stderr, /TLS handshake .* failed: the server's certificate was refused: self-signed certificate; pass --cacert/);
  // The certificate names 127.0.0.1, not localhost: the host name is checked too.
  const wrongName = await cli(['engine', 'status', '--cacert', first.cert, '--server', `https://localhost:${srv.port}`]);
  assert.notEqual(wrongName.code, 0, wrongName.stdout);
  assert.match(wrongName.stderr, /certificate was refused: (hostname|IP address) mismatch/);
  const unreadable = await cli(['engine', 'status', '--cacert', path.join(dir, 'missing.pem')]);
  assert.equal(unreadable.code, 2);
  assert.match(unreadable.stderr, /cannot read --cacert/);
});

test('the watch stream works over HTTPS (noderepair remediations list --watch)', async () => {
  const base = { ...process.env };
  delete base.NODEREPAIR_CACERT;
  const child = spawn(BIN, ['remediations', 'list', '-c', CID, '--watch', '--cacert', first.cert], {
    env: { ...base, NODEREPAIR_SERVER: srv.base, NODEREPAIR_TOKEN: srv.adminToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  try {
    await waitFor(() => /UPDATED/.test(out), 10000, `the watch's table head\nstderr: ${err}`);
    const made = await request('POST', rPath(CID, `${CID}-i3`), { body: { mode: 'REMEDIATION_MODE_VM_ONLY', reason: 'watched' } });
    assert.equal(made.status, 200, made.text);
    await waitFor(() => out.includes(made.json.id), 10000, `the new remediation in the watch\nstdout: ${out}\nstderr: ${err}`);
  } finally {
    child.kill('SIGTERM');
  }
});

test('SIGHUP: new connections get the new certificate, open ones keep working; a broken one is refused', async () => {
  const kept = await openKeptAlive(readFileSync(first.cert));
  assert.equal(kept.fingerprint, first.fingerprint);
  assert.match(await kept.get('/healthz'), /^HTTP\/1\.1 200/);

  const second = makeCertificate('second');
  install(second);
  srv.proc.kill('SIGHUP');
  await waitFor(async () => (await servedFingerprint()) === second.fingerprint, 10000, 'the new certificate');
  assert.match(srv.starts[0].stderr, /SIGHUP: reloaded the TLS certificate/);
  // The connection opened before the reload still works, with the certificate it started with.
  assert.match(await kept.get('/healthz'), /^HTTP\/1\.1 200/);
  assert.equal(kept.socket.getPeerCertificate().fingerprint256, first.fingerprint);
  const fresh = await request('GET', '/healthz', { ca: readFileSync(second.cert) });
  assert.equal(fresh.status, 200);

  // A broken certificate: logged, the second one stays, the process lives on.
  writeFileSync(`${certFile}.new`, 'not a certificate\n');
  renameSync(`${certFile}.new`, certFile);
  srv.proc.kill('SIGHUP');
  await waitFor(() => /SIGHUP: TLS certificate refused, the old one stays: .*server\.cert\.pem/.test(srv.starts[0].stderr),
    10000, `the refusal in the log\nstderr: ${srv.starts[0].stderr}`);
  assert.equal(srv.proc.exitCode, null, 'still running');
  assert.equal(await servedFingerprint(), second.fingerprint);
  assert.match(await kept.get('/healthz'), /^HTTP\/1\.1 200/);
  // A key that does not match the certificate is refused the same way.
  install({ cert: first.cert, key: second.key });
  srv.proc.kill('SIGHUP');
  await waitFor(() => /does not match the certificate/.test(srv.starts[0].stderr), 10000, 'the key mismatch in the log');
  assert.equal(await servedFingerprint(), second.fingerprint);
  kept.socket.destroy();
  install(second);
});

test('SIGHUP without TLS does not stop a plain HTTP server', async () => {
  const plain = await startServer({ fleet: makeFleet([{ cluster_id: 'plain', instances: 1 }]) });
  try {
    plain.proc.kill('SIGHUP');
    await waitFor(() => /SIGHUP: no TLS configured/.test(plain.starts[0].stderr), 10000, 'the SIGHUP log line');
    const health = await plain.api('GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(plain.proc.exitCode, null);
  } finally {
    await plain.close();
  }
});
