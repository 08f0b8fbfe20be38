// The official SDK against an HTTPS server, run as a child process so that NODE_EXTRA_CA_CERTS
// (read once, at start) can trust the test's self-signed certificate. Environment: SDK_BASE
// (https://127.0.0.1:PORT/v1), SDK_TOKEN, SDK_CLUSTER, SDK_INSTANCE. Prints one JSON line:
// the created, retrieved and listed remediations.
import Together from 'together-ai';

const c = new Together({ apiKey: process.env.SDK_TOKEN, baseURL: process.env.SDK_BASE, maxRetries: 0, timeout: 20000 });
const cluster = process.env.SDK_CLUSTER;
const instance = process.env.SDK_INSTANCE;
const created = await c.beta.clusters.remediations.create(instance, {
  cluster_id: cluster, mode: 'REMEDIATION_MODE_VM_ONLY', reason: 'over tls',
});
const got = await c.beta.clusters.remediations.retrieve(created.id, { cluster_id: cluster, instance_id: instance });
const listed = await c.beta.clusters.remediations.list(instance, { cluster_id: cluster });
process.stdout.write(`${JSON.stringify({ created, got, listed: listed.remediations })}\n`);
