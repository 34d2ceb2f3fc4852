// Coordinated maintenance and a database outage, with real node processes:
// a node killed in the middle of a domain-key re-wrap is taken over by
// another, whose run finishes the job; a PostgreSQL restart under load makes
// operations fail with KeyUnavailableException meanwhile and recover after,
// with nothing lost. The restart runs on a private server of this file, so
// other files' servers are not disturbed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutSanitizer } from '../helpers/without-sanitizer.js';
import { closeAll, KmsNode, type NodeConfig } from './node-cluster.js';

const SCRIPT = path.resolve(__dirname, '../../scripts/start-postgres.sh');
let server: { url: string; dir: string };
let rootDir: string;
const nodes: KmsNode[] = [];

function pgCtl(...args: string[]): void {
  const pgCtlPath = execFileSync('bash', ['-c', 'readlink -f "$(command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl | head -1)"'], {
    encoding: 'utf8',
  }).trim();
  const command = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', pgCtlPath, ...args]] : [pgCtlPath, args];
  execFileSync(command[0] as string, command[1] as string[], { stdio: 'ignore', env: withoutSanitizer() });
}

async function start(config: Partial<NodeConfig> = {}): Promise<KmsNode> {
  const node = await KmsNode.start({
    root: { soft: { dir: rootDir } },
    store: { connectionString: server.url, max: 2 },
    ...config,
  });
  nodes.push(node);
  return node;
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return Number((await client.query(sql, params)).rows[0]?.n);
  } finally {
    await client.end();
  }
}

beforeAll(() => {
  const out = execFileSync('bash', [SCRIPT], { encoding: 'utf8', env: withoutSanitizer() });
  const value = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(out)?.[1] ?? '';
  server = { url: value('HSMKMS_TEST_POSTGRES_URL'), dir: value('HSMKMS_TEST_POSTGRES_DIR') };
  rootDir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-maintenance-'));
});

afterAll(async () => {
  await closeAll(nodes);
  if (server?.dir) execFileSync('bash', [SCRIPT, 'stop', server.dir]);
  rmSync(rootDir, { recursive: true, force: true });
});

describe('maintenance and outages across nodes', () => {
  it('a node killed during a domain-key re-wrap is taken over and the re-wrap finishes', async () => {
    const leader = await start();
    const keys: string[] = [];
    for (let i = 0; i < 12; i++) {
      const batch = await Promise.all(Array.from({ length: 25 }, () => leader.call('createKey', {})));
      keys.push(...batch.map((r: { keyMetadata: { keyId: string } }) => r.keyMetadata.keyId));
    }
    const blob = (await leader.call('encrypt', { keyId: keys[0], plaintext: new Uint8Array([9]) })).ciphertextBlob;
    const { domainKeyVersion } = await leader.call('rotateDomainKey');
    // Kill it while the re-wrap runs in the background.
    await new Promise((r) => setTimeout(r, 40));
    leader.kill();
    await leader.exited;
    const left = await count('SELECT COUNT(*) AS n FROM cmk_versions WHERE domain_key_version < $1', [domainKeyVersion]);
    console.log(`re-wrap leader killed with ${left} of ${keys.length} versions left under the old domain key`);

    const successor = await start({ maintenanceOnOpen: false });
    await successor.call('runMaintenance');
    await successor.call('waitForMaintenance');
    expect(await count('SELECT COUNT(*) AS n FROM cmk_versions WHERE domain_key_version < $1', [domainKeyVersion])).toBe(0);
    expect(await count(`SELECT COUNT(*) AS n FROM domain_keys WHERE state = 'active'`)).toBe(1);
    expect(Buffer.from((await successor.call('decrypt', { ciphertextBlob: blob })).plaintext)).toStrictEqual(Buffer.from([9]));
    for (const keyId of keys.slice(-5)) await successor.call('encrypt', { keyId, plaintext: new Uint8Array(1) });
    await successor.close();
  });

  it('due rotations: a maintenance leader killed midway is taken over; every key rotates exactly once', async () => {
    const setup = await start({ maintenanceOnOpen: false });
    const keys: string[] = [];
    for (let i = 0; i < 4; i++) {
      const batch = await Promise.all(Array.from({ length: 25 }, () => setup.call('createKey', {})));
      keys.push(...batch.map((r: { keyMetadata: { keyId: string } }) => r.keyMetadata.keyId));
    }
    for (const keyId of keys) await setup.call('enableKeyRotation', { keyId, rotationPeriodInDays: 90 });
    await setup.close();
    // 91 days later: every key is due. The leader starts the maintenance run and dies midway.
    const later = 91 * 86_400_000;
    const leader = await start({ clockOffsetMs: later, maintenanceOnOpen: false });
    void leader.call('runMaintenance').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 150));
    leader.kill();
    await leader.exited;
    const rotatedBefore = await count(`SELECT COUNT(*) AS n FROM cmk_versions WHERE key_id = ANY($1::text[]) AND version = 2`, [keys]);
    console.log(`maintenance leader killed after rotating ${rotatedBefore} of ${keys.length} due keys`);
    const [b, c] = await Promise.all([
      start({ clockOffsetMs: later, maintenanceOnOpen: false }),
      start({ clockOffsetMs: later, maintenanceOnOpen: false }),
    ]);
    await Promise.all([b.call('runMaintenance'), c.call('runMaintenance')]);
    await b.call('runMaintenance');
    const versions = await count(
      `SELECT COUNT(*) AS n FROM cmk_versions WHERE key_id = ANY($1::text[])`,
      [keys],
    );
    expect(versions).toBe(2 * keys.length);
  });

  it('a database restart under load: KeyUnavailableException meanwhile, recovery after, nothing lost', async () => {
    const a = await start({ cacheTtlMs: 200 });
    const b = await start({ cacheTtlMs: 200 });
    const { keyMetadata } = await a.call('createKey', {});
    const keyId = keyMetadata.keyId;
    const auditBefore = await count(`SELECT COUNT(*) AS n FROM audit_log WHERE operation = 'Encrypt' AND outcome = 'success'`);
    const loads = [a, b].map((node) => node.call('hotLoop', { keyId, ms: 4000, concurrency: 2 }));
    await new Promise((r) => setTimeout(r, 800));
    pgCtl('-D', path.join(server.dir, 'data'), '-m', 'fast', '-w', 'stop');
    await new Promise((r) => setTimeout(r, 1200));
    pgCtl('-D', path.join(server.dir, 'data'), '-l', path.join(server.dir, 'server.log'), '-w', 'start');
    const results = await Promise.all(loads);
    for (const { counts } of results) {
      console.log(`restart under load: ${JSON.stringify(counts)}`);
      expect(Object.keys(counts).sort()).toStrictEqual(['KeyUnavailableException', 'encrypted', 'ok']);
    }
    // Recovered: both nodes work again, and every blob made before or after decrypts.
    for (const node of [a, b]) {
      expect(await node.codeOf('encrypt', { keyId, plaintext: new Uint8Array(1) })).toBe('SUCCESS');
      for (const [i, producer] of [a, b].entries()) {
        // hotLoop binds each blob to its producer's pid (encryption context).
        for (const blob of results[i]!.blobs) {
          await node.call('decrypt', { ciphertextBlob: blob, encryptionContext: { node: String(producer.pid) } });
        }
      }
    }
    // Nothing lost: every successful encrypt's audit record reached the store once the nodes closed.
    await a.close();
    await b.close();
    const okEncrypts = results.reduce((n, r) => n + (r.counts.encrypted ?? 0), 0);
    const audited = (await count(`SELECT COUNT(*) AS n FROM audit_log WHERE operation = 'Encrypt' AND outcome = 'success'`)) - auditBefore;
    // Every encrypt that succeeded under load, plus the 2 recovery checks above.
    expect(audited).toBe(okEncrypts + 2);
  });
});
