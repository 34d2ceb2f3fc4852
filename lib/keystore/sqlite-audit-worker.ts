/**
 * The worker thread that appends audit records for a SQLite key store, on
 * its own connection. better-sqlite3 is synchronous and the store syncs
 * every commit to disk (synchronous=FULL), so on the event loop one batch
 * cost about 1 ms plus an fsync; here it costs the loop nothing. WAL lets
 * this connection write while the store's own one reads.
 *
 * In: { id, json } (the rows, already checked and flattened, as JSON).
 * Out: { id, first, count } (consecutive ids), { id, ids } or { id, error }.
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

parentPort!.on('message', ({ id, json }: { id: number; json: string }) => {
  try {
    const ids = append.immediate(JSON.parse(json) as AuditInsertRow[]);
    // Inserted under one write lock, the ids run consecutively: two numbers say it.
    const consecutive = ids.every((value, i) => value === ids[0]! + i);
    parentPort!.postMessage(consecutive ? { id, first: ids[0], count: ids.length } : { id, ids });
  } catch (error) {
    const { message, code } = error as { message: string; code?: string };
    parentPort!.postMessage({ id, error: { message, code } });
  }
});
