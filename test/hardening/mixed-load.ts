/**
 * A sustained mixed KMS load (encrypt, decrypt, generateDataKey, sign, and
 * generateMac then verifyMac) for the fault tests: a fixed number of calls
 * in flight, each one watched by a deadline, each outcome checked (round
 * trips give the plaintext back, signatures verify with node:crypto, a MAC
 * verifies; a fault must never turn into KMSInvalidMacException) and
 * tallied per phase of the run.
 */
import crypto from 'node:crypto';
import { KMS_ERROR_CODES, KmsError, type Kms } from '../../dist/index.js';

export type OpName = 'encrypt' | 'decrypt' | 'generateDataKey' | 'sign' | 'mac';
const OPS: OpName[] = ['encrypt', 'decrypt', 'generateDataKey', 'sign', 'mac'];

/** What one call ended in: 'ok', a KmsError code, or a failure of the test's standards. */
export type Outcome = string;
export const HUNG = 'HUNG (no settle within the deadline)';
export const WRONG_RESULT = 'WRONG RESULT';

export interface LoadKeys {
  symmetric: string;
  signing: string;
  signingSpki: Uint8Array;
  /** An HMAC_256 key. */
  mac: string;
}

interface Sealed {
  blob: Uint8Array;
  plaintext: Uint8Array;
}

const CONTEXT = { purpose: 'hsm-faults-under-load' };
const SEALED_POOL = 256;

/** Outcomes and latencies of the calls that settled while one phase was current. */
export class PhaseTally {
  readonly outcomes = new Map<Outcome, number>();
  readonly failedFns = new Map<string, number>();
  ok = 0;
  maxSettleMs = 0;
  startedAt = performance.now();
  endedAt = 0;

  add(outcome: Outcome, settleMs: number, fn?: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    if (outcome === 'ok') this.ok++;
    if (fn) this.failedFns.set(fn, (this.failedFns.get(fn) ?? 0) + 1);
    this.maxSettleMs = Math.max(this.maxSettleMs, settleMs);
  }

  /** Successful calls per second over the phase. */
  opsPerSecond(): number {
    const end = this.endedAt || performance.now();
    return this.ok / ((end - this.startedAt) / 1000);
  }
}

/**
 * Classifies a rejection: a KmsError with a code from `allowed` keeps its
 * code; anything else (a raw Error, an unknown or unexpected code) is named
 * so that the test fails on it.
 */
export function classify(error: unknown, allowed: ReadonlySet<string>): Outcome {
  if (!(error instanceof KmsError)) return `UNTYPED ${(error as Error)?.name ?? typeof error}: ${String((error as Error)?.message ?? error)}`;
  if (!(KMS_ERROR_CODES as readonly string[]).includes(error.code)) return `UNKNOWN CODE ${String(error.code)}`;
  if (!allowed.has(error.code)) return `UNEXPECTED ${error.code}: ${error.message}`;
  return error.code;
}

/** "C_Sign CKR_DEVICE_ERROR" for a Pkcs11Error: what the token answered last. */
function failedCall(error: unknown): string | undefined {
  const e = error as { fn?: string; ckr?: string };
  return e.ckr === undefined ? undefined : `${e.fn || '?'} ${e.ckr}`;
}

export class MixedLoad {
  readonly phases = new Map<string, PhaseTally>();
  #phase: PhaseTally;
  #stopped = false;
  #workers: Promise<void>[] = [];
  #sealed: Sealed[] = [];
  #next = 0;
  readonly #verifyKey: crypto.KeyObject;

  constructor(
    private readonly kms: Kms,
    private readonly keys: LoadKeys,
    private readonly deadlineMs: number,
    private readonly allowed: ReadonlySet<string>,
  ) {
    this.#verifyKey = crypto.createPublicKey({ key: Buffer.from(keys.signingSpki), format: 'der', type: 'spki' });
    this.#phase = this.#tally('warm-up');
  }

  /** Seeds the blobs decrypt calls open (before any fault). */
  async seed(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const plaintext = crypto.randomBytes(64);
      const { ciphertextBlob } = await this.kms.encrypt({ keyId: this.keys.symmetric, plaintext, encryptionContext: CONTEXT });
      this.#sealed.push({ blob: ciphertextBlob, plaintext });
    }
  }

  /** Starts `inFlight` loops, each keeping one call outstanding. */
  start(inFlight: number): void {
    for (let i = 0; i < inFlight; i++) this.#workers.push(this.#loop(i));
  }

  /** Ends the current phase and starts counting into a new one. */
  phase(name: string): PhaseTally {
    this.#phase.endedAt = performance.now();
    this.#phase = this.#tally(name);
    return this.#phase;
  }

  /** Lets every outstanding call settle (each is bounded by its deadline) and stops. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#workers);
    this.#phase.endedAt = performance.now();
  }

  /** Every outcome of the run, summed over the phases. */
  totals(): Map<Outcome, number> {
    const sum = new Map<Outcome, number>();
    for (const tally of this.phases.values()) {
      for (const [outcome, n] of tally.outcomes) sum.set(outcome, (sum.get(outcome) ?? 0) + n);
    }
    return sum;
  }

  maxSettleMs(): number {
    return Math.max(...[...this.phases.values()].map((t) => t.maxSettleMs));
  }

  #tally(name: string): PhaseTally {
    const tally = new PhaseTally();
    this.phases.set(name, tally);
    return tally;
  }

  async #loop(worker: number): Promise<void> {
    let n = worker;
    while (!this.#stopped) {
      const op = OPS[n++ % OPS.length]!;
      const start = performance.now();
      const outcome = await this.#watched(this.#run(op));
      // The tally of the phase in which the call settled.
      this.#phase.add(outcome.outcome, performance.now() - start, outcome.fn);
      if (outcome.outcome === HUNG) return; // that call is stuck; this loop would only pile more on
    }
  }

  /** The call's outcome, or HUNG once its deadline passes first. */
  #watched(call: Promise<Outcome>): Promise<{ outcome: Outcome; fn?: string }> {
    let timer: NodeJS.Timeout | undefined;
    const settled = call.then(
      (outcome) => ({ outcome }),
      (error: unknown) => ({ outcome: classify(error, this.allowed), fn: failedCall(error) }),
    );
    const hung = new Promise<{ outcome: Outcome }>((resolve) => {
      timer = setTimeout(() => resolve({ outcome: HUNG }), this.deadlineMs);
    });
    return Promise.race([settled, hung]).finally(() => clearTimeout(timer));
  }

  async #run(op: OpName): Promise<Outcome> {
    switch (op) {
      case 'encrypt': {
        const plaintext = crypto.randomBytes(64);
        const { ciphertextBlob } = await this.kms.encrypt({ keyId: this.keys.symmetric, plaintext, encryptionContext: CONTEXT });
        this.#keep({ blob: ciphertextBlob, plaintext });
        return 'ok';
      }
      case 'decrypt': {
        const sealed = this.#sealed[this.#next++ % this.#sealed.length]!;
        const { plaintext } = await this.kms.decrypt({ ciphertextBlob: sealed.blob, encryptionContext: CONTEXT });
        return Buffer.from(plaintext).equals(Buffer.from(sealed.plaintext)) ? 'ok' : WRONG_RESULT;
      }
      case 'generateDataKey': {
        const r = await this.kms.generateDataKey({ keyId: this.keys.symmetric, keySpec: 'AES_256', encryptionContext: CONTEXT });
        if (r.plaintext.length !== 32) return WRONG_RESULT;
        this.#keep({ blob: r.ciphertextBlob, plaintext: r.plaintext }); // a later decrypt checks the blob
        return 'ok';
      }
      case 'sign': {
        const message = crypto.randomBytes(48);
        const { signature } = await this.kms.sign({ keyId: this.keys.signing, message, signingAlgorithm: 'ECDSA_SHA_256' });
        return crypto.verify('sha256', message, { key: this.#verifyKey, dsaEncoding: 'der' }, signature) ? 'ok' : WRONG_RESULT;
      }
      case 'mac': {
        const message = crypto.randomBytes(48);
        const { mac } = await this.kms.generateMac({ keyId: this.keys.mac, message, macAlgorithm: 'HMAC_SHA_256' });
        const { macValid } = await this.kms.verifyMac({ keyId: this.keys.mac, message, mac, macAlgorithm: 'HMAC_SHA_256' });
        return macValid && mac.length === 32 ? 'ok' : WRONG_RESULT;
      }
    }
  }

  /** New blobs replace old ones, so decrypt also opens blobs sealed during faults. */
  #keep(sealed: Sealed): void {
    if (this.#sealed.length < SEALED_POOL) this.#sealed.push(sealed);
    else this.#sealed[crypto.randomInt(SEALED_POOL)] = sealed;
  }
}
