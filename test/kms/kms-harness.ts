// Shared set-up of the KMS suites: a Kms on the `soft` root (fresh temp dir)
// or on a fresh SoftHSM2 token (one per test file: SOFTHSM2_CONF is fixed per
// process), each with its own SQLite store and a clock tests can move.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kms } from '../../dist/index.js';
import { makeToken, type TestToken } from '../pkcs11/softhsm-fixture.js';

process.env.HSMKMS_SILENCE_SOFT_WARNING = '1';

export type RootKind = 'soft' | 'pkcs11';
export const ROOTS: RootKind[] = ['soft', 'pkcs11'];
export const DAY_MS = 86_400_000;

/** A clock tests move forward (deletion windows, rotation dates). */
export class TestClock {
  offsetMs = 0;
  readonly now = (): Date => new Date(Date.now() + this.offsetMs);
  advanceDays(days: number): void {
    this.offsetMs += days * DAY_MS;
  }
}

export interface Harness {
  kind: RootKind;
  /** A fresh directory under this harness's temp dir. */
  freshDir(): string;
  /** Opens a Kms on `dir` (a fresh one by default); closed by cleanup(). */
  open(options?: { dir?: string; clock?: TestClock; cacheTtlMs?: number; auditFlushMs?: number; track?: boolean }): Promise<{ kms: Kms; dir: string; clock: TestClock }>;
  cleanup(): Promise<void>;
}

let token: TestToken | undefined;

export function makeHarness(kind: RootKind): Harness {
  const base = mkdtempSync(path.join(os.tmpdir(), `hsmkms-kms-${kind}-`));
  let n = 0;
  const opened: Kms[] = [];
  const freshDir = (): string => {
    const dir = path.join(base, `kms-${++n}`);
    return dir;
  };
  return {
    kind,
    freshDir,
    async open(options = {}) {
      const dir = options.dir ?? freshDir();
      const clock = options.clock ?? new TestClock();
      let root;
      if (kind === 'soft') {
        root = { soft: { dir } };
      } else {
        token ??= makeToken('hsmkms-kms-test');
        root = { pkcs11: { module: token.module, tokenLabel: token.label, pin: token.pin } };
      }
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dir, { recursive: true });
      const kms = await Kms.open({
        root,
        store: path.join(dir, 'keystore.db'),
        now: clock.now,
        auditFlushMs: options.auditFlushMs ?? 20,
        ...(options.cacheTtlMs !== undefined && { cacheTtlMs: options.cacheTtlMs }),
      });
      if (options.track !== false) opened.push(kms);
      return { kms, dir, clock };
    },
    async cleanup() {
      for (const kms of opened.splice(0)) await kms.close();
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Removes the token of this process (after every harness is cleaned up). */
export function removeToken(): void {
  token?.remove();
  token = undefined;
}

/** The error code a promise rejects with, or 'SUCCESS'. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'SUCCESS';
  } catch (error) {
    return (error as { code?: string }).code ?? `untyped: ${String(error)}`;
  }
}

export const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
export const text = (b: Uint8Array): string => Buffer.from(b).toString();
