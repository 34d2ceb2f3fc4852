/**
 * Group commit for the audit trail: operations append records in memory and
 * one transaction writes them within `flushMs` (default 100 ms), so an
 * operation does not cost a disk sync. close() flushes what is left. Key
 * state changes do not go through here: they are written with the change.
 *
 * A full batch is handed to the store at once rather than at the timer: a
 * busy process otherwise held thousands of records per 100 ms in the JS
 * heap, and every young-generation GC copied them (pauses of 3-6 ms). The
 * store still commits them together (SQLite's audit worker commits what
 * arrived in one transaction, at most one every 10 ms).
 */
import type { AuditRecord, KeyStore } from '../keystore/index.js';

/** Records per audit transaction (about 1 ms of the event loop each on a 2-vCPU VM). */
const MAX_BATCH = 128;

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
  /** A full-batch hand-over is scheduled. */
  #handOver = false;
  /** The last write was refused: wait for the timer rather than retrying on every batch. */
  #refused = false;

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
    if (this.#pending.length >= MAX_BATCH) this.#scheduleHandOver();
  }

  /** Whole batches handed over after this turn's operations (one hand-over for all of them), unless a flush runs or the store refuses. */
  #scheduleHandOver(): void {
    if (this.#handOver || this.#refused || this.#closed) return;
    this.#handOver = true;
    setImmediate(() => {
      this.#handOver = false;
      // A flush in progress schedules the next one itself when it ends.
      if (this.#flushing === null && !this.#refused) void this.#flush(true);
    });
  }

  /**
   * Writes everything appended so far, in transactions of at most
   * MAX_BATCH records with a turn of the event loop between them: the store
   * is synchronous (better-sqlite3), and one transaction of a busy 100 ms
   * (thousands of records) held the event loop for 20 ms and more.
   */
  async flush(): Promise<void> {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    await this.#flush(false);
  }

  /** Writes what is pending (only whole batches when `fullBatches`: the timer takes the rest). */
  async #flush(fullBatches: boolean): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    const count = fullBatches ? this.#pending.length - (this.#pending.length % MAX_BATCH) : this.#pending.length;
    if (count === 0) return;
    this.#flushing = this.#writeOut(count);
    try {
      await this.#flushing;
    } finally {
      this.#flushing = null;
    }
    if (this.#pending.length >= MAX_BATCH) this.#scheduleHandOver();
  }

  /**
   * Writes the first `count` pending records (fewer if some were dropped
   * meanwhile). Batches are handed over without waiting for the previous
   * one's commit: a store that writes on another thread (SQLite's audit
   * worker) then commits them together, with one disk sync.
   */
  async #writeOut(count: number): Promise<void> {
    const batches: AuditRecord[][] = [];
    // Settled at once into true/false: a refusal must not count as unhandled while later batches go out.
    const writes: Promise<boolean>[] = [];
    let refusal: unknown;
    while (count > 0 && this.#pending.length > 0) {
      const batch = this.#pending.splice(0, Math.min(count, MAX_BATCH));
      count -= batch.length;
      batches.push(batch);
      writes.push(
        this.#store.appendAudit(batch).then(
          () => true,
          (error: unknown) => {
            refusal ??= error;
            return false;
          },
        ),
      );
      if (count > 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const written = await Promise.all(writes);
    this.#refused = written.includes(false);
    if (!this.#refused) return;
    // Keep the refused records, in order, for the next flush; say so once.
    this.#pending = batches.filter((_, i) => !written[i]).flat().concat(this.#pending);
    if (!this.#warned) {
      this.#warned = true;
      process.emitWarning(`hsmkms: audit records could not be written yet (${(refusal as Error).message})`, 'HsmkmsAuditWarning');
    }
    if (!this.#closed && this.#timer === null) {
      this.#timer = setTimeout(() => void this.flush(), this.#flushMs);
      this.#timer.unref();
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }
}
