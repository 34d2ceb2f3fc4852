/**
 * The worker thread that appends audit records for a SQLite key store, on
 * its own connection. better-sqlite3 is synchronous and the store syncs
 * every commit to disk (synchronous=FULL), so on the event loop one batch
 * cost about 1 ms plus an fsync; here it costs the loop nothing. WAL lets
 * this connection write while the store's own one reads.
 *
 * In: { id, rows } (rows already checked and flattened). Out: { id, ids } or { id, error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export type AuditInsertRow = [time: number, operation: string, keyId: string | null, keyVersion: number | null, contextKeys: string, outcome: string, errorCode: string | null, principal: string | null];

const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number };
const db = new Database(file);
db.pragma(`busy_timeout = ${busyTimeoutMs}`);
db.pragma('synchronous = FULL');
const insert = db.prepare(
  `INSERT INTO audit_log (time, operation, key_id, key_version, context_keys, outcome, error_code, principal)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
);
const append = db.transaction((rows: AuditInsertRow[]) => rows.map((row) => Number(insert.run(...row).lastInsertRowid)));

parentPort!.on('message', ({ id, rows }: { id: number; rows: AuditInsertRow[] }) => {
  try {
    parentPort!.postMessage({ id, ids: append.immediate(rows) });
  } catch (error) {
    const { message, code } = error as { message: string; code?: string };
    parentPort!.postMessage({ id, error: { message, code } });
  }
});
