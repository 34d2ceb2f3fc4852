// Several node processes on one PostgreSQL store and one soft root: keys made
// on one node are used on the others at once; a disable is honoured
// everywhere within the cache TTL, with NOTIFY and without it; the hot path
// makes no database queries; concurrent rotations lose no update.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, freshDatabase } from '../helpers/postgres.js';
import { closeAll, KmsNode, type NodeConfig } from './node-cluster.js';

let db: Awaited<ReturnType<typeof freshDatabase>>;
let rootDir: string;
const nodes: KmsNode[] = [];

function config(overrides: Partial<NodeConfig> & { listen?: boolean } = {}): NodeConfig {
  const { listen, ...rest } = overrides;
  return {
    root: { soft: { dir: rootDir } },
    store: { connectionString: db.url, max: 2, ...(listen !== undefined && { listen }) },
    ...rest,
  };
}

async function start(overrides: Partial<NodeConfig> & { listen?: boolean } = {}): Promise<KmsNode> {
  const node = await KmsNode.start(config(overrides));
  nodes.push(node);
  return node;
}

async function waitListening(node: KmsNode): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await node.call('stats')).listening === true) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the node never started listening');
}

beforeAll(async () => {
  db = await freshDatabase('coherence');
  rootDir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-multinode-'));
});

afterAll(async () => {
  await closeAll(nodes);
  await db?.drop();
  rmSync(rootDir, { recursive: true, force: true });
});

describe('several nodes on one PostgreSQL store', () => {
  let a: KmsNode;
  let b: KmsNode;
  let c: KmsNode;

  beforeAll(async () => {
    // The first node makes the domain key; the others open it (racing opens are covered by the init lease).
    a = await start({ cacheTtlMs: 1000 });
    [b, c] = await Promise.all([start({ cacheTtlMs: 1000 }), start({ cacheTtlMs: 1000, listen: false })]);
  });

  it('a key created on node A is used on nodes B and C at once, both ways', async () => {
    const { keyMetadata } = await a.call('createKey', { description: 'shared' });
    const plaintext = new Uint8Array([1, 2, 3]);
    const onB = await b.call('encrypt', { keyId: keyMetadata.keyId, plaintext });
    expect(Buffer.from((await c.call('decrypt', { ciphertextBlob: onB.ciphertextBlob })).plaintext)).toStrictEqual(Buffer.from(plaintext));
    const onA = await a.call('encrypt', { keyId: keyMetadata.keyId, plaintext });
    expect(Buffer.from((await b.call('decrypt', { ciphertextBlob: onA.ciphertextBlob })).plaintext)).toStrictEqual(Buffer.from(plaintext));
    await a.call('createAlias', { aliasName: 'alias/shared', targetKeyId: keyMetadata.keyId });
    expect((await c.call('encrypt', { keyId: 'alias/shared', plaintext })).keyId).toContain(keyMetadata.keyId);
  });

  it('the hot path makes no database query per operation with warm caches (audit batches only)', async () => {
    const node = await start({ cacheTtlMs: 60_000, auditFlushMs: 60_000 });
    const { keyMetadata } = await a.call('createKey', {});
    await node.call('hotLoop', { keyId: keyMetadata.keyId, ms: 100, concurrency: 2 }); // warm
    const before = await node.call('stats');
    const { counts } = await node.call('hotLoop', { keyId: keyMetadata.keyId, ms: 1000, concurrency: 4 });
    const after = await node.call('stats');
    const changed = Object.keys(after.calls).filter((method) => after.calls[method] !== before.calls[method]);
    const batches = (after.calls.appendAudit ?? 0) - (before.calls.appendAudit ?? 0);
    console.log(`hot path: ${counts.ok} encrypt+decrypt+generateDataKey rounds, ${after.queries - before.queries} queries in ${batches} audit batches`);
    expect(counts.ok).toBeGreaterThan(20);
    expect(Object.keys(counts).sort()).toStrictEqual(['encrypted', 'ok']);
    // No key, version, alias or generation read: only full audit batches (128 records; the timer is 60 s away).
    expect(changed.filter((method) => method !== 'appendAudit')).toStrictEqual([]);
    expect(batches).toBeLessThanOrEqual(Math.floor((3 * counts.ok) / 128) + 1); // + what the warm-up left pending
    if (batches === 0) expect(after.queries - before.queries).toBe(0);
    await node.close();
  });

  it('with the default 1 s TTL the store sees only generation checks, refreshes and audit batches', async () => {
    const node = await start({});
    const { keyMetadata } = await a.call('createKey', {});
    await node.call('hotLoop', { keyId: keyMetadata.keyId, ms: 100, concurrency: 2 });
    const before = await node.call('stats');
    const { counts } = await node.call('hotLoop', { keyId: keyMetadata.keyId, ms: 2500, concurrency: 4 });
    const after = await node.call('stats');
    const calls: Record<string, number> = {};
    for (const [method, n] of Object.entries(after.calls as Record<string, number>)) {
      const delta = n - ((before.calls as Record<string, number>)[method] ?? 0);
      if (delta > 0) calls[method] = delta;
    }
    console.log(`1 s TTL, 2.5 s: ${counts.ok * 3} operations, store calls ${JSON.stringify(calls)}`);
    expect(Object.keys(calls).every((m) => ['generation', 'getKey', 'appendAudit'].includes(m))).toBe(true);
    // At most one refresh per TTL (plus the one in flight at either end).
    expect(calls.generation ?? 0).toBeLessThanOrEqual(4);
    expect(calls.getKey ?? 0).toBeLessThanOrEqual(4);
    await node.close();
  });

  it('a disable on A is honoured on B within the TTL with NOTIFY, and on C (no LISTEN) within the TTL too', async () => {
    const { keyMetadata } = await a.call('createKey', {});
    const keyId = keyMetadata.keyId;
    await waitListening(b);
    await Promise.all([b.call('encrypt', { keyId, plaintext: new Uint8Array(1) }), c.call('encrypt', { keyId, plaintext: new Uint8Array(1) })]);
    const watchB = b.call('untilRefused', { keyId });
    const watchC = c.call('untilRefused', { keyId });
    await a.call('disableKey', { keyId });
    const disabledAt = await a.call<number>('now');
    const [onB, onC] = await Promise.all([watchB, watchC]);
    const lagB = onB.at - disabledAt;
    const lagC = onC.at - disabledAt;
    console.log(`disable honoured on B (NOTIFY) after ${lagB} ms, on C (TTL + generation only) after ${lagC} ms`);
    expect(onB.code).toBe('DisabledException');
    expect(onC.code).toBe('DisabledException');
    expect(lagB).toBeLessThan(1000 + 300);
    expect(lagC).toBeLessThan(1000 + 300);
  });

  it('a disable is honoured within the TTL when the listener connection is dropped', async () => {
    const { keyMetadata } = await a.call('createKey', {});
    const keyId = keyMetadata.keyId;
    await waitListening(b);
    await b.call('encrypt', { keyId, plaintext: new Uint8Array(1) });
    const connectsBefore = (await b.call('stats')).listenConnects;
    // Drop B's LISTEN connection, then disable at once: the NOTIFY goes nowhere.
    const dropped = await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [
      `hsmkms-listen:${b.pid}`,
    ]);
    expect(dropped.rowCount).toBe(1);
    const watch = b.call('untilRefused', { keyId });
    await a.call('disableKey', { keyId });
    const disabledAt = await a.call<number>('now');
    const refused = await watch;
    console.log(`listener dropped: disable honoured on B after ${refused.at - disabledAt} ms`);
    expect(refused.code).toBe('DisabledException');
    expect(refused.at - disabledAt).toBeLessThan(1000 + 300);
    // The listener comes back by itself.
    await waitListening(b);
    expect((await b.call('stats')).listenConnects).toBeGreaterThan(connectsBefore);
  });

  it('concurrent rotations of one key from three nodes: one new version per request, no lost update', async () => {
    const { keyMetadata } = await a.call('createKey', {});
    const keyId = keyMetadata.keyId;
    const perNode = 5;
    const results = await Promise.all(
      [a, b, c].flatMap((node) => Array.from({ length: perNode }, () => node.call('rotateKeyOnDemand', { keyId }))),
    );
    const versions = results.map((r: { keyVersion: number }) => r.keyVersion).sort((x, y) => x - y);
    expect(versions).toStrictEqual(Array.from({ length: 3 * perNode }, (_, i) => i + 2));
    const { rotations } = await b.call('listKeyRotations', { keyId, limit: 100 });
    expect(rotations).toHaveLength(3 * perNode);
    expect((await c.call('describeKey', { keyId })).keyMetadata.currentKeyVersion).toBe(3 * perNode + 1);
    // Every node encrypts under the newest version once its cache has caught up.
    await new Promise((r) => setTimeout(r, 1100));
    for (const node of [a, b, c]) expect((await node.call('encrypt', { keyId, plaintext: new Uint8Array(1) })).keyVersion).toBe(3 * perNode + 1);
  });
});
