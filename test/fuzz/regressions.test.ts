/**
 * Fuzzing findings, kept fixed. Every input under test/fuzz/regressions/<target>/
 * is run through that target once (its properties must hold now), and each
 * bug found has a direct test of the fixed behaviour:
 *   - proto-key-dropped: checkEncryptionContext assigned pairs, so a
 *     "__proto__" key vanished from the context (and from the AAD) silently;
 *     reconcileContext did the same to a caller's expected pair on decrypt.
 *   - proto-member-sets-prototype: the JSON 1.1 decoder assigned members, so
 *     a "__proto__" member set the request object's prototype and smuggled
 *     inherited members (KeyId...) past the own-member view.
 *   - leading-bom-dropped: the context and provider-id decoders stripped a
 *     leading U+FEFF (TextDecoder's default), so a key or value starting with
 *     it came back without it.
 *   - lossy-provider-id: not a bug (provider ids decode leniently, as
 *     @aws-crypto does); the header target's round-trip property was fixed.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envelope, KmsError, RawAesKeyring } from '../../dist/index.js';
import { checkEncryptionContext, serializeEncryptionContext } from '../../dist/encryption-context.js';
import { parseEncryptionContext, reconcileContext } from '../../dist/envelope/context-codec.js';
import { parseHeader } from '../../dist/envelope/header-codec.js';
import { decodeRequest } from '../../dist/server/protocol.js';
import { FUZZERS, listTargets } from './fuzz-runner.mjs';

const require = createRequire(import.meta.url);
const DIR = path.join(__dirname, 'regressions');

describe('fuzzing regressions: every committed input passes its target', () => {
  const targets = new Map(listTargets().map((t) => [t.name, t]));
  for (const name of fs.readdirSync(DIR)) {
    const target = targets.get(name);
    for (const file of fs.readdirSync(path.join(DIR, name))) {
      it(`${name}/${file}`, async () => {
        expect(target, `no fuzz target named ${name}`).toBeDefined();
        const input = path.join(DIR, name, file);
        if (target!.kind === 'native') {
          // libFuzzer runs the one input and exits 0 when nothing fires.
          execFileSync(path.join(FUZZERS, name), [input], { stdio: 'pipe' });
          return;
        }
        const { fuzz } = require(target!.file) as { fuzz: (data: Buffer) => unknown };
        await fuzz(fs.readFileSync(input));
      });
    }
  }
});

const PROTO = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>;

describe('"__proto__" is an ordinary key', () => {
  it('checkEncryptionContext keeps a "__proto__" pair, and serialization carries it', () => {
    const context = checkEncryptionContext(PROTO);
    expect(Object.keys(context).sort()).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(context)).toBe(Object.prototype);
    expect(Buffer.from(serializeEncryptionContext(context)).toString('hex')).toBe('000200095f5f70726f746f5f5f000178000161000162');
  });

  it('reconcileContext keeps an expected "__proto__" pair the header does not store', () => {
    const { unstored, full } = reconcileContext({ a: 'b' }, JSON.parse('{"__proto__":"x"}') as Record<string, string>);
    expect(Object.keys(unstored)).toEqual(['__proto__']);
    expect(Object.keys(full).sort()).toEqual(['__proto__', 'a']);
  });

  it('a message bound to a "__proto__" pair does not decrypt under another value of it', async () => {
    const keyring = new RawAesKeyring({ keyName: 'k', keyNamespace: 'fuzz-regression', unencryptedMasterKey: Buffer.alloc(32, 7) });
    const { result } = await envelope.encrypt(Buffer.from('data'), { keyring, encryptionContext: PROTO });
    const back = await envelope.decrypt(result, { keyring, encryptionContext: PROTO });
    expect(back.header.encryptionContext).toEqual(PROTO);
    const other = JSON.parse('{"__proto__":"y"}') as Record<string, string>;
    const failure = await envelope.decrypt(result, { keyring, encryptionContext: other }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(KmsError);
    expect((failure as KmsError).code).toBe('InvalidCiphertextException');
  });

  it('the JSON 1.1 decoder keeps "__proto__" an own member and never sets a prototype', () => {
    const { request } = decodeRequest(Buffer.from('{"__proto__":{"KeyId":"victim"},"Plaintext":"aGk="}'));
    expect(Object.getPrototypeOf(request)).toBe(Object.prototype);
    expect(request.keyId).toBeUndefined();
    expect(Object.keys(request).sort()).toEqual(['__proto__', 'plaintext']);
  });
});

describe('a leading U+FEFF is text, not a byte-order mark', () => {
  it('survives encryption-context serialization and parsing', () => {
    const context = { '\uFEFFkey': '\uFEFFvalue', plain: 'x' };
    expect(parseEncryptionContext(serializeEncryptionContext(context))).toEqual(context);
  });

  it('stays in a message header: context and provider id', async () => {
    const keyring = new RawAesKeyring({ keyName: 'k', keyNamespace: '\uFEFFns', unencryptedMasterKey: Buffer.alloc(32, 9) });
    const context = { '\uFEFFa': 'b' };
    const { result } = await envelope.encrypt(Buffer.from('data'), { keyring, encryptionContext: context });
    const { header } = parseHeader(result, { maxEncryptedDataKeys: 1 });
    expect(header.encryptionContext).toEqual(context);
    expect(header.encryptedDataKeys[0]!.providerId).toBe('\uFEFFns');
    const back = await envelope.decrypt(result, { keyring, encryptionContext: context });
    expect(back.plaintext.toString()).toBe('data');
  });
});
