// Alert ingest load (issue 4): POSTs Alertmanager v4 payloads of `per` alerts each, every
// alert with a fresh fingerprint, over `conns` keep-alive connections; prints alerts/s.
// Usage: node bench/alert_load.mjs PORT TOKEN PAYLOADS PER CONNS INSTANCES [PREFIX]
import http from 'node:http';

const [port, token, payloads, per, conns, instances, prefix = ''] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conns) });
const names = ['DmesgXidError', 'GpuEccDoubleBitError', 'NpdKernelDeadlock', 'KubeNodeDiskPressure'];
let sent = 0;
let failed = 0;
function body(n) {
  const alerts = [];
  for (let k = 0; k < Number(per); k++) {
    const i = (n * Number(per) + k) % Number(instances);
    alerts.push({
      status: 'firing',
      labels: { alertname: names[k % names.length], instance_id: `${prefix}i-${String(i).padStart(7, '0')}`, xid: '48' },
      annotations: { summary: 'load' },
      startsAt: new Date().toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      fingerprint: `load-${n}-${k}`,
    });
  }
  return JSON.stringify({ version: '4', status: 'firing', receiver: 'noderepair', alerts });
}
function post(n) {
  return new Promise((resolve) => {
    const data = body(n);
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/integrations/alertmanager', method: 'POST', agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => { res.resume(); res.on('end', () => { if (res.statusCode !== 200) failed++; resolve(); }); });
    req.on('error', () => { failed++; resolve(); });
    req.end(data);
  });
}
const start = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
let next = 0;
async function worker() { while (next < Number(payloads)) { const n = next++; await post(n); sent++; } }
await Promise.all(Array.from({ length: Number(conns) }, worker));
const secs = Number(process.hrtime.bigint() - start) / 1e9;
// This client's own CPU per alert (building and sending the JSON): on a machine it shares with
// the server, the server can have at most what the client leaves.
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ payloads: sent, failed, alerts: sent * Number(per), seconds: +secs.toFixed(3),
  alerts_per_s: Math.round(sent * Number(per) / secs),
  client_cpu_us_per_alert: +((cpu.user + cpu.system) / (sent * Number(per))).toFixed(1) }));
agent.destroy();
