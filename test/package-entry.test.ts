// The package as users load it, by name ('hsmkms' resolves to this package
// through its own "exports"), in child processes: ESM import, CommonJS
// require, both in one process, and a host without OpenSSL 3.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..') + path.sep;
const EXPORTS = [
  'AbortError', 'AeadKey', 'CachingKeyring', 'ContentType', 'DEFAULT_FRAME_LENGTH', 'DEFAULT_SUITE_ID', 'DataKeyCache',
  'DecryptionMaterials', 'EncryptionMaterials', 'KMS_ERROR_CODES', 'KMS_PROVIDER_ID', 'Kms', 'KmsError', 'KmsKeyring',
  'KmsServer', 'MultiKeyring', 'Pkcs11Error', 'RawAesKeyring', 'RawRsaKeyring', 'SEAL_OVERHEAD', 'SIGNED_SUITE_ID',
  'aead', 'createServer', 'envelope',
];

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function node(args: string[], env: Record<string, string> = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    if (!('HSMKMS_TEST_PRETEND_NO_OPENSSL3' in env)) delete childEnv.HSMKMS_TEST_PRETEND_NO_OPENSSL3;
    const child = spawn(process.execPath, args, { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function json(result: ChildResult): Record<string, unknown> {
  expect(result.stderr).toBe('');
  expect(result.signal).toBeNull();
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

// Runs in each child: a round trip on every path, and a coded error.
const exercise = `
  const key = aead.generateKey();
  const text = new TextEncoder().encode('hello from the package entry');
  const sealed = await aead.encrypt(key, text);
  const ok = new TextDecoder().decode(await aead.decrypt(key, sealed)) === 'hello from the package entry'
    && new TextDecoder().decode(aead.decryptSync(key, aead.encryptSync(key, text))) === 'hello from the package entry'
    && (await aead.decryptBatch(key, await aead.encryptBatch(key, [text])))[0].length === text.length
    && sealed.length === text.length + SEAL_OVERHEAD;
  let error;
  try { aead.decryptSync(key, new Uint8Array(40)); } catch (e) { error = e; }
`;

describe('package entry points', () => {
  it("ESM: import { aead } from 'hsmkms'", async () => {
    const out = json(
      await node([
        '--input-type=module',
        '-e',
        `import * as ns from 'hsmkms';
         import { aead, KmsError, SEAL_OVERHEAD } from 'hsmkms';
         ${exercise}
         console.log(JSON.stringify({ keys: Object.keys(ns).sort(), ok, kms: error instanceof KmsError, code: error.code,
           resolved: import.meta.resolve('hsmkms') }));`,
      ]),
    );
    expect(out.keys).toEqual(EXPORTS);
    expect(out.ok).toBe(true);
    expect(out.kms).toBe(true);
    expect(out.code).toBe('InvalidCiphertextException');
    expect(out.resolved).toMatch(/\/dist\/index\.mjs$/);
  });

  it("CommonJS: require('hsmkms')", async () => {
    const out = json(
      await node([
        '-e',
        `(async () => {
           const hsmkms = require('hsmkms');
           const { aead, KmsError, SEAL_OVERHEAD } = hsmkms;
           ${exercise}
           console.log(JSON.stringify({ keys: Object.keys(hsmkms).sort(), ok, kms: error instanceof KmsError, code: error.code,
             resolved: require.resolve('hsmkms') }));
         })();`,
      ]),
    );
    expect(out.keys).toEqual(EXPORTS);
    expect(out.ok).toBe(true);
    expect(out.kms).toBe(true);
    expect(out.code).toBe('InvalidCiphertextException');
    expect(out.resolved).toMatch(/\/dist\/index\.js$/);
  });

  it('import and require in one process share one instance (one KmsError class, one binding)', async () => {
    const out = json(
      await node([
        '--input-type=module',
        '-e',
        `import * as esm from 'hsmkms';
         import { createRequire } from 'node:module';
         const cjs = createRequire(process.cwd() + '/')('hsmkms');
         const key = esm.aead.generateKey();
         let error;
         try { cjs.aead.decryptSync(key, new Uint8Array(40)); } catch (e) { error = e; }
         console.log(JSON.stringify({
           sameKmsError: esm.KmsError === cjs.KmsError,
           sameAbortError: esm.AbortError === cjs.AbortError,
           sameAeadKey: esm.AeadKey === cjs.AeadKey,
           sameAead: esm.aead === cjs.aead,
           crossInstanceof: error instanceof esm.KmsError && key instanceof cjs.AeadKey,
           crossUse: new TextDecoder().decode(esm.aead.decryptSync(key, cjs.aead.encryptSync(key, new Uint8Array([104, 105])))),
         }));`,
      ]),
    );
    expect(out).toEqual({
      sameKmsError: true,
      sameAbortError: true,
      sameAeadKey: true,
      sameAead: true,
      crossInstanceof: true,
      crossUse: 'hi',
    });
  });

  it('only the entry points are exported (no deep imports)', async () => {
    const out = json(
      await node([
        '-e',
        `let code;
         try { require('hsmkms/dist/aead.js'); } catch (e) { code = e.code; }
         console.log(JSON.stringify({ code, name: require('hsmkms/package.json').name }));`,
      ]),
    );
    expect(out).toEqual({ code: 'ERR_PACKAGE_PATH_NOT_EXPORTED', name: 'hsmkms' });
  });
});

describe('a host without OpenSSL 3 (HSMKMS_TEST_PRETEND_NO_OPENSSL3=1)', () => {
  const env = { HSMKMS_TEST_PRETEND_NO_OPENSSL3: '1' };
  const describeError = `JSON.stringify({ name: e.name, code: e.code, message: e.message,
    kms: e instanceof require(${JSON.stringify(`${root}dist/errors.js`)}).KmsError })`;

  it('require() fails with a KmsError coded UnsupportedRuntimeException, and the process carries on', async () => {
    const out = json(await node(['-e', `try { require('hsmkms'); console.log('loaded!') } catch (e) { console.log(${describeError}) }`], env));
    expect(out.name).toBe('KmsError');
    expect(out.code).toBe('UnsupportedRuntimeException');
    expect(out.kms).toBe(true);
    expect(out.message).toMatch(/OpenSSL 3/);
  });

  it('a caught import() fails the same way, with no uncaught error (exit code 0)', async () => {
    const out = json(
      await node(
        [
          '--input-type=module',
          '-e',
          `import { createRequire } from 'node:module';
           const require = createRequire(process.cwd() + '/');
           try { await import('hsmkms'); console.log('loaded!') } catch (e) { console.log(${describeError}) }`,
        ],
        env,
      ),
    );
    expect(out.name).toBe('KmsError');
    expect(out.code).toBe('UnsupportedRuntimeException');
    expect(out.kms).toBe(true);
  });

  it('a static import exits with code 1 and the coded error, not a crash', async () => {
    const result = await node(['--input-type=module', '-e', `import 'hsmkms'; console.log('loaded!')`], env);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('loaded!');
    expect(result.stderr).toContain('KmsError');
    expect(result.stderr).toContain("code: 'UnsupportedRuntimeException'");
  });

  it('without the variable, the same child loads (control)', async () => {
    const result = await node(['-e', `require('hsmkms'); console.log(JSON.stringify({ loaded: true }))`]);
    expect(json(result)).toEqual({ loaded: true });
  });
});
