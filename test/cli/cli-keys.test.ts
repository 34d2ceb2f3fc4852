// The key-management commands of `hsmkms`, end to end through real
// processes on the embedded default: init, the key lifecycle, aliases,
// rotation, data keys, random, audit, --json output, and error exits.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, makeWorkspace } from './cli-harness.js';

const ws = makeWorkspace();
afterAll(() => ws.remove());

describe('hsmkms key commands', () => {
  let keyId: string;

  beforeAll(async () => {
    const init = await ws.cli(['init', '--json']);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(json(init)).toMatchObject({ rootOfTrust: { kind: 'soft', isHsm: false }, domainKeys: [{ version: 1, state: 'active' }] });
  });

  it('init records the root in a 0600 config.json and never the PIN; the soft root says it is not an HSM', async () => {
    const config = path.join(ws.dir, 'config.json');
    expect(JSON.parse(readFileSync(config, 'utf8'))).toEqual({ root: 'soft' });
    expect(statSync(config).mode & 0o777).toBe(0o600);
    const described = await ws.cli(['describe']);
    expect(described.code).toBe(0);
    expect(described.stdout.toString()).toContain('NOT an HSM');
    expect(described.stdout.toString()).toMatch(/domain key v1 \(active, wraps new keys\)/);
  });

  it('create-key --json prints the keyMetadata; describe-key, list-keys and text output agree', async () => {
    const created = await ws.cli(['create-key', '--description', 'cli key', '--tag', 'team=payments', '--json']);
    expect(created.code).toBe(0);
    const metadata = json<{ keyId: string; keyState: string; keySpec: string; description: string }>(created);
    expect(metadata).toMatchObject({ keyState: 'Enabled', keySpec: 'SYMMETRIC_DEFAULT', description: 'cli key' });
    keyId = metadata.keyId;
    const described = await ws.cli(['describe-key', '--key-id', keyId, '--json']);
    expect(json(described)).toMatchObject({ keyId, keyState: 'Enabled' });
    const listed = await ws.cli(['list-keys']);
    expect(listed.stdout.toString()).toMatch(new RegExp(`${keyId}\\s+Enabled\\s+SYMMETRIC_DEFAULT\\s+ENCRYPT_DECRYPT\\s+cli key`));
    const signing = json(await ws.cli(['create-key', '--key-spec', 'ECC_NIST_P256', '--json']));
    expect(signing).toMatchObject({ keyUsage: 'SIGN_VERIFY' });
    const mac = json(await ws.cli(['create-key', '--key-spec', 'HMAC_384', '--json']));
    expect(mac).toMatchObject({ keySpec: 'HMAC_384', keyUsage: 'GENERATE_VERIFY_MAC', macAlgorithms: ['HMAC_SHA_384'] });
  });

  it('disable-key / enable-key, schedule-deletion / cancel-deletion change the key state', async () => {
    expect(json(await ws.cli(['disable-key', '--key-id', keyId, '--json']))).toMatchObject({ keyState: 'Disabled' });
    const refused = await ws.cli(['data-key', '--key-id', keyId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^hsmkms: DisabledException: .+\n$/);
    expect(json(await ws.cli(['enable-key', '--key-id', keyId, '--json']))).toMatchObject({ keyState: 'Enabled' });
    const doomed = json<{ keyId: string }>(await ws.cli(['create-key', '--json'])).keyId;
    expect(json(await ws.cli(['schedule-deletion', '--key-id', doomed, '--days', '7', '--json']))).toMatchObject({
      keyState: 'PendingDeletion',
      pendingWindowInDays: 7,
    });
    await ws.cli(['cancel-deletion', '--key-id', doomed]);
    expect(json(await ws.cli(['describe-key', '--key-id', doomed, '--json']))).toMatchObject({ keyState: 'Disabled' });
  });

  it('alias create / update / list / delete, and keys used through their alias', async () => {
    expect((await ws.cli(['alias', 'create', 'alias/cli-test', '--key-id', keyId])).code).toBe(0);
    const other = json<{ keyId: string }>(await ws.cli(['create-key', '--json'])).keyId;
    expect((await ws.cli(['alias', 'update', 'alias/cli-test', '--key-id', other])).code).toBe(0);
    const listed = json<{ aliasName: string; targetKeyId: string }[]>(await ws.cli(['alias', 'list', '--json']));
    expect(listed).toContainEqual(expect.objectContaining({ aliasName: 'alias/cli-test', targetKeyId: other }));
    expect(json(await ws.cli(['describe-key', '--key-id', 'alias/cli-test', '--json']))).toMatchObject({ keyId: other });
    expect((await ws.cli(['alias', 'delete', 'alias/cli-test'])).code).toBe(0);
    const gone = await ws.cli(['describe-key', '--key-id', 'alias/cli-test']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^hsmkms: NotFoundException: /);
  });

  it('rotate on demand, automatic rotation on and off, status with history; rotate-domain-key', async () => {
    expect(json(await ws.cli(['rotate', '--key-id', keyId, '--json']))).toMatchObject({ keyVersion: 2 });
    const enabled = json<{ keyRotationEnabled: boolean; rotationPeriodInDays: number; rotations: unknown[] }>(
      await ws.cli(['rotate', '--key-id', keyId, '--enable', '--period', '120', '--json']),
    );
    expect(enabled).toMatchObject({ keyRotationEnabled: true, rotationPeriodInDays: 120 });
    expect(enabled.rotations).toHaveLength(1);
    expect(json(await ws.cli(['rotate', '--key-id', keyId, '--disable', '--json']))).toMatchObject({ keyRotationEnabled: false });
    const both = await ws.cli(['rotate', '--key-id', keyId, '--enable', '--disable']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^hsmkms: ValidationException: Choose one/);
    expect(json(await ws.cli(['rotate-domain-key', '--json']))).toEqual({ domainKeyVersion: 2 });
    const described = json<{ domainKeys: { version: number; state: string; cmkVersions: number }[] }>(await ws.cli(['describe', '--json']));
    expect(described.domainKeys.find((d) => d.version === 1)).toMatchObject({ state: 'retired', cmkVersions: 0 });
  });

  it('data-key and random print base64 JSON; random --encoding raw writes raw bytes', async () => {
    const dk = json<{ plaintext: string; ciphertextBlob: string }>(await ws.cli(['data-key', '--key-id', keyId, '--context', 'app=cli', '--json']));
    expect(Buffer.from(dk.plaintext, 'base64')).toHaveLength(32);
    const bare = json<Record<string, unknown>>(await ws.cli(['data-key', '--key-id', keyId, '--bytes', '16', '--without-plaintext', '--json']));
    expect(bare).not.toHaveProperty('plaintext');
    const raw = await ws.cli(['random', '--bytes', '48', '--encoding', 'raw']);
    expect(raw.stdout).toHaveLength(48);
    const hex = await ws.cli(['random', '--bytes', '8']);
    expect(hex.stdout.toString()).toMatch(/^[0-9a-f]{16}\n$/);
    expect((await ws.cli(['random', '--bytes', '2000'])).stderr).toMatch(/^hsmkms: ValidationException: /);
  });

  it('audit lists what was done, refusals included, without context values', async () => {
    const records = json<{ operation: string; outcome: string; errorCode: string | null; contextKeys: string[] }[]>(
      await ws.cli(['audit', '--since', '1h', '--key-id', keyId, '--json']),
    );
    expect(records.some((r) => r.operation === 'GenerateDataKey' && r.outcome === 'failure' && r.errorCode === 'DisabledException')).toBe(true);
    expect(records.some((r) => r.operation === 'GenerateDataKey' && r.contextKeys.includes('app'))).toBe(true);
    expect(JSON.stringify(records)).not.toContain('cli"'); // the context value "cli"
  });

  it('errors: one line on stderr with the code and a non-zero exit; usage mistakes exit 2; nothing on stdout', async () => {
    for (const [args, code, pattern] of [
      [['describe-key', '--key-id', '00000000-0000-0000-0000-000000000000'], 1, /^hsmkms: NotFoundException: /],
      [['describe-key'], 2, /^hsmkms: ValidationException: .*--key-id/],
      [['no-such-command'], 2, /^hsmkms: ValidationException: unknown command/],
      [['schedule-deletion', '--key-id', keyId, '--days', '3'], 1, /^hsmkms: ValidationException: /],
      [['--pkcs11-module', '/nonexistent/module.so', '--token-label', 'x', 'list-keys'], 2, /^hsmkms: ValidationException: .*PIN/],
    ] as const) {
      const result = await ws.cli([...args]);
      expect(result.code, args.join(' ')).toBe(code);
      expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(result.stderr).toMatch(pattern);
      expect(result.stdout).toHaveLength(0);
    }
  });

  it('a PIN from --pin-file is never echoed, even when the module cannot load', async () => {
    const pinFile = path.join(ws.base, 'pin');
    writeFileSync(pinFile, 'secret-pin-4711\n', { mode: 0o600 });
    const result = await ws.cli(['--pkcs11-module', '/nonexistent/module.so', '--token-label', 'x', '--pin-file', pinFile, 'list-keys']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^hsmkms: \w+: /);
    expect(result.stderr + result.stdout.toString()).not.toContain('secret-pin-4711');
    expect(existsSync(path.join(ws.dir, 'config.json'))).toBe(true);
  });
});
