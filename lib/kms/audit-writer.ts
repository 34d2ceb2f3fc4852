/**
 * Group commit for the audit trail: operations append records in memory and
 * one transaction writes them within `flushMs` (default 100 ms), so an
 * operation does not cost a disk sync. close() flushes what is left. Key
 * state changes do not go through here: they are written with the change.
 */
import type { AuditRecord, KeyStore } from '../keystore/index.js';

export interface AuditWriterOptions {
  flushMs?: number;
  /** Records held at most while the store refuses writes; older ones are then dropped (and counted). */
  maxPending?: number;
}

export class AuditWriter {
  readonly #store: KeyStore;
  readonly #flushMs: number;
  readonly #maxPending: number;
  #pending: AuditRecord[] = [];
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;
  #dropped = 0;
  #closed = false;
  #warned = false;

  constructor(store: KeyStore, options: AuditWriterOptions = {}) {
    this.#store = store;
    this.#flushMs = options.flushMs ?? 100;
    this.#maxPending = options.maxPending ?? 100_000;
  }

  /** Records not written because the store kept failing (should stay 0). */
  get dropped(): number {
    return this.#dropped;
  }

  append(record: AuditRecord): void {
    if (this.#closed) return;
    this.#pending.push(record);
    if (this.#pending.length > this.#maxPending) {
      this.#pending.shift();
      this.#dropped++;
    }
    if (this.#timer === null) {
      this.#timer = setTimeout(() => void this.flush(), this.#flushMs);
      // Pending audit must not keep a process alive; close() flushes it.
      this.#timer.unref();
    }
  }

  /** Writes everything appended so far (one transaction). */
  async flush(): Promise<void> {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    while (this.#flushing !== null) await this.#flushing;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#flushing = this.#store.appendAudit(batch).then(
      () => undefined,
      (error: unknown) => {
        // Keep the records for the next flush; say so once.
        this.#pending = batch.concat(this.#pending);
        if (!this.#warned) {
          this.#warned = true;
          process.emitWarning(`hsmkms: audit records could not be written yet (${(error as Error).message})`, 'HsmkmsAuditWarning');
        }
        if (!this.#closed && this.#timer === null) {
          this.#timer = setTimeout(() => void this.flush(), this.#flushMs);
          this.#timer.unref();
        }
      },
    );
    try {
      await this.#flushing;
    } finally {
      this.#flushing = null;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }
}
