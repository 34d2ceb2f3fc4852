// The server under real clients: a bounded load of concurrent SDK clients,
// the AWS Encryption SDK's KmsKeyringNode, and `hsmkms serve` in a child
// process (ready line, SDK calls, SIGHUP reload, graceful SIGTERM).
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMS, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope, KmsKeyring } from '../../dist/index.js';
import { PRINCIPALS, REGION, startServer, type ServerFixture } from './server-harness.js';

describe('concurrent SDK clients and the Encryption SDK', () => {
  let f: ServerFixture;
  let keyArn: string;

  beforeAll(async () => {
    f = await startServer('soft');
    keyArn = (await f.client('admin').send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
  });

  afterAll(async () => {
    await f.close();
  });

  it('32 concurrent keep-alive clients x 25 encrypt+decrypt round trips: no errors', async () => {
    const CLIENTS = 32;
    const ROUNDS = 25;
    const clients = Array.from({ length: CLIENTS }, () => f.client('admin'));
    let done = 0;
    await Promise.all(clients.map(async (client, c) => {
      for (let i = 0; i < ROUNDS; i++) {
        const plaintext = new Uint8Array(32).fill((c * ROUNDS + i) & 0xff);
        const context = { client: String(c), round: String(i) };
        const enc = await client.send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext, EncryptionContext: context }));
        const dec = await client.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context }));
        expect(Buffer.from(dec.Plaintext!).equals(Buffer.from(plaintext))).toBe(true);
        done++;
      }
    }));
    expect(done).toBe(CLIENTS * ROUNDS);
    const metrics = await (await fetch(`${f.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`hsmkms_requests_total\\{operation="Encrypt",outcome="success"\\} ${CLIENTS * ROUNDS}`));
    expect(metrics).not.toMatch(/outcome="(?!success)[^"]+"\} [1-9]/);
  });

  it('KmsKeyringNode (@aws-crypto/client-node) with a client provider pointed at the server encrypts and decrypts', async () => {
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const made: KMS[] = [];
    const clientProvider = (region: string) => {
      expect(region).toBe(REGION);
      const client = new KMS({ endpoint: f.url, region, maxAttempts: 1, credentials: PRINCIPALS.admin });
      made.push(client);
      return client;
    };
    const keyring = new KmsKeyringNode({ generatorKeyId: keyArn, clientProvider });
    const message = Buffer.from('a message for the Encryption SDK, '.repeat(100));
    const { result } = await encrypt(keyring, message, { encryptionContext: { purpose: 'test' } });
    const { plaintext, messageHeader } = await decrypt(keyring, result);
    expect(Buffer.from(plaintext).equals(message)).toBe(true);
    expect(messageHeader.encryptionContext).toMatchObject({ purpose: 'test' });
    expect(messageHeader.encryptedDataKeys[0]!.providerInfo).toBe(keyArn);
    for (const client of made) client.destroy();
    // hsmkms's own envelope code reads the same message with its KmsKeyring, straight on the Kms behind the server.
    const ours = await envelope.decrypt(result, { keyring: new KmsKeyring({ kms: f.kms, keyId: keyArn }), encryptionContext: { purpose: 'test' } });
    expect(Buffer.from(ours.plaintext).equals(message)).toBe(true);
    expect(ours.header.encryptedDataKeys[0]).toMatchObject({ providerId: 'aws-kms', providerInfo: keyArn });
  });
});

describe('hsmkms serve (runServe in a child process)', () => {
  it('prints a ready line, serves the SDK, reloads credentials on SIGHUP and stops gracefully on SIGTERM', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-serve-'));
    const credentials = path.join(dir, 'credentials');
    const ini = (names: (keyof typeof PRINCIPALS)[]) =>
      names.map((n) => `[${n}]\naws_access_key_id = ${PRINCIPALS[n].accessKeyId}\naws_secret_access_key = ${PRINCIPALS[n].secretAccessKey}\n`).join('\n');
    writeFileSync(credentials, ini(['admin']));
    const child = spawn(process.execPath, [
      path.join(__dirname, '..', 'fixtures', 'serve-child.cjs'),
      '--listen', '127.0.0.1:0', '--credentials', credentials, '--admin', 'admin', '--dir', path.join(dir, 'kms'),
      '--region', REGION, '--account', '123456789012', '--rate-limit', '1000', '--max-body-bytes', '32768',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const waitFor = (pattern: RegExp) => new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(stdout);
        if (match) resolve(match[0]);
      };
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        check();
      });
      void exited.then(() => reject(new Error(`serve exited: ${stderr}`)));
      check();
    });
    try {
      const ready = JSON.parse(await waitFor(/\{"event":"listening"[^\n]*\}/)) as { url: string };
      const client = new KMSClient({ endpoint: ready.url, region: REGION, maxAttempts: 1, credentials: PRINCIPALS.admin });
      const { KeyMetadata } = await client.send(new CreateKeyCommand({}));
      expect(KeyMetadata!.Arn).toBe(`arn:aws:kms:${REGION}:123456789012:key/${KeyMetadata!.KeyId}`);
      writeFileSync(credentials, ini(['admin', 'bob']));
      child.kill('SIGHUP');
      await waitFor(/credentials-reloaded/);
      const bob = new KMSClient({ endpoint: ready.url, region: REGION, maxAttempts: 1, credentials: PRINCIPALS.bob });
      await bob.send(new ListKeysCommand({}));
      await client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: new Uint8Array(32) }));
      // A slow request (RSA-4096 key generation) in flight when SIGTERM arrives: it completes, then the server stops.
      const inFlight = client.send(new CreateKeyCommand({ KeySpec: 'RSA_4096', KeyUsage: 'SIGN_VERIFY' }));
      await new Promise((resolve) => setTimeout(resolve, 100));
      child.kill('SIGTERM');
      expect((await inFlight).KeyMetadata!.KeySpec).toBe('RSA_4096');
      expect(await exited).toBe(0);
      expect(stdout).toMatch(/"event":"stopped"/);
      expect(stdout).toMatch(/"operation":"Encrypt"[^\n]*"status":200/);
      expect(stdout).not.toContain(PRINCIPALS.admin.secretAccessKey);
      client.destroy();
      bob.destroy();
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
