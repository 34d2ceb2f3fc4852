/**
 * Opens the root of trust Kms.open asked for: a PKCS#11 token, or the
 * embedded `soft` root (domain keys sealed under a root key that lives in a
 * 0600 file, or is derived with scrypt from a passphrase; either way it is
 * read or derived in native code, straight into locked memory).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { openPkcs11Root } from '../root/pkcs11-root.js';
import type { RootOfTrust } from '../root/root-of-trust.js';
import { openSoftRoot } from '../root/soft-root.js';
import type { RootOptions } from './kms-options.js';

const SALT_BYTES = 16;
let warned = false;

/** The soft root is for development and tests: say so once per process. */
function warnSoftRoot(dir: string): void {
  if (warned || process.env.HSMKMS_SILENCE_SOFT_WARNING === '1') return;
  warned = true;
  process.emitWarning(
    `hsmkms is using the embedded "soft" root of trust in ${dir}: domain keys are protected by a key file ` +
      '(or passphrase) on this machine, not by an HSM. Do not use it in production; configure a PKCS#11 module.',
    'HsmkmsSoftRootWarning',
  );
}

/** The salt for passphrase derivation: public, random, made once per installation. */
async function loadOrCreateSalt(file: string): Promise<Uint8Array> {
  try {
    const handle = await open(file, 'wx', 0o600);
    try {
      const salt = randomBytes(SALT_BYTES);
      await handle.writeFile(salt);
      await handle.sync();
      return salt;
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readFile(file);
  }
}

export async function openRoot(options: RootOptions, defaultDir: string): Promise<RootOfTrust> {
  if ('pkcs11' in options) {
    const { module, tokenLabel, pin, threads, privateSessionKeys, retry } = options.pkcs11;
    return openPkcs11Root({
      module,
      tokenLabel,
      pin,
      ...(threads !== undefined && { threads }),
      ...(privateSessionKeys !== undefined && { privateSessionKeys }),
      ...(retry !== undefined && { retry }),
    });
  }
  const dir = path.resolve(options.soft.dir ?? defaultDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  warnSoftRoot(dir);
  if (options.soft.passphrase !== undefined) {
    const salt = await loadOrCreateSalt(path.join(dir, 'root.salt'));
    return openSoftRoot({ passphrase: options.soft.passphrase, salt });
  }
  return openSoftRoot({ keyFile: path.join(dir, 'root.key') });
}
