// Real daemons for the Slurm and IPMI tests (docs/http-api.md 8): a private Slurm cluster
// (munged, slurmctld, slurmd per node) and ipmi_sim BMCs on 127.0.0.1, started with the
// repository's lab/ scripts in a folder of the test's own, on free ports, and stopped at the
// end of the test even when it fails.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, chmodSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, sleep } from './server.mjs';

export const LAB = path.join(REPO, 'lab');
export const haveLab = ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/ipmi_sim']
  .every((p) => existsSync(p));

function run(file, args, env = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

// A base port with 100 ports above it, picked at random so that tests side by side differ, and
// below Linux's ephemeral range (32768 and up), where any outgoing connection may hold a port
// slurmctld or a slurmd wants (a lab start once hung until its 60 s timeout at base 42700).
export const basePort = () => 20000 + Math.floor(Math.random() * 127) * 100;

export class Lab {
  constructor(t, { nodes = 4, gpus = 0, fewerGpus = [], external = [], slurmdTimeout = 3 } = {}) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'noderepair-lab-'));
    chmodSync(this.dir, 0o755); // munged wants a socket folder everyone may search
    this.nodes = nodes;
    this.port = basePort();
    this.env = {
      ...(gpus ? { GPUS: String(gpus) } : {}),
      FEWER_GPUS: fewerGpus.join(' '),
      EXTERNAL_NODES: external.join(' '),
      SLURMD_TIMEOUT: String(slurmdTimeout),
    };
    this.bmcs = new Map(); // host -> {dir, port, user, pass, passwordFile}
    t.after(() => this.stop());
  }

  get slurmConf() { return path.join(this.dir, 'slurm', 'slurm.conf'); }
  get slurmEnv() { return { SLURM_CONF: this.slurmConf }; }

  async start() {
    await run(path.join(LAB, 'slurm-cluster.sh'), ['start', path.join(this.dir, 'slurm'), String(this.nodes), String(this.port), 'munge'], this.env);
    return this;
  }

  // A BMC for `host` on its own UDP port; `node` (if given) is its host: that node's slurmd
  // runs while the chassis is powered on.
  async addBmc(host, { node, user = 'admin', pass = 'secret' } = {}) {
    const dir = path.join(this.dir, `bmc-${host}`);
    const port = this.port + 50 + this.bmcs.size;
    const env = node ? { HOST_CMD: `slurmd -D -N ${node} -f ${this.slurmConf}` } : {};
    await run(path.join(LAB, 'ipmi-bmc.sh'), ['start', dir, String(port), user, pass], env);
    const passwordFile = path.join(this.dir, `bmc-${host}.password`);
    writeFileSync(passwordFile, `${pass}\n`, { mode: 0o600 });
    const bmc = { dir, port, user, pass, passwordFile, address: `127.0.0.1:${port}` };
    this.bmcs.set(host, bmc);
    return bmc;
  }

  // The fleet file's bmc entry, with another password file if `password` is given.
  bmcEntry(host, { password } = {}) {
    const b = this.bmcs.get(host);
    let file = b.passwordFile;
    if (password !== undefined) {
      file = path.join(this.dir, `bmc-${host}.wrong`);
      writeFileSync(file, `${password}\n`, { mode: 0o600 });
    }
    return { address: b.address, username: b.user, password_file: file };
  }

  powerLog(host) {
    const f = path.join(this.bmcs.get(host).dir, 'chassis.log');
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  bmcPid(host) { return Number(readFileSync(path.join(this.bmcs.get(host).dir, 'sim.pid'), 'utf8')); }
  slurmctldPid() { return Number(readFileSync(path.join(this.dir, 'slurm', 'run', 'slurmctld.pid'), 'utf8')); }

  scontrol(...args) { return run('scontrol', args, this.slurmEnv); }
  sbatch(...args) { return run('sbatch', args, this.slurmEnv); }

  // `scontrol show node -o` of one node as {state, reason, flags, line}.
  async node(name) {
    const line = (await this.scontrol('show', 'node', '-o', name)).trim();
    const state = /(?:^| )State=(\S+)/.exec(line)?.[1] || '';
    const m = / Reason=(.*) \[[^\]]*\]$/.exec(line);
    return { state, reason: m ? m[1] : '', line };
  }

  async waitNode(name, pred, ms, what) {
    const deadline = Date.now() + ms;
    let last;
    for (;;) {
      try { last = await this.node(name); } catch (e) { last = { state: '', reason: '', line: String(e) }; }
      if (pred(last)) return last;
      if (Date.now() >= deadline) throw new Error(`${name} did not become ${what} within ${ms} ms; last: ${last.line}`);
      await sleep(100);
    }
  }

  async stop() {
    // A test may have stopped one with SIGSTOP: it must run to hear SIGTERM.
    for (const host of this.bmcs.keys()) {
      try { process.kill(this.bmcPid(host), 'SIGCONT'); } catch { /* gone */ }
      try { execFileSync(path.join(LAB, 'ipmi-bmc.sh'), ['stop', this.bmcs.get(host).dir]); } catch { /* already */ }
    }
    try { process.kill(this.slurmctldPid(), 'SIGCONT'); } catch { /* gone */ }
    try { execFileSync(path.join(LAB, 'slurm-cluster.sh'), ['stop', path.join(this.dir, 'slurm')]); } catch { /* already */ }
    if (!process.env.KEEP_LAB) rmSync(this.dir, { recursive: true, force: true });
  }
}
