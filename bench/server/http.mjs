// HTTP benchmark: Encrypt of 32 B over HTTP/1.1 on loopback, 64 concurrent
// keep-alive clients, each request signed with SigV4 like the AWS SDKs do
// (a lean signer here, so the load generator does not starve the server of
// CPU on a small machine; the SDK itself is exercised by test/server).
// Reports ops/s, p50/p99 latency, and the server's CPU split: SigV4
// verification and protocol mapping (timed in the server), KMS work (the
// same Encrypt measured in-process before serving), and the HTTP stack (the rest).
import { fork } from 'node:child_process';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { BENCH_DIR, emit, log, parseSuiteArgs } from '../lib/common.mjs';

const args = parseSuiteArgs();
const CONCURRENCY = 64;
const REQUESTS = args.quick ? 4000 : 20000;
const WARMUP = args.quick ? 500 : 2000;
const credential = { principal: 'bench', accessKeyId: 'AKIABENCH0000000001', secretAccessKey: 'bench-secret-0123456789abcdef' };
const REGION = 'us-east-1';

const child = fork(path.join(BENCH_DIR, 'server', 'server-child.mjs'), [String(CONCURRENCY), String(args.quick ? 4000 : 20000), JSON.stringify([credential])], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const ready = await new Promise((resolve, reject) => {
  child.once('message', resolve);
  child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
});
const { url, keyId } = ready;
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
let signingKeyDay = '';
let signingKey;

function sign(body) {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  if (day !== signingKeyDay) {
    signingKeyDay = day;
    signingKey = hmac(hmac(hmac(hmac(`AWS4${credential.secretAccessKey}`, day), REGION), 'kms'), 'aws4_request');
  }
  const headers = {
    'amz-sdk-invocation-id': randomUUID(),
    'content-type': 'application/x-amz-json-1.1',
    host: target.host,
    'x-amz-date': amzDate,
    'x-amz-target': 'TrentService.Encrypt',
  };
  const names = Object.keys(headers).sort();
  const canonical = `POST\n/\n\n${names.map((n) => `${n}:${headers[n]}\n`).join('')}\n${names.join(';')}\n${sha256(body)}`;
  const scope = `${day}/${REGION}/kms/aws4_request`;
  const signature = hmac(signingKey, `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256(canonical)}`).toString('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credential.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  headers['content-length'] = Buffer.byteLength(body);
  return headers;
}

const body = JSON.stringify({ KeyId: keyId, Plaintext: Buffer.alloc(32, 7).toString('base64') });

function encryptOnce() {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: target.hostname, port: target.port, path: '/', method: 'POST', agent, headers: sign(body) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.setNoDelay(true);
    req.end(body);
  });
}

async function metrics() {
  const text = await new Promise((resolve, reject) => {
    http.get(`${url}/metrics`, (res) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => resolve(t));
    }).on('error', reject);
  });
  const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { cpu: value('process_cpu_seconds_total'), sigv4: value('hsmkms_sigv4_seconds_total'), protocol: value('hsmkms_protocol_seconds_total') };
}

async function run(n, latencies) {
  let next = 0;
  let errors = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < n) {
      const t = performance.now();
      try {
        await encryptOnce();
      } catch (error) {
        errors++;
        if (errors === 1) log(`first error: ${error.message}`);
      }
      latencies?.push(performance.now() - t);
    }
  }));
  return errors;
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

await run(WARMUP);
const m0 = await metrics();
const clientCpu0 = process.cpuUsage();
const latencies = [];
const t0 = performance.now();
const errors = await run(REQUESTS, latencies);
const seconds = (performance.now() - t0) / 1000;
const clientCpu = process.cpuUsage(clientCpu0);
const m1 = await metrics();
latencies.sort((a, b) => a - b);

const serverCpu = m1.cpu - m0.cpu;
const sigv4 = m1.sigv4 - m0.sigv4;
const protocol = m1.protocol - m0.protocol;
const kmsPerOp = ready.direct.cpuSeconds / ready.direct.ops;
const kmsWork = Math.min(serverCpu, kmsPerOp * REQUESTS);
const httpStack = Math.max(0, serverCpu - sigv4 - protocol - kmsWork);
const pct = (x) => (100 * x) / serverCpu;
const result = {
  case: 'Encrypt 32 B, HTTP/1.1 keep-alive on loopback, SigV4-signed',
  concurrency: CONCURRENCY,
  requests: REQUESTS,
  errors,
  seconds,
  opsPerSec: REQUESTS / seconds,
  latencyMs: { p50: quantile(latencies, 0.5), p90: quantile(latencies, 0.9), p99: quantile(latencies, 0.99), max: latencies.at(-1) },
  directKms: { opsPerSec: ready.direct.ops / ready.direct.seconds, cpuMicrosPerOp: kmsPerOp * 1e6 },
  serverCpu: {
    seconds: serverCpu,
    microsPerOp: (serverCpu / REQUESTS) * 1e6,
    coresBusy: serverCpu / seconds,
    split: {
      sigv4: { seconds: sigv4, pct: pct(sigv4), microsPerOp: (sigv4 / REQUESTS) * 1e6 },
      protocol: { seconds: protocol, pct: pct(protocol), microsPerOp: (protocol / REQUESTS) * 1e6 },
      kms: { seconds: kmsWork, pct: pct(kmsWork), microsPerOp: (kmsWork / REQUESTS) * 1e6 },
      httpStack: { seconds: httpStack, pct: pct(httpStack), microsPerOp: (httpStack / REQUESTS) * 1e6 },
    },
  },
  clientCpuSeconds: (clientCpu.user + clientCpu.system) / 1e6,
};
log(`server: ${result.opsPerSec.toFixed(0)} ops/s, p50 ${result.latencyMs.p50.toFixed(2)} ms, p99 ${result.latencyMs.p99.toFixed(2)} ms, errors ${errors}`);
agent.destroy();
child.send('stop');
await new Promise((resolve) => child.once('exit', resolve));
emit(args, result);
