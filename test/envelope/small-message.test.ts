// Small messages (one frame, within the AEAD engine's inline threshold) go
// through one native call: the raw entry points against the known-answer
// message and node:crypto, their argument and tamper checks, and the
// envelope API on both sides of the threshold against the general path.
import crypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { aead, envelope, RawAesKeyring } from '../../dist/index.js';
import { nativeKeyHandle } from '../../dist/aead.js';
import { native } from '../../dist/native.js';
import { expectCode, syncThrow } from '../helpers/gcm.js';

// KAT 1 of shared/reference/encryption-sdk-known-answers.md (made by client-node): suite 0x0478, empty plaintext.
const KAT1 = Buffer.from(
  '0204787e06f5a43bf41f6661ae2d85db17e54faae4dce1cd4aa1776c88707f0f52f59400000001000c6d792d6e616d657370616365001e6d792d6165732d6b6579000000800000000c5de4dade80ae04655068d0520030f49474fa76b10e1fbbab8fbb21dc9fb58058efa5809d341be7bf346a48455bdf44a202e455cbf794f53aa2b6e68f1cd202000010000d06d119602011040fe6610aaa2e00c9ab2798da58dd7d8abae0db0e1256f813ef450b63b23c222e51319f86d487fc0bffffffff00000001000000000000000000000001000000003d183b4edb0e9ca6cf11f1268faa1921',
  'hex',
);
const KAT1_DATA_KEY = Buffer.from('a485f0c81955cb514295acebeacdd2c498d672d27669e3758531ec5eb10396a5', 'hex');
const KAT1_HEADER_BODY = 172;
const FRAME_OVERHEAD = 40;
const messageIdOf = (message: Uint8Array) => message.subarray(3, 35);

/** A fresh copy of KAT 1 with the commitment key, header tag and frame zeroed, ready for sealSmallMessage. */
function katTemplate(plaintextLength = 0): Buffer {
  const message = Buffer.alloc(KAT1_HEADER_BODY + 16 + FRAME_OVERHEAD + plaintextLength);
  KAT1.copy(message, 0, 0, KAT1_HEADER_BODY - 32);
  return message;
}

/** The parts openSmallMessage takes, from a one-frame message with an empty context. */
function parts(message: Uint8Array) {
  return {
    id: messageIdOf(message),
    commit: message.subarray(KAT1_HEADER_BODY - 32, KAT1_HEADER_BODY),
    aad: message.subarray(0, KAT1_HEADER_BODY),
    tag: message.subarray(KAT1_HEADER_BODY, KAT1_HEADER_BODY + 16),
    frame: message.subarray(KAT1_HEADER_BODY + 16),
  };
}

describe('sealSmallMessage / openSmallMessage (raw binding)', () => {
  const dataKey = aead.importKey(KAT1_DATA_KEY);
  const handle = nativeKeyHandle(dataKey);

  it('writes the known-answer message byte for byte', () => {
    const message = katTemplate();
    native.sealSmallMessage(handle, 0x0478, messageIdOf(KAT1), message, KAT1_HEADER_BODY, new Uint8Array(0));
    expect(message.toString('hex')).toBe(KAT1.toString('hex'));
  });

  it('agrees with node:crypto HKDF-SHA512 and AES-256-GCM on a 1 KiB frame', () => {
    const plaintext = crypto.randomBytes(1024);
    const message = katTemplate(plaintext.length);
    native.sealSmallMessage(handle, 0x0578, messageIdOf(KAT1), message, KAT1_HEADER_BODY, plaintext);
    const id = messageIdOf(KAT1);
    const commit = Buffer.from(crypto.hkdfSync('sha512', KAT1_DATA_KEY, id, Buffer.from('COMMITKEY'), 32));
    const contentKey = Buffer.from(crypto.hkdfSync('sha512', KAT1_DATA_KEY, id, Buffer.concat([Buffer.of(0x05, 0x78), Buffer.from('DERIVEKEY')]), 32));
    expect(message.subarray(KAT1_HEADER_BODY - 32, KAT1_HEADER_BODY)).toEqual(commit);
    const headerTag = crypto.createCipheriv('aes-256-gcm', contentKey, Buffer.alloc(12)).setAAD(message.subarray(0, KAT1_HEADER_BODY));
    headerTag.final();
    expect(message.subarray(KAT1_HEADER_BODY, KAT1_HEADER_BODY + 16)).toEqual(headerTag.getAuthTag());
    const frame = message.subarray(KAT1_HEADER_BODY + 16);
    const iv = Buffer.from('000000000000000000000001', 'hex');
    expect(frame.subarray(0, 24).toString('hex')).toBe(`ffffffff00000001${iv.toString('hex')}00000400`);
    const label = Buffer.from('AWSKMSEncryptionClient Final Frame');
    const aad = Buffer.concat([id, label, Buffer.from('00000001', 'hex'), Buffer.from('0000000000000400', 'hex')]);
    const decipher = crypto.createDecipheriv('aes-256-gcm', contentKey, iv).setAAD(aad).setAuthTag(frame.subarray(24 + 1024));
    expect(Buffer.concat([decipher.update(frame.subarray(24, 24 + 1024)), decipher.final()])).toEqual(plaintext);
    const out = Buffer.alloc(1024);
    const p = parts(message);
    expect(native.openSmallMessage(handle, 0x0578, p.id, p.commit, p.aad, p.tag, p.frame, out)).toBe(0);
    expect(out).toEqual(plaintext);
  });

  it('reports which check failed, and wipes the output', () => {
    const plaintext = crypto.randomBytes(64);
    const message = katTemplate(plaintext.length);
    native.sealSmallMessage(handle, 0x0478, messageIdOf(KAT1), message, KAT1_HEADER_BODY, plaintext);
    const open = (m: Buffer, key = handle) => {
      const out = Buffer.alloc(plaintext.length, 0xaa);
      const p = parts(m);
      const failed = native.openSmallMessage(key, 0x0478, p.id, p.commit, p.aad, p.tag, p.frame, out);
      return { failed, out };
    };
    expect(open(message).failed).toBe(0);
    const flip = (at: number) => {
      const copy = Buffer.from(message);
      copy[at]! ^= 1;
      return copy;
    };
    expect(open(flip(KAT1_HEADER_BODY - 1)).failed).toBe(1); // commitment key
    expect(open(flip(3)).failed).toBe(1); // message ID: other keys
    expect(open(flip(40)).failed).toBe(2); // header body
    expect(open(flip(KAT1_HEADER_BODY + 3)).failed).toBe(2); // header tag
    const other = aead.generateKey();
    expect(open(message, nativeKeyHandle(other)).failed).toBe(1);
    other.destroy();
    for (const at of [KAT1_HEADER_BODY + 16 + 7, KAT1_HEADER_BODY + 16 + 19, KAT1_HEADER_BODY + 16 + 23, KAT1_HEADER_BODY + 16 + 30, message.length - 1]) {
      const { failed, out } = open(flip(at));
      expect(failed, `byte ${at}`).toBe(3);
      expect(out.equals(Buffer.alloc(plaintext.length)), `byte ${at}`).toBe(true);
    }
  });

  it('throws a RangeError or TypeError for arguments it cannot take', () => {
    const id = messageIdOf(KAT1);
    const message = katTemplate(4);
    const four = new Uint8Array(4);
    const seal = (...args: unknown[]) => (native.sealSmallMessage as (...a: unknown[]) => void)(...args);
    expect(syncThrow(() => seal({}, 0x0478, id, message, KAT1_HEADER_BODY, four))).toBeInstanceOf(TypeError);
    expect(syncThrow(() => seal(handle, 0x0178, id, message, KAT1_HEADER_BODY, four))).toBeInstanceOf(RangeError);
    expect(syncThrow(() => seal(handle, '0478', id, message, KAT1_HEADER_BODY, four))).toBeInstanceOf(RangeError);
    expect(syncThrow(() => seal(handle, 0x0478, id.subarray(1), message, KAT1_HEADER_BODY, four))).toBeInstanceOf(RangeError);
    expect(syncThrow(() => seal(handle, 0x0478, 'id', message, KAT1_HEADER_BODY, four))).toBeInstanceOf(TypeError);
    expect(syncThrow(() => seal(handle, 0x0478, id, message, KAT1_HEADER_BODY, new Uint8Array(5)))).toBeInstanceOf(RangeError);
    for (const body of [31, message.length + 1, -1, 'x']) {
      expect(syncThrow(() => seal(handle, 0x0478, id, message, body, four))).toBeInstanceOf(RangeError);
    }
    const p = parts(message);
    const open = (...args: unknown[]) => (native.openSmallMessage as (...a: unknown[]) => number)(...args);
    expect(syncThrow(() => open(handle, 0x0478, p.id, p.commit.subarray(1), p.aad, p.tag, p.frame, four))).toBeInstanceOf(RangeError);
    expect(syncThrow(() => open(handle, 0x0478, p.id, p.commit, p.aad, p.tag.subarray(1), p.frame, four))).toBeInstanceOf(RangeError);
    expect(syncThrow(() => open(handle, 0x0478, p.id, p.commit, p.aad, p.tag, p.frame, new Uint8Array(3)))).toBeInstanceOf(RangeError);
    expect(syncThrow(() => open(handle, 0x0478, p.id, p.commit, null, p.tag, p.frame, four))).toBeInstanceOf(TypeError);
  });

  it('refuses a destroyed data key with KeyUnavailableException and leaves nothing behind', () => {
    const gone = aead.importKey(KAT1_DATA_KEY);
    gone.destroy();
    const message = katTemplate();
    const error = syncThrow(() => native.sealSmallMessage(nativeKeyHandle(gone), 0x0478, messageIdOf(KAT1), message, KAT1_HEADER_BODY, new Uint8Array(0)));
    expectCode(error, 'KeyUnavailableException');
    expect(message.subarray(KAT1_HEADER_BODY - 32).equals(Buffer.alloc(message.length - KAT1_HEADER_BODY + 32))).toBe(true);
    const p = parts(KAT1);
    expectCode(syncThrow(() => native.openSmallMessage(nativeKeyHandle(gone), 0x0478, p.id, p.commit, p.aad, p.tag, p.frame, new Uint8Array(0))), 'KeyUnavailableException');
  });
});

describe('envelope messages on the small path', () => {
  const keyring = new RawAesKeyring({ keyName: 'small', keyNamespace: 'hsmkms-test', unencryptedMasterKey: crypto.randomBytes(32), utf8Sorting: true });
  const initial = aead.settings();
  afterEach(() => {
    vi.restoreAllMocks();
    aead.configure(initial);
  });

  /** Encrypts on one path (small or general: threshold 0) and decrypts on each. */
  async function roundTrip(plaintext: Buffer, options: { frameLength?: number; algorithmSuite?: number; encryptionContext?: Record<string, string> } = {}) {
    // Threshold 0 sends every non-empty message down the general path.
    const smallAt = (threshold: number) => plaintext.length < (options.frameLength ?? 65536) && plaintext.length <= threshold;
    const seal = vi.spyOn(native, 'sealSmallMessage');
    const open = vi.spyOn(native, 'openSmallMessage');
    for (const writeSmall of [true, false]) {
      aead.configure({ inlineThreshold: writeSmall ? initial.inlineThreshold : 0 });
      seal.mockClear();
      const { result, header } = await envelope.encrypt(plaintext, { keyring, ...options });
      expect(seal.mock.calls.length).toBe(smallAt(writeSmall ? initial.inlineThreshold : 0) ? 1 : 0);
      expect(header.headerLength).toBeLessThan(result.length);
      for (const readSmall of [true, false]) {
        aead.configure({ inlineThreshold: readSmall ? initial.inlineThreshold : 0 });
        open.mockClear();
        const opened = await envelope.decrypt(result, { keyring });
        expect(open.mock.calls.length).toBe(smallAt(readSmall ? initial.inlineThreshold : 0) ? 1 : 0);
        expect(opened.plaintext.equals(plaintext)).toBe(true);
        const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
        expect(opened.header).toMatchObject({ suiteId: header.suiteId, frameLength: header.frameLength, headerLength: header.headerLength, encryptionContext: header.encryptionContext });
        expect([hex(opened.header.messageId), hex(opened.header.suiteData)]).toEqual([hex(header.messageId), hex(header.suiteData)]);
      }
    }
  }

  it.each([0x0478, 0x0578])('round-trips with the general path, suite %i, at the edges of one frame', async (algorithmSuite) => {
    for (const length of [0, 1, 1023, 1024, 4095]) await roundTrip(crypto.randomBytes(length), { algorithmSuite, frameLength: 4096, encryptionContext: { tenant: 't1' } });
    await roundTrip(crypto.randomBytes(4096), { algorithmSuite, frameLength: 4096 }); // a full frame then an empty final: general path
    await roundTrip(crypto.randomBytes(initial.inlineThreshold), { algorithmSuite });
    await roundTrip(crypto.randomBytes(initial.inlineThreshold + 1), { algorithmSuite });
  });

  it.each([0x0478, 0x0578])('rejects every single bit flip of a one-frame message, suite %i', async (algorithmSuite) => {
    const { result } = await envelope.encrypt(crypto.randomBytes(16), { keyring, algorithmSuite, encryptionContext: { a: 'b' } });
    for (let bit = 0; bit < result.length * 8; bit++) {
      const copy = Buffer.from(result);
      copy[bit >> 3]! ^= 1 << (bit & 7);
      await expect(envelope.decrypt(copy, { keyring }), `bit ${bit}`).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
    }
  });

  it('returns a header that does not change when the caller reuses its message buffer', async () => {
    const { result } = await envelope.encrypt(Buffer.from('reuse'), { keyring });
    const message = Buffer.from(result);
    const { header } = await envelope.decrypt(message, { keyring });
    const before = [header.messageId, header.suiteData, header.encryptedDataKeys[0]!.encryptedDataKey, header.encryptedDataKeys[0]!.rawInfo].map((b) => Buffer.from(b).toString('hex'));
    message.fill(0);
    const after = [header.messageId, header.suiteData, header.encryptedDataKeys[0]!.encryptedDataKey, header.encryptedDataKeys[0]!.rawInfo].map((b) => Buffer.from(b).toString('hex'));
    expect(after).toEqual(before);
  });

  it('names the failed check, and wipes the plaintext it allocated', async () => {
    const { result, header } = await envelope.encrypt(crypto.randomBytes(100), { keyring });
    const commitAt = header.headerLength - 16 - 1;
    const tamper = (at: number) => {
      const copy = Buffer.from(result);
      copy[at]! ^= 1;
      return copy;
    };
    await expect(envelope.decrypt(tamper(commitAt), { keyring })).rejects.toThrow(/key commitment does not match/);
    await expect(envelope.decrypt(tamper(header.headerLength - 1), { keyring })).rejects.toThrow(/header does not authenticate/);
    const slow = vi.spyOn(Buffer, 'allocUnsafeSlow');
    await expect(envelope.decrypt(tamper(result.length - 1), { keyring })).rejects.toThrow(/a frame does not authenticate/);
    const outputs = slow.mock.results.map((r) => r.value as Buffer).filter((b) => b.length === 100);
    expect(outputs.length).toBe(1);
    expect(outputs[0]!.equals(Buffer.alloc(100))).toBe(true);
  });

  it('authenticates pairs the header does not store (the caller\'s required context)', async () => {
    // KAT 1 with its header tag redone over header body || {extra: "pair"}, and a keyring that knows its data key.
    const id = messageIdOf(KAT1);
    const contentKey = Buffer.from(crypto.hkdfSync('sha512', KAT1_DATA_KEY, id, Buffer.concat([Buffer.of(0x04, 0x78), Buffer.from('DERIVEKEY')]), 32));
    const extra = Buffer.from('0001000565787472610004706169 72'.replace(/ /g, ''), 'hex');
    const cipher = crypto.createCipheriv('aes-256-gcm', contentKey, Buffer.alloc(12)).setAAD(Buffer.concat([KAT1.subarray(0, KAT1_HEADER_BODY), extra]));
    cipher.final();
    const message = Buffer.from(KAT1);
    cipher.getAuthTag().copy(message, KAT1_HEADER_BODY);
    const katKeyring = {
      needsDataKeyBytes: () => false,
      onEncrypt: () => Promise.reject(new Error('decrypt only')),
      onDecrypt: async (materials: { setDataKey(key: Uint8Array): void }) => materials.setDataKey(Buffer.from(KAT1_DATA_KEY)),
    };
    const opened = await envelope.decrypt(message, { keyring: katKeyring, encryptionContext: { extra: 'pair' } });
    expect(opened.plaintext.length).toBe(0);
    await expect(envelope.decrypt(message, { keyring: katKeyring })).rejects.toThrow(/header does not authenticate/);
    await expect(envelope.decrypt(message, { keyring: katKeyring, encryptionContext: { extra: 'nope' } })).rejects.toThrow(/header does not authenticate/);
  });
});
