// Counts the PKCS#11 objects this process holds, from outside the library:
// a pkcs11js session of its own on the module the Kms initialised. Session
// objects belong to the application, not the session that made them, so
// this session sees the Kms's unwrapped CMKs too (the positive control
// below checks that it does). The addon's own count and its key-cache size
// come from the root's stats() as a cross-check.
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT_DIR } from '../lib/common.mjs';

const require = createRequire(import.meta.url);
// Package-internal: the Kms's root (its stats and key cache) for diagnostics.
const { kmsContext } = require(path.join(ROOT_DIR, 'dist', 'kms', 'kms.js'));

/** Opens the counter on `token`; call after Kms.open (which initialised the module). */
export function openObjectCounter(token, kms) {
  const pkcs11js = require('pkcs11js');
  const p11 = new pkcs11js.PKCS11();
  p11.load(token.module);
  try {
    p11.C_Initialize({ flags: 2 /* CKF_OS_LOCKING_OK */ });
  } catch (error) {
    if (!/CKR_CRYPTOKI_ALREADY_INITIALIZED/.test(String(error))) throw error;
  }
  const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === token.label);
  // Read-only: it only looks. The Kms's login covers it (login is per application).
  const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  const root = kmsContext(kms).root;

  const count = (template) => {
    p11.C_FindObjectsInit(session, template);
    let total = 0;
    for (;;) {
      const found = p11.C_FindObjects(session, 256);
      if (found.length === 0) break;
      total += found.length;
    }
    p11.C_FindObjectsFinal(session);
    return total;
  };

  return {
    /**
     * { hsmObjects, tokenObjects, addonObjects, cachedKeys, unwraps } now. The
     * counts are read a moment apart while the load goes on, so one reading
     * can catch a key being made or evicted: a session object the cache does
     * not count yet (+1), or cache entries evicted after the cache was read
     * (-n). Of three readings, the one closest to "nothing beyond the key
     * cache" is kept: a transient shows in some, a leak in all of them.
     */
    async sample() {
      let best;
      for (let attempt = 0; attempt < 3; attempt++) {
        const stats = await root.stats();
        const reading = {
          hsmObjects: count([]),
          tokenObjects: count([{ type: pkcs11js.CKA_TOKEN, value: true }]),
          addonObjects: stats.objects ?? NaN,
          cachedKeys: stats.cachedKeys,
          unwraps: stats.unwraps,
        };
        const beyond = (r) => Math.abs(r.hsmObjects - r.tokenObjects - r.cachedKeys);
        if (best === undefined || beyond(reading) < beyond(best)) best = reading;
      }
      return best;
    },
    /**
     * Positive control: a CMK used for the first time adds one session
     * object, which this session must see; evicting it takes it away again.
     */
    async control() {
      const before = await this.sample();
      const keyId = (await kms.createKey({ description: 'soak: object-counter control' })).keyMetadata.keyId;
      await kms.encrypt({ keyId, plaintext: Buffer.from('control') });
      const during = await this.sample();
      await root.evictKey(keyId, 1);
      const after = await this.sample();
      await kms.scheduleKeyDeletion({ keyId, pendingWindowInDays: 7 });
      const delta = during.hsmObjects - before.hsmObjects;
      const ok = delta >= 1 && delta === during.cachedKeys - before.cachedKeys && after.hsmObjects === before.hsmObjects &&
        during.addonObjects === during.hsmObjects;
      return { ok, delta, before, during, after };
    },
    // Before kms.close(): that finalizes the module.
    close: () => p11.C_CloseSession(session),
  };
}
