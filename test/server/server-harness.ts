// Shared set-up of the server suites: a Kms (soft root or SoftHSM2 via the KMS
// harness) behind createServer on loopback, three principals (admin, alice,
// bob), SDK clients for each, and a raw SigV4 signer (the SDK's own
// @smithy/signature-v4) for requests the SDK would never send.
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { KMSClient } from '@aws-sdk/client-kms';
import { SignatureV4 } from '@smithy/signature-v4';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServer, Kms, type KmsServer } from '../../dist/index.js';
import { makeToken, type TestToken } from '../pkcs11/softhsm-fixture.js';

process.env.HSMKMS_SILENCE_SOFT_WARNING = '1';

export type RootKind = 'soft' | 'pkcs11';

export const REGION = 'eu-test-1';
export const ACCOUNT = '111122223333';
export const PRINCIPALS = {
  admin: { principal: 'admin', accessKeyId: 'AKIAADMIN0000000001', secretAccessKey: 'admin-secret-0123456789abcdef' },
  alice: { principal: 'alice', accessKeyId: 'AKIAALICE0000000001', secretAccessKey: 'alice-secret-0123456789abcdef' },
  bob: { principal: 'bob', accessKeyId: 'AKIABOB000000000001', secretAccessKey: 'bob-secret-0123456789abcdef' },
} as const;
export type PrincipalName = keyof typeof PRINCIPALS;

/** node:crypto as the signer's hash (the SDK's default is the same algorithm). */
class NodeHash {
  readonly #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: Uint8Array | string) {
    this.#h = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
  }
  update(data: Uint8Array | string): void {
    this.#h.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.#h.digest();
  }
}

export interface ServerFixture {
  kms: Kms;
  server: KmsServer;
  url: string;
  logs: Record<string, unknown>[];
  client(who: PrincipalName, options?: { maxAttempts?: number; secret?: string; accessKeyId?: string }): KMSClient;
  /** Signs (as `who`, at `date`) and sends a raw request; `mutate` may alter it after signing. */
  raw(operation: string, body: unknown, options?: RawOptions): Promise<RawResponse>;
  close(): Promise<void>;
}

export interface RawOptions {
  who?: PrincipalName;
  date?: Date;
  secret?: string;
  unsigned?: boolean;
  /** Changes the request after it was signed (a tampered request). */
  mutate?: (request: { headers: Record<string, string>; body: string }) => void;
  /** Sends the exact same signed request again (a replay). */
  sendTwice?: boolean;
}

export interface RawResponse {
  status: number;
  body: { __type?: string; message?: string } & Record<string, unknown>;
  text: string;
}

function send(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function startServer(kind: RootKind, options: Partial<Parameters<typeof createServer>[1]> = {}): Promise<ServerFixture> {
  const base = mkdtempSync(path.join(os.tmpdir(), `hsmkms-server-${kind}-`));
  let root;
  if (kind === 'soft') {
    root = { soft: { dir: base } };
  } else {
    token ??= makeToken('hsmkms-server-test');
    root = { pkcs11: { module: token.module, tokenLabel: token.label, pin: token.pin } };
  }
  const opened = await Kms.open({ root, store: path.join(base, 'keystore.db'), arn: { region: REGION, account: ACCOUNT }, auditFlushMs: 20 });
  const logs: Record<string, unknown>[] = [];
  const server = createServer(opened, {
    credentials: Object.values(PRINCIPALS),
    admin: 'admin',
    logger: (entry) => logs.push(entry as unknown as Record<string, unknown>),
    ...options,
  });
  const url = await server.listen();
  const clients: KMSClient[] = [];
  return {
    kms: opened,
    server,
    url,
    logs,
    client(who, o = {}) {
      const p = PRINCIPALS[who];
      const c = new KMSClient({
        endpoint: url,
        region: REGION,
        maxAttempts: o.maxAttempts ?? 1,
        credentials: { accessKeyId: o.accessKeyId ?? p.accessKeyId, secretAccessKey: o.secret ?? p.secretAccessKey },
      });
      clients.push(c);
      return c;
    },
    async raw(operation, body, o = {}) {
      const p = PRINCIPALS[o.who ?? 'admin'];
      const host = new URL(url).host;
      const text = JSON.stringify(body);
      let headers: Record<string, string> = {
        host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `TrentService.${operation}`,
      };
      if (o.unsigned !== true) {
        const signer = new SignatureV4({
          service: 'kms',
          region: REGION,
          credentials: { accessKeyId: p.accessKeyId, secretAccessKey: o.secret ?? p.secretAccessKey },
          sha256: NodeHash as never,
        });
        const signed = await signer.sign(
          { method: 'POST', protocol: 'http:', hostname: host.split(':')[0]!, port: Number(host.split(':')[1]), path: '/', headers, body: text } as never,
          { signingDate: o.date ?? new Date() },
        );
        headers = { ...(signed as unknown as { headers: Record<string, string> }).headers };
      }
      const request = { headers, body: text };
      o.mutate?.(request);
      let result = await send(url, request.headers, request.body);
      if (o.sendTwice === true) result = await send(url, request.headers, request.body);
      let parsed: RawResponse['body'] = {};
      try {
        parsed = JSON.parse(result.text) as RawResponse['body'];
      } catch {
        // Not JSON: leave the body empty, the text tells.
      }
      return { status: result.status, body: parsed, text: result.text };
    },
    async close() {
      for (const c of clients) c.destroy();
      await server.close();
      await opened.close();
      rmSync(base, { recursive: true, force: true });
    },
  };
}

let token: TestToken | undefined;

/** Removes the SoftHSM2 token this process made for the server suites. */
/** Awaits an AWS SDK call that must fail; returns its error (with the HTTP status in $metadata). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

export function removeServerToken(): void {
  token?.remove();
  token = undefined;
}
