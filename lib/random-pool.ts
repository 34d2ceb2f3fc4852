/**
 * Non-secret random values (GCM IVs, message IDs) drawn from the host's
 * OpenSSL DRBG 4 KiB at a time: one randomFillSync costs far more than the
 * dozen bytes a value needs, and on the hot paths it was a sixth of the
 * event loop's time. Every value is a fresh copy, used once; the pool bytes
 * it came from are zeroed. Never for key material (that comes from the HSM
 * or from OpenSSL directly).
 */
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(4096);
let at = POOL.length;

/** `length` (at most 256) random bytes in a new Buffer. */
export function pooledRandomBytes(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > 256) throw new RangeError('pooledRandomBytes: 0 to 256 bytes');
  if (at + length > POOL.length) {
    randomFillSync(POOL);
    at = 0;
  }
  const out = Buffer.from(POOL.subarray(at, at + length));
  POOL.fill(0, at, at + length);
  at += length;
  return out;
}
