/** After a kill: the SQLite key store passes its own integrity check. */
import Database from 'better-sqlite3';
import { expect } from 'vitest';

export function expectIntactStore(store: string): void {
  const db = new Database(store, { readonly: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  } finally {
    db.close();
  }
}
