// A domain key object left on the token under the next version's label that
// cannot wrap keys (as a crash during another process's creation can leave
// one: SoftHSM2 writes token objects in place) is not adopted: the version
// is skipped, and keys made afterwards work. A sound left-behind object is
// still adopted, not twinned.
import crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kms } from '../../dist/index.js';
import { makeToken, TokenView, type TestToken } from '../pkcs11/softhsm-fixture.js';

let token: TestToken;
let dir: string;

beforeAll(() => {
  token = makeToken('hsmkms-left-behind');
  dir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-left-behind-'));
});

afterAll(() => {
  token?.remove();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * An AES token object under a domain key label, as another process's
 * creation would leave it; `wrap` false: it cannot wrap. Through pkcs11js in
 * this process, while a Kms holds the module open (closing it finalizes).
 */
function leaveBehind(view: TokenView, version: number, wrap: boolean): void {
  view.p11.C_CreateObject(view.session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_LABEL, value: `hsmkms:domain:${version}` },
    { type: pkcs11js.CKA_ID, value: crypto.randomBytes(16) },
    { type: pkcs11js.CKA_VALUE, value: crypto.randomBytes(32) },
    { type: pkcs11js.CKA_WRAP, value: wrap },
    { type: pkcs11js.CKA_UNWRAP, value: wrap },
  ]);
}

const open = (store: string) => Kms.open({ root: { pkcs11: { module: token.module, tokenLabel: token.label, pin: token.pin } }, store: path.join(dir, store) });

describe('domain key objects left behind on the token', () => {
  it('a rotation skips a version whose object cannot wrap, and keys made afterwards encrypt', async () => {
    const kms = await open('skip.db');
    const view = new TokenView(token.module, token.label, token.pin);
    const before = (await kms.createKey()).keyMetadata.keyId;
    leaveBehind(view, 2, false);
    expect(await kms.rotateDomainKey()).toEqual({ domainKeyVersion: 3 });
    const after = (await kms.createKey()).keyMetadata.keyId;
    for (const keyId of [before, after]) {
      const { ciphertextBlob } = await kms.encrypt({ keyId, plaintext: Buffer.from('still works') });
      expect(Buffer.from((await kms.decrypt({ ciphertextBlob })).plaintext).toString()).toBe('still works');
    }
    const held = Object.fromEntries((await kms.describe()).domainKeys.map((d) => [d.version, d.cmkVersions]));
    expect(held).toEqual({ 1: 1, 3: 1 });
    view.close();
    await kms.close();
  });

  it('a sound object left under the next version is adopted, not twinned', async () => {
    const kms = await open('adopt.db');
    const view = new TokenView(token.module, token.label, token.pin);
    leaveBehind(view, 4, true);
    // The token holds 1 (sound), 2 (cannot wrap), 3 (made by the first store) and now 4 (sound). This store has
    // adopted 1; its rotations skip 2, adopt 3, then adopt 4.
    expect(await kms.rotateDomainKey()).toEqual({ domainKeyVersion: 3 });
    expect(await kms.rotateDomainKey()).toEqual({ domainKeyVersion: 4 });
    const keyId = (await kms.createKey()).keyMetadata.keyId;
    const { ciphertextBlob } = await kms.encrypt({ keyId, plaintext: Buffer.from('adopted') });
    expect(Buffer.from((await kms.decrypt({ ciphertextBlob })).plaintext).toString()).toBe('adopted');
    expect(view.find([{ type: pkcs11js.CKA_LABEL, value: 'hsmkms:domain:4' }])).toHaveLength(1);
    view.close();
    await kms.close();
  });
});
