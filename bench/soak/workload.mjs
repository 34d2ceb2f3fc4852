// The soak's operation mix: what an application does with hsmkms all day,
// drawn at random by weight, plus key lifecycle events at a fixed pace: a
// new CMK replaces the oldest of the pool (the one replaced the time before
// is scheduled for deletion and, the clock moved past its window, purged,
// which evicts its unwrapped versions), and a pool key rotates. Every call
// counts as one operation; a sign (or MAC) followed by its verify counts two.
import crypto from 'node:crypto';

/** Weights of the mix (relative). */
export const MIX = Object.freeze({
  encrypt: 18,
  decrypt: 18,
  generateDataKey: 10,
  generateDataKeyWithoutPlaintext: 6,
  reEncrypt: 5,
  signVerifyEcdsa: 5,
  signVerifyRsa: 1,
  macVerify: 5,
  envelopeEncrypt: 5,
  envelopeDecrypt: 5,
  aeadKeyLifecycle: 10,
  generateRandom: 4,
  describeKey: 2,
});

const RING = 256; // recent ciphertexts and messages kept for decrypt/reEncrypt

/** Picks names by weight with a cumulative table. */
function weightedPicker(weights) {
  const names = Object.keys(weights);
  const cumulative = [];
  let total = 0;
  for (const name of names) cumulative.push((total += weights[name]));
  return () => {
    const r = Math.random() * total;
    return names[cumulative.findIndex((c) => r < c)];
  };
}

const pick = (array) => array[Math.floor(Math.random() * array.length)];
const contextFor = (i) => ({ tenant: `t${i % 8}`, purpose: 'soak' });

/**
 * The workload on `kms`. `hsmkms` is the loaded package (aead, envelope);
 * `createEvery` / `rotateEvery`: operations between lifecycle events;
 * `passDeletionWindow()` moves the Kms's clock past a deletion window.
 */
export async function makeWorkload({ kms, hsmkms, passDeletionWindow, poolSize = 4, createEvery = 20_000, rotateEvery = 20_000 }) {
  const { aead, envelope, KmsKeyring } = hsmkms;
  const newKey = async () => (await kms.createKey({ description: 'soak' })).keyMetadata.keyId;
  const pool = [];
  for (let i = 0; i < poolSize; i++) pool.push(await newKey());
  const ecKey = (await kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' })).keyMetadata.keyId;
  const rsaKey = (await kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' })).keyMetadata.keyId;
  const macKey = (await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' })).keyMetadata.keyId;
  const inputs = Array.from({ length: 16 }, (_, i) => crypto.randomBytes(16 + i * 64)); // 16 B .. 976 B
  const blobs = []; // { keyId, blob, context }
  const messages = []; // { keyId, message, context }
  const remember = (ring, entry) => {
    if (!pool.includes(entry.keyId)) return; // its key left the pool while the call ran
    if (ring.length < RING) ring.push(entry);
    else ring[Math.floor(Math.random() * RING)] = entry;
  };
  let retiring = null; // left the pool at the last event; deleted at the next, once no call uses it
  // Calls in flight per key, so that a key is deleted only when none uses it.
  const inUse = new Map();
  async function holding(keyIds, call) {
    for (const k of keyIds) inUse.set(k, (inUse.get(k) ?? 0) + 1);
    try {
      return await call();
    } finally {
      for (const k of keyIds) inUse.set(k, inUse.get(k) - 1);
    }
  }
  const lifecycle = { created: 0, rotated: 0, deleted: 0, purged: 0 };

  const ops = {
    async encrypt(i) {
      const keyId = pick(pool);
      const encryptionContext = contextFor(i);
      const r = await holding([keyId], () => kms.encrypt({ keyId, plaintext: pick(inputs), encryptionContext }));
      remember(blobs, { keyId, blob: r.ciphertextBlob, context: encryptionContext });
      return 1;
    },
    async decrypt(i) {
      if (blobs.length === 0) return ops.encrypt(i);
      const e = pick(blobs);
      await holding([e.keyId], () => kms.decrypt({ ciphertextBlob: e.blob, encryptionContext: e.context }));
      return 1;
    },
    async generateDataKey(i) {
      const keyId = pick(pool);
      const r = await holding([keyId], () => kms.generateDataKey({ keyId, keySpec: 'AES_256', encryptionContext: contextFor(i) }));
      r.plaintext.fill(0); // as an application should once it is done with it
      return 1;
    },
    async generateDataKeyWithoutPlaintext(i) {
      const keyId = pick(pool);
      await holding([keyId], () => kms.generateDataKeyWithoutPlaintext({ keyId, keySpec: 'AES_256', encryptionContext: contextFor(i) }));
      return 1;
    },
    async reEncrypt(i) {
      if (blobs.length === 0) return ops.encrypt(i);
      const e = pick(blobs);
      const destinationKeyId = pick(pool);
      const r = await holding([e.keyId, destinationKeyId], () =>
        kms.reEncrypt({ ciphertextBlob: e.blob, sourceEncryptionContext: e.context, destinationKeyId, destinationEncryptionContext: e.context }));
      remember(blobs, { keyId: destinationKeyId, blob: r.ciphertextBlob, context: e.context });
      return 1;
    },
    async signVerifyEcdsa() {
      return signVerify(ecKey, 'ECDSA_SHA_256');
    },
    async signVerifyRsa() {
      return signVerify(rsaKey, 'RSASSA_PSS_SHA_256');
    },
    macVerify,
    async envelopeEncrypt(i) {
      const keyId = pick(pool);
      const encryptionContext = contextFor(i);
      const r = await holding([keyId], () => envelope.encrypt(pick(inputs), { keyring: new KmsKeyring({ kms, keyId }), encryptionContext }));
      remember(messages, { keyId, message: r.result, context: encryptionContext });
      return 1;
    },
    async envelopeDecrypt(i) {
      if (messages.length === 0) return ops.envelopeEncrypt(i);
      const e = pick(messages);
      await holding([e.keyId], () => envelope.decrypt(e.message, { keyring: new KmsKeyring({ kms, keyId: e.keyId }), encryptionContext: e.context }));
      return 1;
    },
    async aeadKeyLifecycle() {
      // A key made, used for a message each way (sync and on the pool), destroyed.
      const key = Math.random() < 0.5 ? aead.generateKey() : aead.importKey(crypto.randomBytes(32));
      const sealed = aead.encryptSync(key, pick(inputs));
      await aead.decrypt(key, sealed);
      key.destroy();
      return 1;
    },
    async generateRandom() {
      await kms.generateRandom({ numberOfBytes: 32 });
      return 1;
    },
    async describeKey() {
      const keyId = pick(pool);
      await holding([keyId], () => kms.describeKey({ keyId }));
      return 1;
    },
  };

  async function signVerify(keyId, signingAlgorithm) {
    const message = pick(inputs);
    const { signature } = await kms.sign({ keyId, message, messageType: 'RAW', signingAlgorithm });
    const { signatureValid } = await kms.verify({ keyId, message, signature, messageType: 'RAW', signingAlgorithm });
    if (!signatureValid) throw new Error(`${signingAlgorithm}: a fresh signature did not verify`);
    return 2;
  }

  async function macVerify() {
    const message = pick(inputs);
    const { mac } = await kms.generateMac({ keyId: macKey, message, macAlgorithm: 'HMAC_SHA_256' });
    const { macValid } = await kms.verifyMac({ keyId: macKey, message, mac, macAlgorithm: 'HMAC_SHA_256' });
    if (!macValid) throw new Error('HMAC_SHA_256: a fresh MAC did not verify');
    return 2;
  }

  /** Replaces the oldest pool key with a new one; deletes and purges the one replaced last time. */
  async function replaceKey() {
    const old = retiring;
    retiring = null;
    const fresh = await newKey();
    lifecycle.created++;
    pool.push(fresh);
    retiring = pool.shift();
    for (const ring of [blobs, messages]) {
      for (let j = ring.length - 1; j >= 0; j--) if (ring[j].keyId === retiring) ring.splice(j, 1);
    }
    if (old !== null) {
      while ((inUse.get(old) ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, 5));
      inUse.delete(old);
      await kms.scheduleKeyDeletion({ keyId: old, pendingWindowInDays: 7 });
      lifecycle.deleted++;
      passDeletionWindow();
      lifecycle.purged += (await kms.purgeDeletedKeys()).length;
    }
  }

  async function rotateKey() {
    const keyId = pick(pool);
    await holding([keyId], () => kms.rotateKeyOnDemand({ keyId }));
    lifecycle.rotated++;
  }

  // Lifecycle events run one at a time: on a loaded machine one may still be
  // running when the next is due (the next would delete a key twice).
  let events = Promise.resolve();
  const serial = (event) => (events = events.then(event, event));

  const next = weightedPicker(MIX);
  let sinceCreate = 0;
  let sinceRotate = 0;
  const counts = Object.fromEntries(Object.keys(MIX).map((k) => [k, 0]));
  return {
    counts,
    lifecycle,
    /** One operation (or a lifecycle event when one is due); resolves to the operations it made. */
    async step(i) {
      if (createEvery > 0 && (sinceCreate += 1) >= createEvery) {
        sinceCreate = 0;
        await serial(replaceKey);
        return 2;
      }
      if (rotateEvery > 0 && (sinceRotate += 1) >= rotateEvery) {
        sinceRotate = 0;
        await serial(rotateKey);
        return 1;
      }
      const name = next();
      counts[name]++;
      try {
        return await ops[name](i);
      } catch (error) {
        throw Object.assign(error, { soakOperation: name });
      }
    },
  };
}
