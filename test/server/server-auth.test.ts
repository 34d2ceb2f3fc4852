// Authentication, authorization and limits: every refusal gets the AWS error
// the SDKs expect, carries no key material or secret, and is audited.
import {
  CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, GenerateMacCommand, KMSClient,
  ListKeysCommand, PutKeyPolicyCommand, SignCommand,
} from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRINCIPALS, REGION, rejection, type ServerFixture, startServer } from './server-harness.js';

const SECRET_PLAINTEXT = 'top-secret-plaintext-0123456789';
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));

/** Nothing secret in what a refused client got back. */
function expectNoSecrets(text: string): void {
  expect(text).not.toContain(SECRET_PLAINTEXT);
  expect(text).not.toContain(Buffer.from(SECRET_PLAINTEXT).toString('base64'));
  expect(text).not.toMatch(/"(Plaintext|CiphertextBlob)"/);
  for (const p of Object.values(PRINCIPALS)) expect(text).not.toContain(p.secretAccessKey);
}

describe('authentication, authorization and limits', () => {
  let f: ServerFixture;
  let admin: KMSClient;
  let keyId: string;

  beforeAll(async () => {
    f = await startServer('soft', { maxBodyBytes: 16_384 });
    admin = f.client('admin');
    keyId = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  });

  afterAll(async () => {
    await f.close();
  });

  /** The newest audit record of an operation with the given error code. */
  async function audited(operation: string, errorCode: string) {
    const trail = await f.kms.auditLog({ limit: 10_000 });
    return trail.filter((r) => r.operation === operation && r.errorCode === errorCode).at(-1);
  }

  it('a wrong secret: InvalidSignatureException, audited', async () => {
    const error = await rejection(f.client('alice', { secret: 'not-the-secret' }).send(new DescribeKeyCommand({ KeyId: keyId })));
    expect(error.name).toBe('InvalidSignatureException');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    expect(await audited('DescribeKey', 'InvalidSignatureException')).toMatchObject({ outcome: 'failure', principal: null });
  });

  it('an unknown access key: UnrecognizedClientException, audited', async () => {
    const error = await rejection(f.client('alice', { accessKeyId: 'AKIANOBODY000000000' }).send(new ListKeysCommand({})));
    expect(error.name).toBe('UnrecognizedClientException');
    expect(await audited('ListKeys', 'UnrecognizedClientException')).toBeDefined();
  });

  it('an unsigned request: MissingAuthenticationTokenException, audited', async () => {
    const r = await f.raw('Encrypt', { KeyId: keyId, Plaintext: Buffer.from(SECRET_PLAINTEXT).toString('base64') }, { unsigned: true });
    expect(r).toMatchObject({ status: 400, body: { __type: 'MissingAuthenticationTokenException' } });
    expectNoSecrets(r.text);
    expect(await audited('Encrypt', 'MissingAuthenticationTokenException')).toBeDefined();
  });

  it('an expired or future-dated signature: InvalidSignatureException (Signature expired), audited', async () => {
    for (const offset of [-20 * 60_000, 20 * 60_000]) {
      const r = await f.raw('ListKeys', {}, { date: new Date(Date.now() + offset) });
      expect(r).toMatchObject({ status: 400, body: { __type: 'InvalidSignatureException' } });
      expect(r.body.message).toMatch(/Signature expired/);
    }
    // Within the window is fine.
    expect((await f.raw('ListKeys', {}, { date: new Date(Date.now() - 60_000) })).status).toBe(200);
  });

  it('a body, target or key changed after signing: InvalidSignatureException, nothing decrypted, audited', async () => {
    const enc = await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: bytes(SECRET_PLAINTEXT) }));
    const blob = Buffer.from(enc.CiphertextBlob!).toString('base64');
    const body = await f.raw('Decrypt', { CiphertextBlob: blob, KeyId: keyId }, {
      mutate: (r) => (r.body = JSON.stringify({ CiphertextBlob: blob })),
    });
    expect(body).toMatchObject({ status: 400, body: { __type: 'InvalidSignatureException' } });
    expectNoSecrets(body.text);
    const target = await f.raw('DescribeKey', { CiphertextBlob: blob }, {
      mutate: (r) => (r.headers['x-amz-target'] = 'TrentService.Decrypt'),
    });
    expect(target).toMatchObject({ status: 400, body: { __type: 'InvalidSignatureException' } });
    expectNoSecrets(target.text);
    expect(await audited('Decrypt', 'InvalidSignatureException')).toBeDefined();
    // The untouched request works.
    const fine = await f.raw('Decrypt', { CiphertextBlob: blob });
    expect(Buffer.from(fine.body.Plaintext as string, 'base64').toString()).toBe(SECRET_PLAINTEXT);
  });

  it('a replayed request: refused the second time, audited', async () => {
    const r = await f.raw('GenerateRandom', { NumberOfBytes: 16 }, { sendTwice: true });
    expect(r).toMatchObject({ status: 400, body: { __type: 'InvalidSignatureException' } });
    expect(r.body.message).toMatch(/replay/);
    expect(await audited('GenerateRandom', 'InvalidSignatureException')).toBeDefined();
  });

  it('an oversized body: 413 before it is read, audited', async () => {
    const error = await rejection(admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(20_000) })));
    expect(error.name).toBe('ValidationException');
    expect(error.$metadata?.httpStatusCode).toBe(413);
    expect(await audited('Encrypt', 'ValidationException')).toBeDefined();
    // The server still serves the client afterwards.
    await admin.send(new DescribeKeyCommand({ KeyId: keyId }));
  });

  it('a principal without permission on a key: AccessDeniedException, audited with principal and key', async () => {
    const alice = f.client('alice');
    const enc = await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: bytes(SECRET_PLAINTEXT) }));
    for (const command of [
      new EncryptCommand({ KeyId: keyId, Plaintext: bytes('x') }),
      new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }),
      new DescribeKeyCommand({ KeyId: keyId }),
    ]) {
      const error = await rejection(alice.send(command as never));
      expect(error.name).toBe('AccessDeniedException');
      expect(error.message).not.toContain(SECRET_PLAINTEXT);
    }
    const record = await audited('Decrypt', 'AccessDeniedException');
    expect(record).toMatchObject({ principal: 'alice', keyId, outcome: 'failure' });
    // Nor may alice grant herself access.
    const grab = await rejection(alice.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: '{"Statement":[]}' })));
    expect(grab.name).toBe('AccessDeniedException');
  });

  it('a key created by a principal is its creator\'s (and the admin\'s), not anyone else\'s', async () => {
    const alice = f.client('alice');
    const bob = f.client('bob');
    const own = (await alice.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const enc = await alice.send(new EncryptCommand({ KeyId: own, Plaintext: bytes('mine') }));
    expect(Buffer.from((await admin.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!).toString()).toBe('mine');
    expect((await rejection(bob.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))).name).toBe('AccessDeniedException');
    const created = (await f.kms.auditLog({ keyId: own })).find((r) => r.operation === 'CreateKey');
    expect(created?.principal).toBe('alice');
  });

  it('encryption-context conditions: the wrong or a missing context is AccessDeniedException; Deny wins', async () => {
    const id = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await admin.send(new PutKeyPolicyCommand({
      KeyId: id,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: ['alice'] }, Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*',
            Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'acme' } } },
          { Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:stage': 'locked' } } },
        ],
      }),
    }));
    const alice = f.client('alice');
    const enc = await alice.send(new EncryptCommand({ KeyId: id, Plaintext: bytes(SECRET_PLAINTEXT), EncryptionContext: { tenant: 'acme' } }));
    expect(Buffer.from((await alice.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { tenant: 'acme' } }))).Plaintext!).toString())
      .toBe(SECRET_PLAINTEXT);
    await alice.send(new GenerateDataKeyCommand({ KeyId: id, KeySpec: 'AES_256', EncryptionContext: { tenant: 'acme' } }));
    for (const context of [{ tenant: 'evil' }, {}]) {
      const error = await rejection(alice.send(new EncryptCommand({ KeyId: id, Plaintext: bytes('x'), EncryptionContext: context })));
      expect(error.name).toBe('AccessDeniedException');
    }
    const locked = await alice.send(new EncryptCommand({ KeyId: id, Plaintext: bytes(SECRET_PLAINTEXT), EncryptionContext: { tenant: 'acme', stage: 'locked' } }));
    const denied = await rejection(alice.send(new DecryptCommand({ CiphertextBlob: locked.CiphertextBlob, EncryptionContext: { tenant: 'acme', stage: 'locked' } })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).not.toContain('locked');
    const record = await audited('Decrypt', 'AccessDeniedException');
    expect(record).toMatchObject({ principal: 'alice', keyId: id });
    expect(record!.contextKeys.sort()).toEqual(['stage', 'tenant']);
    expect((await rejection(f.client('bob').send(new EncryptCommand({ KeyId: id, Plaintext: bytes('x'), EncryptionContext: { tenant: 'acme' } })))).name)
      .toBe('AccessDeniedException');
  });

  it('algorithm conditions: kms:SigningAlgorithm, kms:MessageType, kms:MacAlgorithm and kms:EncryptionAlgorithm (defaulted as AWS does)', async () => {
    const grant = async (keyId: string, statement: Record<string, unknown>) =>
      admin.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: ['alice'] }, Resource: '*', ...statement }] }) }));
    const alice = f.client('alice');
    const denied = async (call: Promise<unknown>) => expect((await rejection(call)).name).toBe('AccessDeniedException');

    const signer = (await admin.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    await grant(signer, { Action: 'kms:Sign', Condition: { StringEquals: { 'kms:SigningAlgorithm': 'RSASSA_PSS_SHA_256', 'kms:MessageType': 'RAW' } } });
    const digest = new Uint8Array(32);
    await alice.send(new SignCommand({ KeyId: signer, Message: bytes('doc'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }));
    await denied(alice.send(new SignCommand({ KeyId: signer, Message: bytes('doc'), SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' })));
    await denied(alice.send(new SignCommand({ KeyId: signer, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PSS_SHA_256' })));

    const mac = (await admin.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!;
    await grant(mac, { Action: 'kms:GenerateMac', Condition: { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } } });
    expect((await alice.send(new GenerateMacCommand({ KeyId: mac, Message: bytes('m'), MacAlgorithm: 'HMAC_SHA_256' }))).Mac).toHaveLength(32);
    // Refused by the policy before the key is asked (which would say InvalidKeyUsageException).
    await denied(alice.send(new GenerateMacCommand({ KeyId: mac, Message: bytes('m'), MacAlgorithm: 'HMAC_SHA_512' })));

    const symmetric = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await grant(symmetric, { Action: 'kms:Encrypt', Condition: { StringEquals: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' } } });
    await alice.send(new EncryptCommand({ KeyId: symmetric, Plaintext: bytes('x') })); // absent: SYMMETRIC_DEFAULT
    await grant(symmetric, { Action: 'kms:Encrypt', Condition: { StringEquals: { 'kms:EncryptionAlgorithm': 'RSAES_OAEP_SHA_256' } } });
    await denied(alice.send(new EncryptCommand({ KeyId: symmetric, Plaintext: bytes('x') })));

    // Condition keys outside the grammar are still refused.
    const malformed = await rejection(grant(symmetric, { Action: 'kms:Encrypt', Condition: { StringEquals: { 'kms:GrantIsForAWSResource': 'true' } } }));
    expect(malformed.name).toBe('MalformedPolicyDocumentException');
  });

  it('kms:KeySpec and kms:KeyUsage: the key\'s in key policies, the request\'s (with its defaults) for CreateKey in the account policy', async () => {
    const alice = f.client('alice');
    const mac = (await admin.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!;
    await admin.send(new PutKeyPolicyCommand({
      KeyId: mac,
      Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: ['alice'] }, Action: 'kms:*', Resource: '*',
        Condition: { StringLike: { 'kms:KeySpec': 'HMAC_*' }, StringEquals: { 'kms:KeyUsage': 'GENERATE_VERIFY_MAC' } } }] }),
    }));
    await alice.send(new GenerateMacCommand({ KeyId: mac, Message: bytes('m'), MacAlgorithm: 'HMAC_SHA_256' }));
    await admin.send(new PutKeyPolicyCommand({
      KeyId: mac,
      Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: ['alice'] }, Action: 'kms:*', Resource: '*',
        Condition: { StringEquals: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT' } } }] }),
    }));
    expect((await rejection(alice.send(new GenerateMacCommand({ KeyId: mac, Message: bytes('m'), MacAlgorithm: 'HMAC_SHA_256' })))).name)
      .toBe('AccessDeniedException');

    // A server whose account policy lets everyone create HMAC keys only.
    const own = await startServer('soft', {
      accountPolicy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:CreateKey', Resource: '*',
        Condition: { StringLike: { 'kms:KeySpec': 'HMAC_*' } } }] }),
    });
    try {
      const bob = own.client('bob');
      const made = await bob.send(new CreateKeyCommand({ KeySpec: 'HMAC_384', KeyUsage: 'GENERATE_VERIFY_MAC' }));
      expect(made.KeyMetadata).toMatchObject({ KeySpec: 'HMAC_384' });
      // No KeySpec: SYMMETRIC_DEFAULT for the condition, as in AWS.
      expect((await rejection(bob.send(new CreateKeyCommand({})))).name).toBe('AccessDeniedException');
      expect((await rejection(bob.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' })))).name).toBe('AccessDeniedException');
    } finally {
      await own.close();
    }
  });

  it('health, readiness and Prometheus metrics; request logs carry no secrets', async () => {
    const get = async (p: string) => {
      const res = await fetch(`${f.url}${p}`);
      return { status: res.status, text: await res.text() };
    };
    expect(await get('/healthz')).toMatchObject({ status: 200 });
    expect(await get('/readyz')).toMatchObject({ status: 200 });
    const metrics = (await get('/metrics')).text;
    expect(metrics).toMatch(/hsmkms_requests_total\{operation="Encrypt",outcome="success"\} \d+/);
    expect(metrics).toMatch(/hsmkms_request_duration_seconds_bucket\{operation="Encrypt",le="\+Inf"\} \d+/);
    expect(metrics).toMatch(/hsmkms_refusals_total\{type="AccessDeniedException"\} \d+/);
    expect(metrics).toMatch(/hsmkms_signing_key_cache_total\{result="hit"\} [1-9]/);
    expect(metrics).toContain('hsmkms_hsm_errors_total');
    const logs = JSON.stringify(f.logs);
    expectNoSecrets(logs);
    expect(f.logs.some((e) => e.operation === 'Decrypt' && e.principal === 'alice' && e.errorType === 'AccessDeniedException')).toBe(true);
  });
});

describe('rate limits and credential reload', () => {
  it('refuses a principal over its rate with ThrottlingException (audited), other principals unaffected', async () => {
    const f = await startServer('soft', { rateLimit: 5 });
    try {
      const alice = f.client('alice');
      const results = await Promise.allSettled(Array.from({ length: 12 }, () => alice.send(new ListKeysCommand({}))));
      const throttled = results.filter((r) => r.status === 'rejected' && (r.reason as Error).name === 'ThrottlingException');
      expect(throttled.length).toBeGreaterThan(0);
      expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(5);
      await f.client('bob').send(new ListKeysCommand({}));
      const trail = await f.kms.auditLog({ limit: 1000 });
      expect(trail.some((r) => r.errorCode === 'ThrottlingException' && r.principal === 'alice')).toBe(true);
    } finally {
      await f.close();
    }
  });

  it('reloads the credentials file: new principals work, removed ones are refused', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-creds-'));
    const file = path.join(dir, 'credentials');
    const ini = (names: (keyof typeof PRINCIPALS)[]) =>
      names.map((n) => `[${n}]\naws_access_key_id = ${PRINCIPALS[n].accessKeyId}\naws_secret_access_key = ${PRINCIPALS[n].secretAccessKey}\n`).join('\n');
    writeFileSync(file, ini(['admin', 'alice']));
    const f = await startServer('soft', { credentials: file });
    try {
      await f.client('alice').send(new ListKeysCommand({}));
      expect((await rejection(f.client('bob').send(new ListKeysCommand({})))).name).toBe('UnrecognizedClientException');
      writeFileSync(file, ini(['admin', 'bob']));
      await f.server.reloadCredentials();
      await f.client('bob').send(new ListKeysCommand({}));
      expect((await rejection(f.client('alice').send(new ListKeysCommand({})))).name).toBe('UnrecognizedClientException');
      // A broken file keeps what was loaded.
      writeFileSync(file, 'not an ini file');
      await expect(f.server.reloadCredentials()).rejects.toMatchObject({ code: 'ValidationException' });
      await f.client('bob').send(new ListKeysCommand({}));
    } finally {
      await f.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses the configured region in the signing scope: another region is refused', async () => {
    const f = await startServer('soft');
    try {
      const wrong = new KMSClient({ endpoint: f.url, region: 'us-west-2', maxAttempts: 1, credentials: PRINCIPALS.admin });
      const error = await rejection(wrong.send(new ListKeysCommand({})));
      expect(error.name).toBe('InvalidSignatureException');
      wrong.destroy();
      expect(REGION).toBe('eu-test-1');
    } finally {
      await f.close();
    }
  });
});
