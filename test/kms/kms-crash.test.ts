// SIGKILL in the middle of createKey, key rotation and a domain-key re-wrap
// (test/fixtures/kms-crash-child.cjs, a real child process on a real root and
// store): every key the child reported created still decrypts what it
// encrypted, the store stays intact, and an interrupted re-wrap resumes.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { Kms } from '../../dist/index.js';
import { openKeyStore } from '../../dist/keystore/index.js';
import { makeToken, type TestToken } from '../pkcs11/softhsm-fixture.js';
import { makeHarness, ROOTS, type RootKind } from './kms-harness.js';
import { expectIntactStore } from '../helpers/sqlite-integrity.js';

const CHILD = path.resolve(__dirname, '../fixtures/kms-crash-child.cjs');

interface Fact {
  ready?: boolean;
  key?: string;
  blob?: string;
  plaintext?: string;
  rotated?: string;
  version?: number;
  rewrapStarted?: number;
  rewrapDone?: number;
}

interface Claims {
  blobs: { key: string; blob: string; plaintext: string }[];
  rotations: Map<string, number>;
}

let token: TestToken | undefined;

function rootFor(kind: RootKind, dir: string): object {
  if (kind === 'soft') return { soft: { dir } };
  token ??= makeToken('hsmkms-crash-test');
  return { pkcs11: { module: token.module, tokenLabel: token.label, pin: token.pin } };
}

const randomInt = (low: number, high: number): number => low + Math.floor(Math.random() * (high - low + 1));

/**
 * Runs the child until `killWhen` says so, then SIGKILLs it after up to
 * `jitterMs` (so the kill lands at varied points of the work that follows).
 * Collects what it claimed before it died.
 */
async function runAndKill(config: object, claims: Claims, killWhen: (fact: Fact, seen: number) => boolean, jitterMs: number): Promise<void> {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(config)], {
    env: { ...process.env, HSMKMS_SILENCE_SOFT_WARNING: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let seen = 0;
  let killing = false;
  for await (const line of createInterface({ input: child.stdout })) {
    const fact = JSON.parse(line) as Fact;
    seen++;
    if (fact.key !== undefined) claims.blobs.push({ key: fact.key, blob: fact.blob!, plaintext: fact.plaintext! });
    if (fact.rotated !== undefined) claims.rotations.set(fact.rotated, fact.version!);
    if (!killing && killWhen(fact, seen)) {
      killing = true;
      setTimeout(() => child.kill('SIGKILL'), randomInt(0, jitterMs));
    }
  }
  const { signal } = await exited;
  expect(stderr).toBe('');
  expect(signal).toBe('SIGKILL');
}

/** Every claim holds on a Kms freshly opened on what the child left. */
async function verifyClaims(kms: Kms, claims: Claims): Promise<void> {
  for (const { key, blob, plaintext } of claims.blobs) {
    const out = await kms.decrypt({ ciphertextBlob: Buffer.from(blob, 'base64'), encryptionContext: { purpose: 'crash-test' } });
    expect(out.keyId).toContain(key);
    expect(Buffer.from(out.plaintext).toString('base64')).toBe(plaintext);
  }
  for (const [keyId, version] of claims.rotations) {
    const { keyMetadata } = await kms.describeKey({ keyId });
    expect(keyMetadata.currentKeyVersion).toBeGreaterThanOrEqual(version);
    expect((await kms.encrypt({ keyId, plaintext: new Uint8Array(1) })).keyVersion).toBeGreaterThanOrEqual(version);
  }
}

describe.each(ROOTS)('SIGKILL on the %s root', (kind) => {
  const h = makeHarness(kind);
  afterAll(async () => {
    await h.cleanup();
  });

  it('createKey and rotateKeyOnDemand killed at random points, four times over one store: nothing reported is lost', async () => {
    const dir = h.freshDir();
    const store = path.join(dir, 'keystore.db');
    const config = { root: rootFor(kind, dir), store, mode: 'keys' };
    const claims: Claims = { blobs: [], rotations: new Map() };
    for (let round = 0; round < 4; round++) {
      const before = claims.blobs.length;
      const target = randomInt(4, 30);
      await runAndKill(config, claims, (_fact, seen) => seen >= target, 8);
      expect(claims.blobs.length).toBeGreaterThan(before);
      expectIntactStore(store);
      const kms = await Kms.open({ root: config.root as never, store });
      try {
        await verifyClaims(kms, claims);
      } finally {
        await kms.close();
      }
    }
    expect(claims.rotations.size).toBeGreaterThan(0);
  }, 120_000);

  it('a domain-key rotation killed during its re-wrap: everything decrypts, and the next open finishes the re-wrap', async () => {
    const dir = h.freshDir();
    const store = path.join(dir, 'keystore.db');
    const config = { root: rootFor(kind, dir), store, mode: 'rewrap', count: 300 };
    const claims: Claims = { blobs: [], rotations: new Map() };
    let startedVersion = 0;
    await runAndKill(
      config,
      claims,
      (fact) => {
        if (fact.rewrapStarted !== undefined) startedVersion = fact.rewrapStarted;
        return fact.rewrapStarted !== undefined;
      },
      40,
    );
    expect(startedVersion).toBe(2);
    expect(claims.blobs).toHaveLength(300);
    expectIntactStore(store);
    const left = await openKeyStore(store);
    try {
      const stillUnderOld = await left.countVersionsWrappedUnder(1);
      // The kill landed mid-re-wrap (300 versions take far longer than the kill's jitter).
      if (kind === 'soft') expect(stillUnderOld).toBeGreaterThan(0);
      expect(stillUnderOld).toBeLessThanOrEqual(300);
    } finally {
      await left.close();
    }

    // Opening resumes the re-wrap at once: the lease of the dead child is taken over, not waited out.
    const opened = Date.now();
    const kms = await Kms.open({ root: config.root as never, store });
    try {
      await kms.waitForMaintenance();
      expect(Date.now() - opened).toBeLessThan(20_000);
      await verifyClaims(kms, claims);
    } finally {
      await kms.close();
    }
    const keyStore = await openKeyStore(store);
    try {
      const domainKeys = await keyStore.listDomainKeys();
      expect(domainKeys.map((d) => d.version).sort()).toEqual([1, 2]);
      if (kind === 'soft') {
        // Everything moved to version 2, and version 1 is retired.
        expect(await keyStore.countVersionsWrappedUnder(1)).toBe(0);
        expect(domainKeys.find((d) => d.version === 1)?.state).toBe('retired');
      } else {
        // A token cannot re-wrap (non-extractable CMKs): version 1 keeps what it holds.
        expect(await keyStore.countVersionsWrappedUnder(1)).toBe(300);
        expect(domainKeys.every((d) => d.state === 'active')).toBe(true);
      }
      const job = await keyStore.getJob('domain-key-rewrap');
      expect(job?.leaseOwner ?? null).toBeNull();
    } finally {
      await keyStore.close();
    }
  }, 120_000);
});

afterAll(() => {
  token?.remove();
});
