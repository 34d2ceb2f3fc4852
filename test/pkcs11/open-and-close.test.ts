// Opening and closing a PKCS#11 root from JavaScript: bad modules, PINs and
// labels give typed errors with stable codes, argument errors are thrown
// synchronously with Node's codes, the PIN copy is wiped, closing waits for
// the work in flight, and a process that exits (or drops a root) with work
// in flight ends cleanly.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsError, Pkcs11Error } from '../../dist/index.js';
import { native } from '../../dist/native.js';
import { openPkcs11Root, type RootOfTrust, type WrappedKey } from '../../dist/root/index.js';
import { makeToken, ROOT_DIR, type TestToken } from './softhsm-fixture.js';
import { kmsRejection } from '../helpers/kms-rejection.js';

let token: TestToken;

function options(extra: Record<string, unknown> = {}) {
  return { module: token.module, tokenLabel: token.label, pin: token.pin, ...extra };
}


function thrown(fn: () => unknown): { code?: string } {
  try {
    fn();
  } catch (error) {
    return error as { code?: string };
  }
  throw new Error('did not throw');
}

beforeAll(() => {
  token = makeToken();
});

afterAll(() => token?.remove());

describe('opening', () => {
  it('an unknown module path: NotFoundException (a KmsError, no CKR)', async () => {
    const error = await kmsRejection(openPkcs11Root(options({ module: '/nonexistent/libpkcs11.so' })));
    expect(error.code).toBe('NotFoundException');
    expect(error).not.toBeInstanceOf(Pkcs11Error);
    expect(error.message).toMatch(/cannot be loaded/);
  });

  it('a library that is no PKCS#11 module: KMSInvalidStateException', async () => {
    const error = await kmsRejection(openPkcs11Root(options({ module: path.join(ROOT_DIR, 'build', 'Release', 'hsmkms.node') })));
    expect(error.code).toBe('KMSInvalidStateException');
    expect(error.message).toMatch(/C_GetFunctionList/);
  });

  it('a token label no token has: NotFoundException', async () => {
    const error = await kmsRejection(openPkcs11Root(options({ tokenLabel: 'no-such-token' })));
    expect(error.code).toBe('NotFoundException');
    expect(error.message).toMatch(/no token has this label/);
  });

  it('a wrong PIN: AccessDeniedException, a Pkcs11Error with CKR_PIN_INCORRECT from C_Login; the message has no PIN', async () => {
    const error = (await kmsRejection(openPkcs11Root(options({ pin: '999999' })))) as Pkcs11Error;
    expect(error).toBeInstanceOf(Pkcs11Error);
    expect(error.name).toBe('Pkcs11Error');
    expect(error.code).toBe('AccessDeniedException');
    expect(error.ckr).toBe('CKR_PIN_INCORRECT');
    expect(error.rv).toBe(0xa0);
    expect(error.fn).toBe('C_Login');
    expect(error.message).not.toContain('999999');
    // The right PIN still works: nothing was locked.
    const root = await openPkcs11Root(options({ pin: Buffer.from(token.pin) }));
    expect(root.kind).toBe('pkcs11');
    await root.close();
  });

  it('the PIN: accepted as bytes; the caller keeps its array, the copy handed to native code is wiped', async () => {
    const pin = Buffer.from(token.pin);
    const root = await openPkcs11Root(options({ pin }));
    expect(pin.toString()).toBe(token.pin);
    await root.close();
    // The raw binding wipes the array it was given once it is in locked memory.
    const copy = Buffer.from(token.pin);
    const handle = native.openPkcs11Root({
      module: token.module, tokenLabel: token.label, pin: copy, threads: 1, keyCacheCapacity: 4, privateSessionKeys: true,
      retry: { maxAttempts: 2, totalMs: 100 },
    });
    expect([...copy]).toEqual([0, 0, 0, 0]);
    await native.closeRoot(await handle);
  });

  it('argument errors are thrown synchronously with ERR_INVALID_ARG_*', () => {
    const open = (extra: Record<string, unknown>) => () => openPkcs11Root(options(extra) as never);
    expect(thrown(() => openPkcs11Root(undefined as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(open({ module: 42 })).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(open({ module: '' })).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(open({ tokenLabel: 'x'.repeat(33) })).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(open({ pin: 1234 })).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(open({ pin: '' })).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(open({ threads: 0 })).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(open({ threads: 1.5 })).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(open({ keyCacheCapacity: -1 })).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(open({ retry: { maxAttempts: 0 } })).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(open({ retry: 5 })).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(open({ privateSessionKeys: 'yes' })).code).toBe('ERR_INVALID_ARG_TYPE');
    // The raw binding refuses what is not a root handle (a TypeError, never a crash).
    expect(() => native.root.stats({} as never)).toThrow(TypeError);
    expect(() => native.closeRoot(Buffer.alloc(4) as never)).toThrow(TypeError);
  });
});

describe('a root in use', () => {
  let root: RootOfTrust;
  let key: WrappedKey;
  const aad = Buffer.from('context');

  beforeAll(async () => {
    root = await openPkcs11Root(options({ threads: 2 }));
    await root.createDomainKey(1);
    const generated = await root.generateKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 1);
    key = { id: 'cmk', version: 1, domainVersion: 1, keySpec: generated.keySpec, keyUsage: generated.keyUsage, algorithm: generated.algorithm, blob: generated.blob };
  });

  it('operation arguments are checked synchronously with ERR_INVALID_ARG_*', () => {
    const iv = Buffer.alloc(12);
    expect(thrown(() => root.generateRandom(0)).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => root.generateRandom('8' as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => root.createDomainKey(-1)).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => root.encrypt(key, Buffer.alloc(11), aad, Buffer.alloc(1))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => root.encrypt(key, iv, Buffer.alloc(0), Buffer.alloc(1))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => root.encrypt(key, iv, aad, 'text' as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => root.encrypt({ ...key, blob: 'x' } as never, iv, aad, Buffer.alloc(1))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => root.encrypt({ ...key, keySpec: 'AES_128' } as never, iv, aad, Buffer.alloc(1))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => root.encrypt({ ...key, keySpec: 'RSA_2048' }, iv, aad, Buffer.alloc(1))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => root.decrypt({ ...key, id: '' }, iv, aad, Buffer.alloc(17))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => root.sign(key, 'ECDSA_SHA_512' as never, 'RAW', Buffer.alloc(1))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => root.rsaDecrypt(key, 'RSAES_PKCS1_V1_5' as never, Buffer.alloc(256))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => root.verify(Buffer.alloc(0), 'ECDSA_SHA_256', 'RAW', Buffer.alloc(1), Buffer.alloc(1))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => root.evictKey('cmk', 2 ** 32)).code).toBe('ERR_INVALID_ARG_VALUE');
  });

  it('host-side public-key errors are typed: a bad SPKI is a ValidationException', async () => {
    expect((await kmsRejection(root.verify(Buffer.alloc(10, 1), 'ECDSA_SHA_256', 'RAW', Buffer.alloc(1), Buffer.alloc(1)))).code).toBe('ValidationException');
    expect((await kmsRejection(root.encryptOaep(Buffer.alloc(10, 1), 'RSAES_OAEP_SHA_256', Buffer.alloc(1)))).code).toBe('ValidationException');
  });

  it('closing waits for the work in flight; later calls fail with KeyUnavailableException', async () => {
    const inFlight = Array.from({ length: 300 }, (_, i) =>
      i % 3 === 0 ? root.generateRandom(32) : root.encrypt(key, Buffer.alloc(12, i), aad, Buffer.alloc(32, i)),
    );
    const settled: string[] = [];
    for (const p of inFlight) void p.then(() => settled.push('op'));
    const closing = root.close();
    void closing.then(() => settled.push('closed'));
    // Every operation already started finishes (successfully) before close resolves.
    const results = await Promise.allSettled(inFlight);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    await closing;
    expect(settled.at(-1)).toBe('closed');
    expect(settled.filter((s) => s === 'op')).toHaveLength(300);
    // Closed: everything rejects with KeyUnavailableException, and close is idempotent.
    for (const later of [root.generateRandom(4), root.encrypt(key, Buffer.alloc(12), aad, Buffer.alloc(1)), root.stats(), root.evictKey('cmk', 1)]) {
      const error = await kmsRejection(later);
      expect(error.code).toBe('KeyUnavailableException');
      expect(error.message).toMatch(/closed/);
    }
    await root.close();
  });

  it('a closed root released the module: a new root opens on the same token', async () => {
    const again = await openPkcs11Root(options());
    await again.openDomainKey(2, await again.createDomainKey(2));
    expect((await again.stats()).generation).toBe(1);
    await again.close();
  });
});

describe('lifecycle in a child process', () => {
  function child(script: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, ['--expose-gc', '-e', script], { cwd: ROOT_DIR, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      proc.on('error', reject);
      proc.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  const prelude = () => `
    const { openPkcs11Root } = require('./dist/root/index.js');
    const opts = { module: ${JSON.stringify(token.module)}, tokenLabel: ${JSON.stringify(token.label)}, pin: ${JSON.stringify(token.pin)} };
  `;

  it('process.exit() with HSM work in flight ends cleanly', async () => {
    const result = await child(`${prelude()}
      (async () => {
        const root = await openPkcs11Root(opts);
        for (let i = 0; i < 2000; i++) root.generateRandom(64).catch(() => {});
        setImmediate(() => { console.log('exiting'); process.exit(0); });
      })();`);
    expect(result.stderr).toBe('');
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('exiting');
  });

  it('a root never closed, with work in flight at the natural end of the process, ends cleanly', async () => {
    const result = await child(`${prelude()}
      (async () => {
        const root = await openPkcs11Root(opts);
        const all = [];
        for (let i = 0; i < 500; i++) all.push(root.generateRandom(32));
        await Promise.all(all);
        for (let i = 0; i < 500; i++) root.generateRandom(32);
        console.log('done');
      })();`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('done');
  });

  it('a root collected without close() is released off the JS thread; the process goes on', async () => {
    const result = await child(`${prelude()}
      (async () => {
        for (let i = 0; i < 5; i++) {
          let root = await openPkcs11Root(opts);
          await root.generateRandom(16);
          root = null;
          globalThis.gc();
          await new Promise((r) => setTimeout(r, 50));
        }
        const root = await openPkcs11Root(opts);
        console.log('random', (await root.generateRandom(8)).length);
        await root.close();
      })();`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('random 8');
  });
});
