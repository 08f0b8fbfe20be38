// A real Alertmanager (Debian package prometheus-alertmanager) for the black-box tests: started
// on a free 127.0.0.1 port with a temporary config and storage directory, stopped after.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { waitFor } from './engine.mjs';

export const AM_BIN = '/usr/bin/prometheus-alertmanager';
// For `test(name, { skip: AM_SKIP }, fn)`.
export const AM_SKIP = existsSync(AM_BIN) ? false
  : `${AM_BIN} is not installed (apt-get install -y prometheus-alertmanager)`;

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Starts Alertmanager with `config` (YAML text); resolves {proc, port, dir, log, api, stop}
// once it answers /-/ready. api(method, path, body) resolves {status, text}.
export async function startAlertmanager(config) {
  const dir = mkdtempSync(path.join(tmpdir(), 'noderepair-am-'));
  writeFileSync(path.join(dir, 'alertmanager.yml'), config);
  const log = { text: '' };
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = spawn(AM_BIN, [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (d) => { log.text += d; });
    proc.stderr.on('data', (d) => { log.text += d; });
    let exited = false;
    proc.on('exit', () => { exited = true; });
    process.once('exit', () => { if (!exited) proc.kill('SIGKILL'); }); // even if the runner dies
    const ready = await waitFor(async () => {
      if (exited) return 'exited';
      try {
        const r = await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(1000) });
        return r.status === 200 ? 'ready' : null;
      } catch { return null; }
    }, 10000, 100);
    if (ready === 'ready') return alertmanager(proc, port, dir, log);
    proc.kill('SIGKILL');
    if (ready !== 'exited') break; // not a port clash: give up
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`Alertmanager did not become ready\n${log.text}`);
}

function alertmanager(proc, port, dir, log) {
  return {
    proc, port, dir, log,
    url: `http://127.0.0.1:${port}`,
    async api(method, p, body) {
      const res = await fetch(`http://127.0.0.1:${port}${p}`, {
        method,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(5000),
      });
      const text = await res.text();
      return { status: res.status, text };
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await gone;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
