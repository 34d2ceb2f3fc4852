// Every recovery path from JavaScript, through the fault-injection PKCS#11
// module (test/native/fault_pkcs11_shim.c, a test double compiled here) in
// front of SoftHSM2, driven through its control file: stale sessions, stale
// object handles, a lost login, an HSM restart, device errors recovered
// within the retry budget or ending in KeyUnavailableException, and the
// errors never retried (wrong PIN, bad arguments).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsError, Pkcs11Error } from '../../dist/index.js';
import { openPkcs11Root, type RootOfTrust, type WrappedKey } from '../../dist/root/index.js';
import { buildShim, makeToken, type ShimControl, type TestToken } from './softhsm-fixture.js';
import { kmsRejection } from '../helpers/kms-rejection.js';

let token: TestToken;
let shim: ShimControl;
let root: RootOfTrust;
let key: WrappedKey;
const AAD = Buffer.from('context');
const PLAINTEXT = Buffer.from('a 32-byte data key, in the HSM!!');

async function roundTrip(r: RootOfTrust = root): Promise<void> {
  const iv = await r.generateRandom(12);
  const { ciphertext } = await r.encrypt(key, iv, AAD, PLAINTEXT);
  expect(Buffer.compare(await r.decrypt(key, iv, AAD, ciphertext), PLAINTEXT)).toBe(0);
}


/**
 * Replaces the shim's rules. The control file is read at the next PKCS#11
 * call, so only its last version counts: each version starts by clearing.
 */
function faults(commands: string): void {
  shim.send(commands === 'clear' ? 'clear' : `clear; ${commands}`);
}

beforeAll(async () => {
  token = makeToken();
  shim = buildShim(token.dir);
  root = await openPkcs11Root({ module: shim.module, tokenLabel: token.label, pin: token.pin, threads: 2 });
  await root.createDomainKey(1);
  const generated = await root.generateKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 1);
  key = { id: 'cmk', version: 1, domainVersion: 1, keySpec: generated.keySpec, keyUsage: generated.keyUsage, algorithm: generated.algorithm, blob: generated.blob };
  await roundTrip();
});

afterAll(async () => {
  shim?.send('clear');
  await root?.close();
  token?.remove();
});

describe('recovery through the fault-injection module', () => {
  it('session handle invalid: a new session, one retry, the key not unwrapped again', async () => {
    const before = await root.stats();
    faults('fail C_EncryptInit CKR_SESSION_HANDLE_INVALID 1');
    await roundTrip();
    const after = await root.stats();
    expect(after.retries).toBe(before.retries + 1);
    expect(after.unwraps).toBe(before.unwraps);
    expect(after.workerSessions).toBeLessThanOrEqual(2);
  });

  it('object handle invalid: the domain key found again, the CMK unwrapped again, no object leaked', async () => {
    const before = await root.stats();
    faults('fail C_EncryptInit CKR_KEY_HANDLE_INVALID 1');
    await roundTrip();
    const after = await root.stats();
    expect(after.retries).toBe(before.retries + 1);
    expect(after.unwraps).toBe(before.unwraps + 1);
    expect(after.objects).toBe(before.objects);
  });

  it('user not logged in: a real logout, and a network HSM that says so on a live session', async () => {
    const iv = await root.generateRandom(12);
    const { ciphertext } = await root.encrypt(key, iv, AAD, PLAINTEXT);
    const before = await root.stats();
    faults('logout'); // every private handle is gone, sessions stay
    expect(Buffer.compare(await root.decrypt(key, iv, AAD, ciphertext), PLAINTEXT)).toBe(0);
    const relogged = await root.stats();
    expect(relogged.generation).toBeGreaterThan(before.generation!);
    expect(relogged.unwraps).toBe(before.unwraps + 1);
    faults('fail C_EncryptInit CKR_USER_NOT_LOGGED_IN 1');
    await roundTrip();
    expect((await root.stats()).retries).toBeGreaterThan(relogged.retries);
    expect((await root.stats()).objects).toBe(before.objects);
  });

  it('HSM restart (every session, the login and the session objects gone): recovered', async () => {
    const iv = await root.generateRandom(12);
    const { ciphertext } = await root.encrypt(key, iv, AAD, PLAINTEXT);
    const before = await root.stats();
    faults('restart');
    expect(Buffer.compare(await root.decrypt(key, iv, AAD, ciphertext), PLAINTEXT)).toBe(0);
    const after = await root.stats();
    expect(after.generation).toBeGreaterThan(before.generation!);
    expect(after.objects).toBe(before.objects);
    faults('restart');
    expect(await root.generateRandom(16)).toHaveLength(16);
  });

  it('device removed: back off, retry and recover within the budget', async () => {
    const before = await root.stats();
    faults('fail C_Encrypt CKR_DEVICE_REMOVED 2');
    const start = performance.now();
    await roundTrip();
    expect(performance.now() - start).toBeGreaterThanOrEqual(14); // 5 + 10 ms of backoff
    expect((await root.stats()).retries).toBe(before.retries + 2);
    for (const ckr of ['CKR_TOKEN_NOT_PRESENT', 'CKR_DEVICE_ERROR', 'CKR_GENERAL_ERROR', 'CKR_FUNCTION_FAILED', 'CKR_SESSION_COUNT']) {
      faults(`fail C_EncryptInit ${ckr} 1`);
      await roundTrip();
    }
    expect((await root.stats()).retries).toBe(before.retries + 7);
  });

  it('the budget spent: KeyUnavailableException, a Pkcs11Error that keeps ckr, rv and fn; then it comes back', async () => {
    faults('fail * CKR_DEVICE_REMOVED always'); // the HSM is down
    const start = performance.now();
    const error = await kmsRejection<Pkcs11Error>(root.encrypt(key, Buffer.alloc(12, 1), AAD, PLAINTEXT));
    const elapsed = performance.now() - start;
    expect(error).toBeInstanceOf(Pkcs11Error);
    expect(error.code).toBe('KeyUnavailableException');
    expect(error.ckr).toBe('CKR_DEVICE_REMOVED');
    expect(error.rv).toBe(0x32);
    expect(error.fn).toMatch(/^C_/);
    expect(error.message).toMatch(/retry budget/);
    expect(elapsed).toBeGreaterThanOrEqual(5 + 10 + 20 + 40 - 1); // four backoffs
    expect(elapsed).toBeLessThan(1500);
    // Random too, and with a short deadline rather than a count.
    const quick = await openPkcs11Root({ module: shim.module, tokenLabel: token.label, pin: token.pin, retry: { maxAttempts: 100, totalMs: 30 } }).catch((e: unknown) => e);
    expect((quick as KmsError).code).toBe('KeyUnavailableException'); // opening needs the HSM too
    faults('clear');
    await roundTrip();
  });

  it('a short deadline gives up after it, not after maxAttempts', async () => {
    const short = await openPkcs11Root({ module: shim.module, tokenLabel: token.label, pin: token.pin, retry: { maxAttempts: 100, totalMs: 30 } });
    faults('fail C_GenerateRandom CKR_DEVICE_ERROR always');
    const start = performance.now();
    const error = await kmsRejection<Pkcs11Error>(short.generateRandom(8));
    expect(error.code).toBe('KeyUnavailableException');
    expect(error.fn).toBe('C_GenerateRandom');
    expect(performance.now() - start).toBeLessThan(500);
    faults('clear');
    expect(await short.generateRandom(8)).toHaveLength(8);
    await short.close();
  });

  it('an HSM failure is named as one, not as a destroyed key', async () => {
    faults('fail C_Encrypt CKR_GENERAL_ERROR always');
    const error = await kmsRejection<Pkcs11Error>(root.encrypt(key, Buffer.alloc(12, 3), AAD, PLAINTEXT));
    faults('clear');
    expect(error).toBeInstanceOf(Pkcs11Error);
    expect(error.code).toBe('KeyUnavailableException');
    expect(error.ckr).toBe('CKR_GENERAL_ERROR');
    expect(error.message).toMatch(/HSM/);
    expect(error.message).not.toMatch(/destroyed/);
    await roundTrip();
  });

  it('CKR_PIN_INCORRECT is never retried (nor tried again later)', async () => {
    // The PIN changed behind our back, then the login was lost; each C_Login takes 150 ms.
    faults('fail C_Login CKR_PIN_INCORRECT always; delay C_Login 150000; logout');
    let start = performance.now();
    const error = await kmsRejection<Pkcs11Error>(root.encrypt(key, Buffer.alloc(12, 2), AAD, PLAINTEXT));
    const first = performance.now() - start;
    expect(error).toBeInstanceOf(Pkcs11Error);
    expect(error.code).toBe('AccessDeniedException');
    expect(error.ckr).toBe('CKR_PIN_INCORRECT');
    expect(error.fn).toBe('C_Login');
    expect(first).toBeLessThan(2 * 150); // one C_Login, not five
    // Latched: later operations fail at once, without another C_Login.
    start = performance.now();
    expect((await kmsRejection<Pkcs11Error>(root.encrypt(key, Buffer.alloc(12, 3), AAD, PLAINTEXT))).code).toBe('AccessDeniedException');
    expect(performance.now() - start).toBeLessThan(100);
    // Even stats (which counts the token's objects) reports the latched error.
    expect((await kmsRejection<Pkcs11Error>(root.stats())).ckr).toBe('CKR_PIN_INCORRECT');
    faults('clear');
    // Opening with a PIN the token refuses is not retried either.
    faults('fail C_Login CKR_PIN_INCORRECT 1; delay C_Login 150000');
    start = performance.now();
    const refused = await kmsRejection<Pkcs11Error>(openPkcs11Root({ module: shim.module, tokenLabel: token.label, pin: token.pin }));
    expect(refused.ckr).toBe('CKR_PIN_INCORRECT');
    expect(performance.now() - start).toBeLessThan(2 * 150);
    faults('clear');
    // This root latched the PIN error; a new root (a corrected PIN) works again.
    await root.close();
    root = await openPkcs11Root({ module: shim.module, tokenLabel: token.label, pin: token.pin, threads: 2 });
    await roundTrip();
  });

  it('bad arguments and bad data are never retried', async () => {
    const before = await root.stats();
    faults('fail C_EncryptInit CKR_ARGUMENTS_BAD 1');
    const error = await kmsRejection<Pkcs11Error>(root.encrypt(key, Buffer.alloc(12, 4), AAD, PLAINTEXT));
    expect(error.code).toBe('KMSInternalException');
    expect(error.ckr).toBe('CKR_ARGUMENTS_BAD');
    expect(error.fn).toBe('C_EncryptInit');
    const iv = await root.generateRandom(12);
    const { ciphertext } = await root.encrypt(key, iv, AAD, PLAINTEXT);
    ciphertext[0]! ^= 1;
    expect((await kmsRejection<Pkcs11Error>(root.decrypt(key, iv, AAD, ciphertext))).code).toBe('InvalidCiphertextException');
    expect((await root.stats()).retries).toBe(before.retries);
    // A session whose operation failed midway was closed, not reused.
    faults('fail C_Encrypt CKR_DATA_LEN_RANGE 1');
    expect((await kmsRejection<Pkcs11Error>(root.encrypt(key, Buffer.alloc(12, 5), AAD, PLAINTEXT))).ckr).toBe('CKR_DATA_LEN_RANGE');
    for (let i = 0; i < 4; i++) await roundTrip();
  });

  it('closing while work is held up in the HSM waits for it', async () => {
    const slow = await openPkcs11Root({ module: shim.module, tokenLabel: token.label, pin: token.pin, threads: 2 });
    const iv = Buffer.alloc(12, 6);
    await slow.encrypt(key, iv, AAD, PLAINTEXT);
    faults('delay C_Encrypt 20000'); // 20 ms per call
    const inFlight = Array.from({ length: 6 }, (_, i) => slow.encrypt(key, Buffer.alloc(12, i), AAD, PLAINTEXT));
    const start = performance.now();
    await slow.close();
    expect(performance.now() - start).toBeGreaterThanOrEqual(40); // 6 calls on 2 sessions
    for (const result of await Promise.allSettled(inFlight)) expect(result.status).toBe('fulfilled');
    faults('clear');
    expect((await kmsRejection<Pkcs11Error>(slow.generateRandom(1))).code).toBe('KeyUnavailableException');
  });
});
