// Every operation of the server through the unmodified AWS SDK v3 client
// (@aws-sdk/client-kms) on the soft root, a subset on SoftHSM2, and AWS error
// mapping to the SDK's own exception classes.
import {
  CancelKeyDeletionCommand, CreateAliasCommand, CreateKeyCommand, DecryptCommand, DeleteAliasCommand, DescribeKeyCommand,
  DisableKeyCommand, DisableKeyRotationCommand, DisabledException, EnableKeyCommand, EnableKeyRotationCommand, EncryptCommand,
  GenerateDataKeyCommand, GenerateDataKeyWithoutPlaintextCommand, GenerateRandomCommand, GetKeyPolicyCommand,
  GetKeyRotationStatusCommand, GetPublicKeyCommand, IncorrectKeyException, InvalidCiphertextException, KMSClient,
  KMSInvalidSignatureException, KMSInvalidStateException, ListAliasesCommand, ListKeyRotationsCommand, ListKeysCommand,
  ListResourceTagsCommand, NotFoundException, PutKeyPolicyCommand, ReEncryptCommand, RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand, SignCommand, TagResourceCommand, UntagResourceCommand, UpdateAliasCommand, VerifyCommand,
  InvalidKeyUsageException, UnsupportedOperationException, AlreadyExistsException, GenerateMacCommand, VerifyMacCommand,
  KMSInvalidMacException,
} from '@aws-sdk/client-kms';
import { createPublicKey, createVerify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, REGION, rejection, removeServerToken, type ServerFixture, startServer } from './server-harness.js';

afterAll(() => removeServerToken());

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
const text = (b: Uint8Array | undefined): string => Buffer.from(b!).toString();

describe('every operation through @aws-sdk/client-kms (soft root)', () => {
  let f: ServerFixture;
  let kms: KMSClient;
  let keyId: string;
  let keyArn: string;

  beforeAll(async () => {
    f = await startServer('soft');
    kms = f.client('admin');
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'main', Tags: [{ TagKey: 'team', TagValue: 'kms' }] }));
    keyId = KeyMetadata!.KeyId!;
    keyArn = KeyMetadata!.Arn!;
  });

  afterAll(async () => {
    await f.close();
  });

  it('CreateKey, DescribeKey, ListKeys: AWS-shaped metadata with the configured region and account', async () => {
    expect(keyArn).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`);
    const { KeyMetadata: m } = await kms.send(new DescribeKeyCommand({ KeyId: keyArn }));
    expect(m).toMatchObject({
      KeyId: keyId, AWSAccountId: ACCOUNT, Enabled: true, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT',
      KeyUsage: 'ENCRYPT_DECRYPT', Description: 'main', EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'], KeyManager: 'CUSTOMER',
    });
    expect(m!.CreationDate).toBeInstanceOf(Date);
    expect(Math.abs(m!.CreationDate!.getTime() - Date.now())).toBeLessThan(60_000);
    const listed = await kms.send(new ListKeysCommand({ Limit: 100 }));
    expect(listed.Keys).toContainEqual({ KeyId: keyId, KeyArn: keyArn });
    expect(listed.Truncated).toBe(false);
  });

  it('Encrypt, Decrypt (with and without KeyId), ReEncrypt with encryption contexts', async () => {
    const context = { tenant: 'acme', 'Key With Spaces': 'v' };
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: bytes('secret'), EncryptionContext: context }));
    expect(enc).toMatchObject({ KeyId: keyArn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context }));
    expect(text(dec.Plaintext)).toBe('secret');
    expect(dec.KeyId).toBe(keyArn);
    expect(text((await kms.send(new DecryptCommand({ KeyId: keyArn, CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context }))).Plaintext)).toBe('secret');
    const other = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const re = await kms.send(new ReEncryptCommand({
      CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: context, DestinationKeyId: other, DestinationEncryptionContext: { x: 'y' },
    }));
    expect(re.SourceKeyId).toBe(keyArn);
    expect(re.KeyId).toContain(other);
    expect(text((await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { x: 'y' } }))).Plaintext)).toBe('secret');
  });

  it('GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom', async () => {
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { a: 'b' } }));
    expect(dk.Plaintext).toHaveLength(32);
    const back = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { a: 'b' } }));
    expect(Buffer.from(back.Plaintext!).equals(Buffer.from(dk.Plaintext!))).toBe(true);
    const wp = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, NumberOfBytes: 16 }));
    expect((await kms.send(new DecryptCommand({ CiphertextBlob: wp.CiphertextBlob }))).Plaintext).toHaveLength(16);
    expect((await kms.send(new GenerateRandomCommand({ NumberOfBytes: 48 }))).Plaintext).toHaveLength(48);
  });

  it('EnableKey, DisableKey (DisabledException), ScheduleKeyDeletion, CancelKeyDeletion (KMSInvalidStateException)', async () => {
    const id = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await kms.send(new DisableKeyCommand({ KeyId: id }));
    const disabled = await rejection(kms.send(new EncryptCommand({ KeyId: id, Plaintext: bytes('x') })));
    expect(disabled).toBeInstanceOf(DisabledException);
    expect(disabled.$metadata?.httpStatusCode).toBe(400);
    await kms.send(new EnableKeyCommand({ KeyId: id }));
    await kms.send(new EncryptCommand({ KeyId: id, Plaintext: bytes('x') }));
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    expect(scheduled.KeyState).toBe('PendingDeletion');
    expect(scheduled.DeletionDate).toBeInstanceOf(Date);
    expect(await rejection(kms.send(new EncryptCommand({ KeyId: id, Plaintext: bytes('x') })))).toBeInstanceOf(KMSInvalidStateException);
    expect((await kms.send(new CancelKeyDeletionCommand({ KeyId: id }))).KeyId).toContain(id);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.KeyState).toBe('Disabled');
  });

  it('CreateAlias, UpdateAlias, DeleteAlias, ListAliases', async () => {
    const other = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: keyId }));
    expect(await rejection(kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: keyId })))).toBeInstanceOf(AlreadyExistsException);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/app' }))).KeyMetadata!.KeyId).toBe(keyId);
    await kms.send(new UpdateAliasCommand({ AliasName: 'alias/app', TargetKeyId: other }));
    const aliases = await kms.send(new ListAliasesCommand({ KeyId: other }));
    expect(aliases.Aliases).toHaveLength(1);
    expect(aliases.Aliases![0]).toMatchObject({ AliasName: 'alias/app', AliasArn: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/app`, TargetKeyId: other });
    expect(aliases.Aliases![0]!.CreationDate).toBeInstanceOf(Date);
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/app' }));
    expect(await rejection(kms.send(new DescribeKeyCommand({ KeyId: 'alias/app' })))).toBeInstanceOf(NotFoundException);
  });

  it('TagResource, UntagResource, ListResourceTags', async () => {
    await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'env', TagValue: 'test' }] }));
    await kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['team'] }));
    const tags = await kms.send(new ListResourceTagsCommand({ KeyId: keyId }));
    expect(tags.Tags).toEqual([{ TagKey: 'env', TagValue: 'test' }]);
    expect(tags.Truncated).toBe(false);
  });

  it('EnableKeyRotation, GetKeyRotationStatus, DisableKeyRotation, RotateKeyOnDemand, ListKeyRotations', async () => {
    const id = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const before = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: bytes('old') }));
    await kms.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 90 }));
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    expect(status).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    expect(status.NextRotationDate).toBeInstanceOf(Date);
    await kms.send(new DisableKeyRotationCommand({ KeyId: id }));
    expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: id }))).KeyRotationEnabled).toBe(false);
    expect((await kms.send(new RotateKeyOnDemandCommand({ KeyId: id }))).KeyId).toContain(id);
    const rotations = await kms.send(new ListKeyRotationsCommand({ KeyId: id }));
    expect(rotations.Rotations).toHaveLength(1);
    expect(rotations.Rotations![0]).toMatchObject({ RotationType: 'ON_DEMAND' });
    expect(rotations.Rotations![0]!.RotationDate).toBeInstanceOf(Date);
    expect(text((await kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext)).toBe('old');
  });

  it('Sign, Verify, GetPublicKey on ECC and RSA keys (signatures check with node:crypto)', async () => {
    for (const [KeySpec, SigningAlgorithm] of [['ECC_NIST_P256', 'ECDSA_SHA_256'], ['RSA_2048', 'RSASSA_PSS_SHA_256']] as const) {
      const id = (await kms.send(new CreateKeyCommand({ KeySpec, KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
      const signed = await kms.send(new SignCommand({ KeyId: id, Message: bytes('doc'), MessageType: 'RAW', SigningAlgorithm }));
      const verified = await kms.send(new VerifyCommand({ KeyId: id, Message: bytes('doc'), Signature: signed.Signature, SigningAlgorithm }));
      expect(verified.SignatureValid).toBe(true);
      const bad = await rejection(kms.send(new VerifyCommand({ KeyId: id, Message: bytes('other'), Signature: signed.Signature, SigningAlgorithm })));
      expect(bad).toBeInstanceOf(KMSInvalidSignatureException);
      const pub = await kms.send(new GetPublicKeyCommand({ KeyId: id }));
      expect(pub).toMatchObject({ KeySpec, KeyUsage: 'SIGN_VERIFY' });
      const key = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
      const ok = KeySpec === 'RSA_2048'
        ? createVerify('sha256').update('doc').verify({ key, padding: 6, saltLength: 32 }, Buffer.from(signed.Signature!))
        : createVerify('sha256').update('doc').verify(key, Buffer.from(signed.Signature!));
      expect(ok).toBe(true);
    }
  });

  it('GenerateMac and VerifyMac on an HMAC key; a wrong MAC is KMSInvalidMacException', async () => {
    const created = (await kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!;
    expect(created).toMatchObject({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', MacAlgorithms: ['HMAC_SHA_256'] });
    const id = created.KeyId!;
    const made = await kms.send(new GenerateMacCommand({ KeyId: id, Message: bytes('row 17'), MacAlgorithm: 'HMAC_SHA_256' }));
    expect(made).toMatchObject({ KeyId: created.Arn, MacAlgorithm: 'HMAC_SHA_256' });
    expect(made.Mac).toHaveLength(32);
    const verified = await kms.send(new VerifyMacCommand({ KeyId: id, Message: bytes('row 17'), Mac: made.Mac, MacAlgorithm: 'HMAC_SHA_256' }));
    expect(verified).toMatchObject({ KeyId: created.Arn, MacValid: true, MacAlgorithm: 'HMAC_SHA_256' });
    const bad = await rejection(kms.send(new VerifyMacCommand({ KeyId: id, Message: bytes('row 18'), Mac: made.Mac, MacAlgorithm: 'HMAC_SHA_256' })));
    expect(bad).toBeInstanceOf(KMSInvalidMacException);
    const wrong = await rejection(kms.send(new GenerateMacCommand({ KeyId: keyId, Message: bytes('m'), MacAlgorithm: 'HMAC_SHA_256' })));
    expect(wrong).toBeInstanceOf(InvalidKeyUsageException);
  });

  it('GetKeyPolicy shows the default policy naming the creator; PutKeyPolicy replaces it', async () => {
    const policy = (await kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }))).Policy!;
    expect(JSON.parse(policy).Statement[0]).toMatchObject({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/admin` }, Action: 'kms:*' });
    const id = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const next = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'alice' }, Action: ['kms:Encrypt'], Resource: '*' }] });
    await kms.send(new PutKeyPolicyCommand({ KeyId: id, PolicyName: 'default', Policy: next }));
    expect((await kms.send(new GetKeyPolicyCommand({ KeyId: id }))).Policy).toBe(next);
    const malformed = await rejection(kms.send(new PutKeyPolicyCommand({ KeyId: id, Policy: '{"Statement":[{"Effect":"Maybe"}]}' })));
    expect(malformed.name).toBe('MalformedPolicyDocumentException');
  });

  it('maps errors to the SDK classes: NotFound, InvalidCiphertext, IncorrectKey, InvalidKeyUsage, UnsupportedOperation, Validation', async () => {
    expect(await rejection(kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })))).toBeInstanceOf(NotFoundException);
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: bytes('p'), EncryptionContext: { a: '1' } }));
    expect(await rejection(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: '2' } })))).toBeInstanceOf(InvalidCiphertextException);
    const tampered = Uint8Array.from(enc.CiphertextBlob!);
    tampered[tampered.length - 1]! ^= 1;
    expect(await rejection(kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: { a: '1' } })))).toBeInstanceOf(InvalidCiphertextException);
    expect(await rejection(kms.send(new DecryptCommand({ CiphertextBlob: bytes('garbage') })))).toBeInstanceOf(InvalidCiphertextException);
    const other = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect(await rejection(kms.send(new DecryptCommand({ KeyId: other, CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: '1' } })))).toBeInstanceOf(IncorrectKeyException);
    const signing = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    expect(await rejection(kms.send(new EncryptCommand({ KeyId: signing, Plaintext: bytes('x') })))).toBeInstanceOf(InvalidKeyUsageException);
    expect(await rejection(kms.send(new GetPublicKeyCommand({ KeyId: keyId })))).toBeInstanceOf(UnsupportedOperationException);
    const tooBig = await rejection(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(4097) })));
    expect(tooBig.name).toBe('ValidationException');
    expect(tooBig.$metadata?.httpStatusCode).toBe(400);
    const badRandom = await rejection(kms.send(new GenerateRandomCommand({ NumberOfBytes: 0 })));
    expect(badRandom.name).toBe('ValidationException');
  });

  it('answers malformed protocol with AWS errors: bad JSON, bad base64, unknown operation', async () => {
    const notObject = await f.raw('ListKeys', 'a string, not an object');
    expect(notObject).toMatchObject({ status: 400, body: { __type: 'SerializationException' } });
    const badJson = await f.raw('ListKeys', {}, { who: 'admin', mutate: (r) => (r.body = '{') });
    // Changing the body after signing is caught first: the signature covers it.
    expect(badJson).toMatchObject({ status: 400, body: { __type: 'InvalidSignatureException' } });
    const unknown = await f.raw('CreateGrant', {});
    expect(unknown).toMatchObject({ status: 400, body: { __type: 'UnknownOperationException' } });
    const base64 = await f.raw('Decrypt', { CiphertextBlob: '***' });
    expect(base64).toMatchObject({ status: 400, body: { __type: 'SerializationException' } });
  });

  it('audits served operations under the caller\'s principal', async () => {
    await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: bytes('audited') }));
    const trail = await f.kms.auditLog({ keyId, limit: 1000 });
    const last = trail.filter((r) => r.operation === 'Encrypt').at(-1)!;
    expect(last).toMatchObject({ outcome: 'success', principal: 'admin', keyId });
  });
});

describe('a subset on SoftHSM2 (pkcs11 root)', () => {
  let f: ServerFixture;
  let kms: KMSClient;

  beforeAll(async () => {
    f = await startServer('pkcs11');
    kms = f.client('admin');
  });

  afterAll(async () => {
    await f.close();
  });

  it('Encrypt, Decrypt, GenerateDataKey, Sign', async () => {
    const id = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const enc = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: bytes('hsm'), EncryptionContext: { k: 'v' } }));
    expect(text((await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { k: 'v' } }))).Plaintext)).toBe('hsm');
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256' }));
    expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }))).Plaintext!).equals(Buffer.from(dk.Plaintext!))).toBe(true);
    const signer = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    const signed = await kms.send(new SignCommand({ KeyId: signer, Message: bytes('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect((await kms.send(new VerifyCommand({ KeyId: signer, Message: bytes('m'), Signature: signed.Signature, SigningAlgorithm: 'ECDSA_SHA_256' }))).SignatureValid).toBe(true);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.KeyState).toBe('Enabled');
  });
});
