/**
 * The main-thread side of sqlite-audit-worker.ts: hands batches of audit
 * rows to the worker and resolves with the ids it assigned. The worker
 * starts on the first batch, holds the process open only while a batch is
 * pending, and is stopped by close() once the pending batches are written.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AuditInsertRow } from './sqlite-audit-worker.js';

interface Pending {
  resolve(ids: number[]): void;
  reject(error: unknown): void;
}

/** A failure the worker reported: message and SQLite code, as from the store's own connection. */
export class AuditWorkerError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export class SqliteAuditAppender {
  readonly #file: string;
  readonly #busyTimeoutMs: number;
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  /** close() waiting for the pending batches. */
  #idle: (() => void)[] = [];
  #nextId = 1;

  constructor(file: string, busyTimeoutMs: number) {
    this.#file = file;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  append(rows: AuditInsertRow[]): Promise<number[]> {
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise<number[]>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) worker.ref();
      // One string, not nested arrays: structured cloning the rows cost more than inserting them.
      worker.postMessage({ id, json: JSON.stringify(rows), count: rows.length });
    });
  }

  /** Waits for the pending batches, then stops the worker. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (worker === null) return;
    while (this.#pending.size > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    this.#worker = null;
    await worker.terminate();
  }

  #start(): Worker {
    if (this.#worker !== null) return this.#worker;
    const worker = new Worker(path.join(__dirname, 'sqlite-audit-worker.js'), {
      workerData: { file: this.#file, busyTimeoutMs: this.#busyTimeoutMs },
    });
    worker.unref();
    worker.on('message', ({ id, first, count, error }: { id: number; first?: number; count?: number; error?: { message: string; code?: string } }) => {
      const entry = this.#pending.get(id);
      if (entry === undefined) return;
      this.#settled(id);
      if (this.#pending.size === 0) worker.unref();
      if (error !== undefined) entry.reject(new AuditWorkerError(error.message, error.code));
      else entry.resolve(Array.from({ length: count! }, (_, i) => first! + i));
    });
    worker.on('error', (error) => this.#failAll(error));
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = null;
      this.#failAll(new AuditWorkerError('the audit writer thread stopped', undefined));
    });
    this.#worker = worker;
    return worker;
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size > 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  #failAll(error: unknown): void {
    for (const [id, entry] of this.#pending) {
      this.#settled(id);
      entry.reject(error);
    }
  }
}
