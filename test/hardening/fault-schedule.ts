/**
 * The faults the load test injects through the fault-injection PKCS#11
 * module (test/native/fault_pkcs11_shim.c, a TEST DOUBLE forwarding to
 * SoftHSM2): each step replaces the module's rules, holds them for a while,
 * and counts as one injected fault of its kind.
 */
import type { ShimControl } from '../pkcs11/softhsm-fixture.js';

export type FaultKind =
  | 'session loss (HSM restart)'
  | 'logout'
  | 'single-call CKR_SESSION_HANDLE_INVALID'
  | 'recoverable CKR_DEVICE_ERROR burst'
  | 'delays (C_Encrypt/C_Sign/C_UnwrapKey)'
  | 'device removed (window)'
  | 'CKR_DEVICE_ERROR (window)'
  | 'CKR_TOKEN_NOT_PRESENT (window)';

export interface FaultStep {
  kind: FaultKind;
  /** Shim commands; the rules of the previous step are cleared first. */
  commands: string;
  /** How long the rules stay before the next step. */
  holdMs: number;
}

/** One round of every kind; the longer variant repeats it. */
export const FAULT_ROUND: FaultStep[] = [
  { kind: 'session loss (HSM restart)', commands: 'restart', holdMs: 400 },
  { kind: 'logout', commands: 'logout', holdMs: 400 },
  { kind: 'single-call CKR_SESSION_HANDLE_INVALID', commands: 'fail C_Encrypt CKR_SESSION_HANDLE_INVALID 1; fail C_Sign CKR_SESSION_HANDLE_INVALID 1', holdMs: 300 },
  { kind: 'recoverable CKR_DEVICE_ERROR burst', commands: 'fail C_Decrypt CKR_DEVICE_ERROR 3', holdMs: 300 },
  { kind: 'delays (C_Encrypt/C_Sign/C_UnwrapKey)', commands: 'delay C_Encrypt 100000; delay C_Sign 150000; delay C_UnwrapKey 200000', holdMs: 1200 },
  { kind: 'session loss (HSM restart)', commands: 'restart; delay C_UnwrapKey 200000', holdMs: 600 },
  // A removed device (or a pulled token) takes its sessions with it: restart first.
  { kind: 'device removed (window)', commands: 'restart; fail * CKR_DEVICE_REMOVED always', holdMs: 1200 },
  { kind: 'CKR_TOKEN_NOT_PRESENT (window)', commands: 'restart; fail * CKR_TOKEN_NOT_PRESENT always', holdMs: 700 },
  // A lost login, then 300 ms of health: the keeper session is back, with keys in it.
  { kind: 'logout', commands: 'logout', holdMs: 300 },
  // Last, with no restart after it to close what it might leave open: a
  // device failing every call (C_CloseSession too) while its sessions live on.
  { kind: 'CKR_DEVICE_ERROR (window)', commands: 'fail * CKR_DEVICE_ERROR always', holdMs: 700 },
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the steps in order (rounds until `minMs` has passed), then clears
 * every rule. Gives the count of faults injected per kind.
 */
export async function injectFaults(shim: ShimControl, round: FaultStep[], minMs: number): Promise<Map<FaultKind, number>> {
  const injected = new Map<FaultKind, number>();
  const start = performance.now();
  do {
    for (const step of round) {
      // The control file is read at the next PKCS#11 call: only its last version counts.
      shim.send(`clear; ${step.commands}`);
      injected.set(step.kind, (injected.get(step.kind) ?? 0) + 1);
      await sleep(step.holdMs);
    }
  } while (performance.now() - start < minMs);
  shim.send('clear');
  return injected;
}
