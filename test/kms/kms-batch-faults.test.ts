// Batches on a failing HSM: the fault-injection PKCS#11 module
// (test/native/fault_pkcs11_shim.c, a TEST DOUBLE forwarding to a fresh
// SoftHSM2 token) makes chosen calls fail. A recoverable error mid-batch is
// retried and loses no item; a device that stays broken fails each item with
// KeyUnavailableException within the retry budget, and the next batch after
// it recovers succeeds.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kms, type KmsError } from '../../dist/index.js';
import { kmsContext } from '../../dist/kms/kms.js';
import { buildShim, makeToken, type ShimControl, type TestToken } from '../pkcs11/softhsm-fixture.js';
import { bytes } from './kms-harness.js';

const RETRY = { maxAttempts: 3, totalMs: 300 };

let token: TestToken;
let shim: ShimControl;
let dir: string;
let kms: Kms;
let keyId: string;

beforeAll(async () => {
  token = makeToken('hsmkms-batch-faults');
  shim = buildShim(token.dir);
  dir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-batch-faults-'));
  kms = await Kms.open({
    root: { pkcs11: { module: shim.module, tokenLabel: token.label, pin: token.pin, threads: 2, retry: RETRY } },
    store: path.join(dir, 'keystore.db'),
  });
  keyId = (await kms.createKey({})).keyMetadata.keyId;
});

afterAll(async () => {
  shim?.send('clear');
  await kms?.close();
  token?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Item = { error?: KmsError; ciphertextBlob?: Uint8Array; plaintext?: Uint8Array };
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ plaintext: bytes(`item ${i}`) }));

describe('batches on a failing HSM (fault-injection module)', () => {
  it('a lost session mid-batch is recovered: every item is sealed and opens', async () => {
    const retriesBefore = (await kmsContext(kms).root.stats()).retries;
    shim.send('fail C_Encrypt CKR_SESSION_HANDLE_INVALID 2');
    const sealed = (await kms.encryptBatch({ keyId, items: items(40) })).results as Item[];
    shim.send('clear');
    expect(sealed.filter((r) => r.error !== undefined)).toEqual([]);
    // The faults did hit (and were retried).
    expect((await kmsContext(kms).root.stats()).retries).toBeGreaterThan(retriesBefore);
    const opened = (await kms.decryptBatch({ items: sealed.map((r) => ({ ciphertextBlob: r.ciphertextBlob! })) })).results as Item[];
    expect(opened.map((r) => Buffer.from(r.plaintext!).toString())).toEqual(items(40).map((i) => Buffer.from(i.plaintext).toString()));
  });

  it('a broken device fails each item with KeyUnavailableException, in time; the next batch after it recovers succeeds', async () => {
    const sealed = (await kms.encryptBatch({ keyId, items: items(30) })).results as Item[];
    shim.send('fail C_Decrypt CKR_DEVICE_ERROR always');
    const started = performance.now();
    const failed = (await kms.decryptBatch({ items: sealed.map((r) => ({ ciphertextBlob: r.ciphertextBlob! })) })).results as Item[];
    const tookMs = performance.now() - started;
    shim.send('clear');
    expect(new Set(failed.map((r) => r.error?.code))).toEqual(new Set(['KeyUnavailableException']));
    // One retry budget per slice, not one per item (30 items x 300 ms).
    expect(tookMs).toBeLessThan(4 * RETRY.totalMs + 2000);
    const opened = (await kms.decryptBatch({ items: sealed.map((r) => ({ ciphertextBlob: r.ciphertextBlob! })) })).results as Item[];
    expect(opened.every((r) => r.error === undefined)).toBe(true);
  });
});
