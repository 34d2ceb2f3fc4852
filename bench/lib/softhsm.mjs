// A fresh SoftHSM2 token for one benchmark process, and pkcs11js opened on it
// (on the module hsmkms initialised, with CKF_OS_LOCKING_OK: without it
// SoftHSM crashes under threads).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ROOT_DIR } from './common.mjs';

const require = createRequire(import.meta.url);

export const SOFTHSM_MODULE = process.env.HSMKMS_SOFTHSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

/**
 * Makes a token in a temporary directory (removed on exit) with
 * scripts/make-softhsm-token.sh and points SOFTHSM2_CONF at it: call before
 * the process's first C_Initialize. Returns { dir, module, label, pin }.
 */
export function makeSoftHsmToken({ label, pin = '1234', soPin = '12345678', prefix = 'hsmkms-bench-' }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  process.env.SOFTHSM2_CONF = execFileSync('bash', [path.join(ROOT_DIR, 'scripts', 'make-softhsm-token.sh'), dir, label, soPin, pin], {
    encoding: 'utf8',
  }).trim();
  return { dir, module: SOFTHSM_MODULE, label, pin };
}

/**
 * pkcs11js on the token labelled `label`, with `sessions` RW sessions (the
 * first logged in, which logs in all of them). Open hsmkms's root first: it
 * initialises the module; pkcs11js's C_Initialize then finds it initialised.
 */
export function openPkcs11js({ module, label, pin, sessions: count }) {
  const pkcs11js = require('pkcs11js');
  const p11 = new pkcs11js.PKCS11();
  p11.load(module);
  try {
    p11.C_Initialize({ flags: 2 /* CKF_OS_LOCKING_OK */ });
  } catch (error) {
    if (!/CKR_CRYPTOKI_ALREADY_INITIALIZED/.test(String(error))) throw error;
  }
  const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === label);
  const sessions = Array.from({ length: count }, () => p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
  try {
    p11.C_Login(sessions[0], pkcs11js.CKU_USER, pin);
  } catch (error) {
    if (!/CKR_USER_ALREADY_LOGGED_IN/.test(String(error))) throw error;
  }
  /** The one object matching `template` (throws on none or several). */
  const findOne = (template) => {
    p11.C_FindObjectsInit(sessions[0], template);
    const found = p11.C_FindObjects(sessions[0], 2);
    p11.C_FindObjectsFinal(sessions[0]);
    if (found.length !== 1) throw new Error(`expected one object, found ${found.length}`);
    return found[0];
  };
  return {
    pkcs11js,
    p11,
    slot,
    sessions,
    findOne,
    version: require('pkcs11js/package.json').version,
    // Before closing the last hsmkms root: that finalizes the module.
    close: () => sessions.forEach((s) => p11.C_CloseSession(s)),
  };
}

export function softhsmVersion() {
  try {
    return execFileSync('softhsm2-util', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
