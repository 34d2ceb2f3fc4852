/**
 * The worker thread that appends audit records for a SQLite key store, on
 * its own connection. better-sqlite3 is synchronous and the store syncs
 * every commit to disk (synchronous=FULL), so on the event loop one batch
 * cost about 1 ms plus an fsync; here it costs the loop nothing. WAL lets
 * this connection write while the store's own one reads.
 *
 * In: { id, json, count } (the rows, already checked and flattened, as JSON).
 * Batches that arrive together are committed in one transaction: a busy
 * flush sends many, and one disk sync each cost more than the inserts.
 * Out: { id, first, count } (consecutive ids) or { id, error }.
 */
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export type AuditInsertRow = [time: number, operation: string, keyId: string | null, keyVersion: number | null, contextKeys: string, outcome: string, errorCode: string | null, principal: string | null];

const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number };

// Background work with 100 ms to spare: on Linux, pid 0 is this thread alone,
// and a lower priority lets the event-loop thread preempt it on a busy machine
// (as the HSM threads do; see native/core/pkcs11/hsm.cc).
try {
  setPriority(Math.min(19, getPriority() + 5));
} catch {
  // Not allowed here: it runs at the same priority, as before.
}
const db = new Database(file);
db.pragma(`busy_timeout = ${busyTimeoutMs}`);
db.pragma('synchronous = FULL');
// The batch below is materialised and sorted: in memory, not in a temp file per statement.
db.pragma('temp_store = MEMORY');
// SQLite reads the JSON rows itself: parsing them here and binding eight
// values per row cost more than the inserts. Converted to JSONB once, each
// row's eight fields are read without parsing its text again.
const insertJson = db.prepare(
  `WITH batch (position, row) AS MATERIALIZED (SELECT key, value FROM json_each(jsonb(?)))
   INSERT INTO audit_log (time, operation, key_id, key_version, context_keys, outcome, error_code, principal)
   SELECT row->>0, row->>1, row->>2, row->>3, row->>4, row->>5, row->>6, row->>7 FROM batch ORDER BY position`,
);

interface Batch {
  id: number;
  json: string;
  count: number;
}

/** Inserts each batch; AUTOINCREMENT under the write lock gives one statement's rows consecutive ids. */
const append = db.transaction((batches: Batch[]) =>
  batches.map(({ json, count }) => {
    const { changes, lastInsertRowid } = insertJson.run(json);
    if (changes !== count) throw new Error(`audit batch of ${count} rows inserted ${changes}`);
    return Number(lastInsertRowid) - count + 1;
  }),
);

/**
 * Commits start at least this far apart: the writer hands over every full
 * batch at once, and a busy process would otherwise pay a disk sync per
 * 128 records. Records still reach the disk well within the 100 ms the
 * trail promises.
 */
const MIN_COMMIT_INTERVAL_MS = 10;
let lastCommit = 0;

/** Batches received and not yet committed: all that arrived in between share one transaction (one disk sync). */
let queued: Batch[] = [];

function scheduleCommit(): void {
  const wait = lastCommit + MIN_COMMIT_INTERVAL_MS - Date.now();
  if (wait > 0) setTimeout(commitQueued, wait);
  else setImmediate(commitQueued);
}

function commitQueued(): void {
  lastCommit = Date.now();
  const batches = queued;
  queued = [];
  try {
    const firsts = append.immediate(batches);
    batches.forEach(({ id, count }, i) => parentPort!.postMessage({ id, first: firsts[i], count }));
  } catch (error) {
    const { message, code } = error as { message: string; code?: string };
    for (const { id } of batches) parentPort!.postMessage({ id, error: { message, code } });
  }
}

parentPort!.on('message', (batch: Batch) => {
  if (queued.length === 0) scheduleCommit();
  queued.push(batch);
});
