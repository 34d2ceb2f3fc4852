// The audit group commit (lib/kms/audit-writer.ts) against a fault-injection
// double of the key store's appendAudit: batches are handed over without
// waiting for each other, and records of a refused batch are kept and written
// by a later flush, none lost or doubled.
import { describe, expect, it, vi } from 'vitest';
import { AuditWriter } from '../../dist/kms/audit-writer.js';
import type { AuditRecord, KeyStore } from '../../dist/keystore/index.js';

function record(n: number): AuditRecord {
  return { time: new Date(n), operation: 'Encrypt', keyId: null, keyVersion: null, contextKeys: [], outcome: 'success', errorCode: null, principal: null };
}

/** Test double: an appendAudit that settles when told to and can refuse chosen calls. */
function faultInjectingStore(refuseCalls: ReadonlySet<number>) {
  const written: AuditRecord[] = [];
  const pending: (() => void)[] = [];
  let calls = 0;
  const store = {
    appendAudit(records: readonly AuditRecord[]): Promise<number[]> {
      const call = ++calls;
      return new Promise((resolve, reject) => {
        pending.push(() => {
          if (refuseCalls.has(call)) return reject(new Error(`SQLITE_BUSY (injected, call ${call})`));
          written.push(...records);
          resolve(records.map((_, i) => written.length - records.length + i + 1));
        });
      });
    },
  } as unknown as KeyStore;
  return { store, written, pending, calls: () => calls };
}

async function settleAll(pending: (() => void)[]): Promise<void> {
  // Settles what is outstanding until the writer stops handing over more.
  for (let idle = 0; idle < 5; idle++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (pending.length > 0) idle = 0;
    for (const settle of pending.splice(0)) settle();
  }
}

describe('AuditWriter', () => {
  it('hands a full batch over at once, without waiting for the timer', async () => {
    const double = faultInjectingStore(new Set());
    const writer = new AuditWriter(double.store, { flushMs: 60_000 });
    for (let i = 0; i < 127; i++) writer.append(record(i));
    await new Promise((resolve) => setImmediate(resolve));
    expect(double.calls()).toBe(0);
    for (let i = 127; i < 200; i++) writer.append(record(i));
    await new Promise((resolve) => setImmediate(resolve));
    // Whole batches only: the 72 left wait for the timer (or close).
    expect(double.calls()).toBe(1);
    await settleAll(double.pending);
    expect(double.written).toHaveLength(128);
    const closed = writer.close();
    await settleAll(double.pending);
    await closed;
    expect(double.written.map((r) => r.time.getTime())).toStrictEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('hands every batch of a flush over before the first one commits', async () => {
    const double = faultInjectingStore(new Set());
    const writer = new AuditWriter(double.store, { flushMs: 60_000 });
    for (let i = 0; i < 300; i++) writer.append(record(i));
    const flushed = writer.flush();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    // 300 records in batches of at most 128: three calls, none settled yet.
    expect(double.calls()).toBe(3);
    expect(double.written).toHaveLength(0);
    await settleAll(double.pending);
    await flushed;
    expect(double.written.map((r) => r.time.getTime())).toStrictEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it('keeps the records of a refused batch for the next flush and warns once', async () => {
    const double = faultInjectingStore(new Set([2]));
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const writer = new AuditWriter(double.store, { flushMs: 60_000 });
      for (let i = 0; i < 300; i++) writer.append(record(i));
      const first = writer.flush();
      await settleAll(double.pending);
      await first;
      // Batches 1 and 3 are in; batch 2 (records 128..255) was refused and is kept.
      expect(double.written).toHaveLength(300 - 128);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toContain('SQLITE_BUSY');
      writer.append(record(300));
      const second = writer.close();
      await settleAll(double.pending);
      await second;
      const times = double.written.map((r) => r.time.getTime());
      expect(times.slice(-129)).toStrictEqual([...Array.from({ length: 128 }, (_, i) => 128 + i), 300]);
      expect([...times].sort((a, b) => a - b)).toStrictEqual(Array.from({ length: 301 }, (_, i) => i));
      expect(writer.dropped).toBe(0);
    } finally {
      warn.mockRestore();
    }
  });
});
