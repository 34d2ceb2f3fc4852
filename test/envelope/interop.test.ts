// Interop with the real @aws-crypto/client-node, both ways, over a matrix of
// suites x frame lengths x sizes x contexts x keyrings. 1 MiB + 3 runs for
// frame lengths 100, 4096 and 65536 with two keyrings and two contexts (frame
// length 1 would be a million frames in the peer); every other size runs the
// full matrix.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { envelope } from '../../dist/index.js';
import { CONTEXTS, KEYRING_PAIRS, peer } from './helpers/peers.js';

const SUITES = [0x0478, 0x0578];
const FRAME_LENGTHS = [1, 100, 4096, 65536];
const BIG = 1024 * 1024 + 3;

interface Case {
  label: string;
  suite: number;
  frameLength: number;
  size: number;
  context: Record<string, string>;
  pair: (typeof KEYRING_PAIRS)[number];
}

function cases(suite: number, frameLength: number): Case[] {
  const sizes = [...new Set([0, 1, frameLength - 1, frameLength, frameLength + 1])];
  const out: Case[] = [];
  for (const [contextName, context] of Object.entries(CONTEXTS)) {
    for (const pair of KEYRING_PAIRS) {
      const bigToo = frameLength > 1 && (pair === KEYRING_PAIRS[0] || pair === KEYRING_PAIRS[3]) && (contextName === 'empty' || contextName === 'non-ASCII');
      for (const size of bigToo ? [...sizes, BIG] : sizes) {
        out.push({ label: `${pair.name}, ${contextName}, ${size} B`, suite, frameLength, size, context, pair });
      }
    }
  }
  return out;
}

let total = 0;

describe.each(SUITES)('interop, suite 0x%s', (suite) => {
  it.each(FRAME_LENGTHS)('frame length %i: theirs decrypted by us, ours by them', async (frameLength) => {
    for (const c of cases(suite, frameLength)) {
      const plaintext = crypto.randomBytes(c.size);
      const theirs = await peer.encrypt(c.pair.theirs, plaintext, { encryptionContext: c.context, suiteId: suite, frameLength });
      const opened = await envelope.decrypt(theirs.result, { keyring: c.pair.ours, encryptionContext: c.context });
      expect(Buffer.compare(opened.plaintext, plaintext), c.label).toBe(0);
      expect(opened.header.suiteId).toBe(suite);
      expect(opened.header.frameLength).toBe(frameLength);
      expect(opened.header.encryptionContext).toMatchObject(c.context);

      const ours = await envelope.encrypt(plaintext, { keyring: c.pair.ours, encryptionContext: c.context, frameLength, algorithmSuite: suite });
      const back = await peer.decrypt(c.pair.theirs, ours.result);
      expect(Buffer.compare(back.plaintext, plaintext), c.label).toBe(0);
      expect(back.messageHeader.encryptionContext).toMatchObject(c.context);
      expect(back.messageHeader.suiteId).toBe(suite);
      total += 2;
    }
  });
});

describe('interop matrix', () => {
  it('ran every case', () => {
    console.log(`interop: ${total} messages (${total / 2} cases, each both ways)`);
    expect(total).toBeGreaterThan(500);
  });
});
