/**
 * Test set-up for the PKCS#11 suites: a fresh SoftHSM2 token per test file in
 * a temporary directory (scripts/make-softhsm-token.sh), SOFTHSM2_CONF set
 * for this process before anything opens the module, the fault-injection
 * module (test/native/fault_pkcs11_shim.c, a test double) compiled on
 * demand, its control file, and an independent view of the token through
 * pkcs11js.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as pkcs11js from 'pkcs11js';

export const ROOT_DIR = path.resolve(__dirname, '..', '..');
export const SOFTHSM_MODULE = process.env.HSMKMS_SOFTHSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';
export const PIN = '1234';
export const SO_PIN = '12345678';

/** A token made for this process. */
export interface TestToken {
  dir: string;
  conf: string;
  label: string;
  module: string;
  pin: string;
  /** Removes the token directory. */
  remove(): void;
}

/** Makes a fresh token and points SOFTHSM2_CONF at it (before the module's first C_Initialize). */
export function makeToken(label = 'hsmkms-js-test'): TestToken {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-p11js-'));
  const conf = execFileSync('bash', [path.join(ROOT_DIR, 'scripts', 'make-softhsm-token.sh'), dir, label, SO_PIN, PIN], {
    encoding: 'utf8',
  }).trim();
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    conf,
    label,
    module: SOFTHSM_MODULE,
    pin: PIN,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Compiles the fault-injection module into `dir` (once) and points it at
 * SoftHSM2; its rules come from the control file (see {@link ShimControl}).
 */
export function buildShim(dir: string): ShimControl {
  const library = path.join(dir, 'libfault_pkcs11_shim.so');
  if (!existsSync(library)) {
    execFileSync('cc', ['-shared', '-fPIC', '-O1', '-Wall', '-o', library, path.join(ROOT_DIR, 'test', 'native', 'fault_pkcs11_shim.c'), '-ldl', '-lpthread']);
  }
  const control = path.join(dir, 'shim-control');
  writeFileSync(control, '');
  process.env.HSMKMS_SHIM_TARGET = SOFTHSM_MODULE;
  process.env.HSMKMS_SHIM_CONTROL = control;
  return new ShimControl(library, control);
}

/**
 * The shim's file channel: each new version of the file (its mtime or size
 * changed) is applied once, at the next PKCS#11 call of the process.
 */
export class ShimControl {
  #writes = 0;
  #lastSize = -1;

  constructor(
    readonly module: string,
    readonly controlFile: string,
  ) {}

  /** Sends commands ("fail C_Encrypt CKR_DEVICE_REMOVED 1; delay * 100", "restart", "clear"...). */
  send(commands: string): void {
    // File mtimes are coarse: make every version differ in size too.
    let text = `${commands.replace(/;\s*/g, '\n')}\n# ${++this.#writes}\n`;
    if (text.length === this.#lastSize) text += '#\n';
    this.#lastSize = text.length;
    writeFileSync(this.controlFile, text);
  }
}

const CKF_OS_LOCKING_OK = 2;

/**
 * An independent look at the token through pkcs11js, in this process (the
 * only way to see another session's session objects). Open it after the
 * root under test: the module is then already initialised (and logged in),
 * and pkcs11js never finalizes it.
 */
export class TokenView {
  readonly p11 = new pkcs11js.PKCS11();
  readonly session: Buffer;

  constructor(module: string, label: string, pin: string) {
    this.p11.load(module);
    try {
      this.p11.C_Initialize({ flags: CKF_OS_LOCKING_OK });
    } catch (error) {
      if (!/CKR_CRYPTOKI_ALREADY_INITIALIZED/.test(String(error))) throw error;
    }
    const slot = this.p11.C_GetSlotList(true).find((s) => this.p11.C_GetTokenInfo(s).label.trim() === label);
    if (slot === undefined) throw new Error(`no token ${label}`);
    this.session = this.p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      this.p11.C_Login(this.session, pkcs11js.CKU_USER, pin);
    } catch (error) {
      if (!/CKR_USER_ALREADY_LOGGED_IN/.test(String(error))) throw error;
    }
  }

  /** Objects matching a template (every object the process can see by default). */
  find(template: pkcs11js.Template = []): Buffer[] {
    this.p11.C_FindObjectsInit(this.session, template);
    const found: Buffer[] = [];
    for (;;) {
      const batch = this.p11.C_FindObjects(this.session, 64);
      if (batch.length === 0) break;
      found.push(...batch);
    }
    this.p11.C_FindObjectsFinal(this.session);
    return found;
  }

  /** Boolean attributes of an object. */
  bools(object: Buffer, types: number[]): Record<number, boolean> {
    const attrs = this.p11.C_GetAttributeValue(this.session, object, types.map((type) => ({ type })));
    return Object.fromEntries(attrs.map((a) => [a.type, (a.value as Buffer)[0] === 1]));
  }

  close(): void {
    try {
      this.p11.C_CloseSession(this.session);
    } catch {
      // the module may be finalized already
    }
  }
}
