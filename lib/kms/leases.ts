/**
 * Leases that keep a background job (domain-key init, re-wrap) to one process
 * at a time, across processes and nodes sharing a key store.
 *
 * A holder renews its lease while it works, so a long job never loses it; a
 * holder that died (SIGKILL, power loss) is replaced when its lease expires,
 * or at once when it ran on this machine and its process is gone.
 */
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { KmsError } from '../errors.js';
import type { KeyStore } from '../keystore/index.js';

export const LEASE_MS = 30_000;
const RENEW_EVERY_MS = LEASE_MS / 3;
const POLL_MS = 50;

/** Where this process runs: host and PID namespace, so a PID is only judged on the machine that owns it. */
function machineOf(): string {
  let namespace = 'unknown';
  try {
    namespace = readlinkSync('/proc/self/ns/pid'); // e.g. "pid:[4026531836]"
  } catch {
    // Not Linux: no namespace, so no PID is ever judged dead (expiry still frees the lease).
  }
  return `${hostname()}/${namespace}`;
}

const MACHINE = machineOf();

/** Who holds a lease: unique per process. */
export const LEASE_OWNER = `${MACHINE}|${process.pid}|${Math.random().toString(36).slice(2)}`;

/** Whether `owner` is a process of this machine that no longer exists. */
export function isDeadLocalOwner(owner: string): boolean {
  const [machine, pid] = owner.split('|');
  if (machine !== MACHINE || !MACHINE.includes('pid:[') || pid === undefined) return false;
  const id = Number(pid);
  if (!Number.isSafeInteger(id) || id <= 0 || id === process.pid) return false;
  try {
    process.kill(id, 0);
    return false;
  } catch (error) {
    // EPERM: alive, under another user. Only ESRCH means gone.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A held lease; `stillHeld()` renews it when due and says whether it is still ours. */
export interface HeldLease {
  stillHeld(): Promise<boolean>;
}

/**
 * Runs `work` while holding lease `name`, waiting up to `waitMs` for it.
 * `KMSInvalidStateException` if another live process keeps it that long.
 */
export async function withLease<T>(
  store: KeyStore,
  name: string,
  work: (lease: HeldLease) => Promise<T>,
  waitMs = LEASE_MS * 2,
): Promise<T> {
  if (!(await acquire(store, name, waitMs))) {
    throw new KmsError('KMSInvalidStateException', `Another process holds the ${name} lease`);
  }
  return holding(store, name, work);
}

/**
 * Runs `work` under lease `name` if it can be had now (free, expired, or
 * held by a dead process of this machine); otherwise resolves to `undefined`
 * at once: another node is doing the job. This is how one node of many runs
 * a maintenance job, and another takes over when it dies.
 */
export async function withLeaseIfFree<T>(
  store: KeyStore,
  name: string,
  work: (lease: HeldLease) => Promise<T>,
): Promise<T | undefined> {
  if (!(await acquire(store, name, 0))) return undefined;
  return holding(store, name, work);
}

async function holding<T>(store: KeyStore, name: string, work: (lease: HeldLease) => Promise<T>): Promise<T> {
  let renewedAt = Date.now();
  const lease: HeldLease = {
    async stillHeld() {
      if (Date.now() - renewedAt < RENEW_EVERY_MS) return true;
      renewedAt = Date.now();
      return store.acquireLease(name, LEASE_OWNER, LEASE_MS);
    },
  };
  try {
    return await work(lease);
  } finally {
    await store.releaseLease(name, LEASE_OWNER);
  }
}

/** Takes the lease, trying for up to `waitMs`; whether it did. */
async function acquire(store: KeyStore, name: string, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await store.acquireLease(name, LEASE_OWNER, LEASE_MS)) return true;
    const holder = (await store.getJob(name))?.leaseOwner ?? null;
    if (holder !== null && isDeadLocalOwner(holder) && (await store.takeOverLease(name, holder, LEASE_OWNER, LEASE_MS))) {
      return true;
    }
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
