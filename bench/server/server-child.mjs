// The server side of the HTTP benchmark, in its own process so its CPU is
// its own: a Kms on the soft root behind createServer on loopback. Before
// serving, it measures the Kms alone (in-process encrypt, same concurrency)
// so the report can split the server's CPU into KMS work and HTTP+SigV4.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadHsmkms } from '../lib/common.mjs';

process.env.HSMKMS_SILENCE_SOFT_WARNING = '1';
const { Kms, createServer } = loadHsmkms();
const [, , concurrencyArg, directOpsArg, credentialsJson] = process.argv;
const concurrency = Number(concurrencyArg);
const directOps = Number(directOpsArg);
const credentials = JSON.parse(credentialsJson);

const dir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-bench-server-'));
const kms = await Kms.open({ root: { soft: { dir } }, store: path.join(dir, 'keystore.db'), arn: { region: 'us-east-1', account: '111122223333' } });
const keyId = (await kms.createKey({})).keyMetadata.keyId;

// The Kms alone: CPU per Encrypt of 32 B with `concurrency` in flight.
const plaintext = new Uint8Array(32);
async function direct(n) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < n) await kms.encrypt({ keyId, plaintext });
  }));
}
await direct(Math.min(2000, directOps));
const c0 = process.cpuUsage();
const t0 = performance.now();
await direct(directOps);
const c1 = process.cpuUsage(c0);
const directSeconds = (performance.now() - t0) / 1000;

const server = createServer(kms, { credentials, admin: credentials[0].principal });
const url = await server.listen();
process.send({
  url,
  keyId,
  direct: { ops: directOps, seconds: directSeconds, cpuSeconds: (c1.user + c1.system) / 1e6 },
});
process.on('message', async (message) => {
  if (message === 'stop') {
    await server.close();
    await kms.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
});
