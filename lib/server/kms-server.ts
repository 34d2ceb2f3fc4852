/**
 * The AWS-KMS-compatible HTTP server: JSON 1.1 over HTTP/1.1 (or HTTPS),
 * `POST /` with `X-Amz-Target: TrentService.<Operation>`, SigV4 on every
 * request, key policies, per-principal rate limits, /healthz, /readyz and
 * /metrics, and a graceful close. Every refusal is audited in the Kms trail;
 * served operations are audited by the Kms under the caller's principal.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { KmsError } from '../errors.js';
import { asCaller } from '../kms/caller.js';
import { kmsContext, type Kms } from '../kms/kms.js';
import type { KmsContext } from '../kms/kms-context.js';
import { malformedPolicy, shuttingDown, throttled, toWireError, unknownOperation, type WireError } from './aws-errors.js';
import { Authorizer, Denied } from './authorizer.js';
import { CredentialStore } from './credentials.js';
import { Metrics } from './metrics.js';
import { OPERATIONS } from './operations.js';
import { DEFAULT_ACCOUNT_POLICY, defaultKeyPolicy, parsePolicy } from './policy.js';
import { decodeRequest, encodeResponse } from './protocol.js';
import { RateLimiter } from './rate-limiter.js';
import { ReplayCache } from './replay-cache.js';
import { readBody } from './request-body.js';
import { makeLogSink, type RequestLogEntry } from './request-log.js';
import type { ServerOptions } from './server-options.js';
import { SigV4Verifier, type Verified } from './sigv4.js';
import { invalidSignature } from './aws-errors.js';

const JSON_11 = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'TrentService.';

/** Per-request facts for the log and the audit trail. */
interface Exchange {
  requestId: string;
  started: number;
  operation: string;
  principal: string | null;
  accessKeyId: string | null;
  keyId: string | null;
  contextKeys: string[];
  bytesIn: number;
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

function pem(value: string | Uint8Array): string | Buffer {
  if (typeof value !== 'string') return Buffer.from(value);
  return value.includes('-----BEGIN') ? value : readFileSync(value);
}

function claimedAccessKey(request: IncomingMessage): string | null {
  const match = /Credential=([A-Za-z0-9_+=.@-]{1,128})\//.exec(request.headers.authorization ?? '');
  return match?.[1] ?? null;
}

/** A running (or ready to run) KMS server. */
export class KmsServer {
  readonly #kms: Kms;
  readonly #ctx: KmsContext;
  readonly #options: ServerOptions;
  readonly #server: http.Server;
  readonly #credentials: CredentialStore;
  readonly #verifier: SigV4Verifier;
  readonly #authorizer: Authorizer;
  readonly #limiter: RateLimiter;
  readonly #replays: ReplayCache | null;
  readonly #log: (entry: RequestLogEntry) => void;
  readonly #maxBody: number;
  /** The server's counters (also served at GET /metrics). */
  readonly metrics = new Metrics();
  #draining = false;
  #closing: Promise<void> | null = null;
  #idle: (() => void) | null = null;
  readonly #sockets = new Set<Socket>();

  /** @internal Use {@link createServer}. */
  constructor(kms: Kms, ctx: KmsContext, credentials: CredentialStore, options: ServerOptions) {
    this.#kms = kms;
    this.#ctx = ctx;
    this.#options = options;
    this.#credentials = credentials;
    const skew = options.clockSkewMs ?? 300_000;
    this.#verifier = new SigV4Verifier({ region: options.region ?? ctx.arn.region, clockSkewMs: skew });
    this.metrics.signingKeyCache = () => ({ hits: this.#verifier.cacheHits, misses: this.#verifier.cacheMisses });
    this.#authorizer = new Authorizer(ctx, { admin: options.admin ?? null, accountPolicy: parsePolicy(options.accountPolicy ?? DEFAULT_ACCOUNT_POLICY) });
    this.#limiter = new RateLimiter(options.rateLimit ?? 0);
    this.#replays = options.rejectReplays === false ? null : new ReplayCache(skew);
    this.#log = makeLogSink(options.logger);
    this.#maxBody = options.maxBodyBytes ?? 65_536;
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    this.#server = options.tls === undefined
      ? http.createServer({ keepAliveTimeout: 65_000, noDelay: true }, handler)
      : https.createServer({ cert: pem(options.tls.cert), key: pem(options.tls.key), keepAliveTimeout: 65_000, noDelay: true }, handler);
    this.#server.on(options.tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts listening; resolves with the URL clients use (e.g. `http://127.0.0.1:4567`). */
  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port ?? 0, this.#options.host ?? '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve(this.url);
      });
    });
  }

  /** The URL of the listening server. */
  get url(): string {
    const address = this.#server.address() as AddressInfo | null;
    if (address === null) throw new KmsError('KMSInvalidStateException', 'The server is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.#options.tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
  }

  /** Re-reads the credentials file (also done when it changes, and on SIGHUP under `hsmkms serve`). */
  async reloadCredentials(): Promise<void> {
    await this.#credentials.reload();
    this.#verifier.clearCache();
  }

  /**
   * Graceful shutdown: stop accepting, answer /readyz with 503, let in-flight
   * requests finish (up to `shutdownTimeoutMs`, then cut connections), stop
   * watching credentials, and close the Kms if `closeKms` was set.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#draining = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    if (this.metrics.inFlight > 0) {
      const idle = new Promise<void>((resolve) => (this.#idle = resolve));
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.#options.shutdownTimeoutMs ?? 10_000).unref());
      await Promise.race([idle, timeout]);
    }
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    this.#credentials.close();
    if (this.#options.closeKms === true) await this.#kms.close();
  }

  // ---- request handling --------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return this.#plain(res, 200, 'ok\n');
    if (req.method === 'GET' && path === '/readyz') return this.#plain(res, this.#draining ? 503 : 200, this.#draining ? 'draining\n' : 'ready\n');
    if (req.method === 'GET' && path === '/metrics' && this.#options.metrics !== false) {
      res.setHeader('Content-Type', 'text/plain; version=0.0.4');
      return this.#plain(res, 200, this.metrics.render());
    }
    this.metrics.inFlight++;
    try {
      await this.#serveKms(req, res);
    } finally {
      this.metrics.inFlight--;
      if (this.metrics.inFlight === 0 && this.#idle !== null) this.#idle();
    }
  }

  #plain(res: ServerResponse, status: number, body: string): void {
    if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'text/plain');
    res.writeHead(status).end(body);
  }

  async #serveKms(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.headers['x-amz-target'];
    const x: Exchange = {
      requestId: randomUUID(),
      started: performance.now(),
      operation: typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length, TARGET_PREFIX.length + 64) : 'Unknown',
      principal: null,
      accessKeyId: claimedAccessKey(req),
      keyId: null,
      contextKeys: [],
      bytesIn: 0,
    };
    const startedNs = process.hrtime.bigint();
    let verified: Verified | null = null;
    try {
      if (this.#draining) throw shuttingDown();
      if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') throw unknownOperation('Only POST / is served');
      const body = await readBody(req, this.#maxBody);
      x.bytesIn = body.length;
      const t0 = process.hrtime.bigint();
      try {
        verified = this.#verifier.verify({ method: req.method, url: req.url ?? '/', rawHeaders: req.rawHeaders, body }, this.#credentials.lookup);
      } finally {
        this.metrics.sigv4Seconds += seconds(t0);
      }
      if (this.#replays !== null && !this.#replays.admit(verified.signature, verified.time, Date.now())) {
        throw invalidSignature('This signed request was already received (replay)');
      }
      x.principal = verified.principal;
      if (!this.#limiter.take(verified.principal)) throw throttled();
      const spec = OPERATIONS.get(x.operation);
      if (spec === undefined) throw unknownOperation(`Unknown operation ${x.operation}`);
      const t1 = process.hrtime.bigint();
      const { request, blobs } = decodeRequest(body);
      this.metrics.protocolSeconds += seconds(t1);
      if (typeof request.keyId === 'string') x.keyId = request.keyId.slice(0, 256);
      try {
        const result = await asCaller(verified.principal, () => this.#authorizedRun(x, spec, request));
        const t2 = process.hrtime.bigint();
        const text = encodeResponse(result);
        this.metrics.protocolSeconds += seconds(t2);
        this.#send(res, 200, text, x, null, startedNs);
      } finally {
        for (const blob of blobs) blob.fill(0);
      }
    } catch (error) {
      const wire = error instanceof Denied ? toWireError(error.error) : toWireError(error);
      if (error instanceof Denied) x.keyId = error.keyId;
      // Refusals before the Kms ran are audited here; the Kms audits its own failures.
      if (!(error instanceof RanInKms)) {
        this.metrics.refusal(wire.type);
        this.#kms.recordRefusal({ operation: x.operation, keyId: x.keyId, contextKeys: x.contextKeys, errorCode: wire.type, principal: x.principal });
      }
      this.#fail(res, error instanceof RanInKms ? toWireError(error.cause) : wire, x, startedNs, req);
    }
  }

  /** Authorizes, then runs the operation in the Kms (which audits it under the caller's principal). */
  async #authorizedRun(x: Exchange, spec: NonNullable<ReturnType<typeof OPERATIONS.get>>, request: Record<string, unknown>): Promise<unknown> {
    const principal = x.principal!;
    const checks = spec.checks(request);
    for (const check of checks ?? []) if (check.context !== undefined) x.contextKeys = Object.keys(check.context);
    // A key that cannot be found or a malformed blob fails here with the answer the operation would give.
    const keyId = await this.#authorizer.authorize(principal, x.operation, checks, spec.parameters?.(request));
    x.keyId = keyId ?? x.keyId;
    if (x.operation === 'PutKeyPolicy') {
      if (typeof request.policy !== 'string') throw malformedPolicy('Policy must be a string');
      parsePolicy(request.policy);
    }
    let policyForNewKey: string | undefined;
    if (x.operation === 'CreateKey') {
      if (request.policy !== undefined) {
        if (typeof request.policy !== 'string') throw malformedPolicy('Policy must be a string');
        parsePolicy(request.policy);
        policyForNewKey = request.policy;
      } else {
        policyForNewKey = defaultKeyPolicy(principal, this.#ctx.arn.account);
      }
      delete request.policy;
      delete request.bypassPolicyLockoutSafetyCheck;
      delete request.origin;
    }
    let result: unknown;
    try {
      result = await spec.run(this.#kms, request);
    } catch (error) {
      throw new RanInKms(error);
    }
    if (policyForNewKey !== undefined) {
      const keyId = (result as { keyMetadata: { keyId: string } }).keyMetadata.keyId;
      await this.#kms.putKeyPolicy({ keyId, policy: policyForNewKey }).catch((error: unknown) => {
        throw new RanInKms(error);
      });
    }
    if (x.operation === 'PutKeyPolicy' && keyId !== null) this.#authorizer.forget(keyId);
    return result;
  }

  #fail(res: ServerResponse, wire: WireError, x: Exchange, startedNs: bigint, req: IncomingMessage): void {
    if (wire.code === 'KeyUnavailableException' || wire.type === 'KMSInternalException') this.metrics.hsmError(wire.type);
    const body = JSON.stringify({ __type: wire.type, message: wire.message });
    // An oversized body was not read: close the connection rather than drain it.
    if (wire.status === 413) res.setHeader('Connection', 'close');
    this.#send(res, wire.status, body, x, wire.type, startedNs);
    if (wire.status === 413) req.resume();
  }

  #send(res: ServerResponse, status: number, body: string, x: Exchange, errorType: string | null, startedNs: bigint): void {
    const bytes = Buffer.byteLength(body);
    res.setHeader('Content-Type', JSON_11);
    res.setHeader('Content-Length', bytes);
    res.setHeader('x-amzn-RequestId', x.requestId);
    if (this.#draining) res.setHeader('Connection', 'close');
    res.writeHead(status).end(body);
    this.metrics.observe(x.operation, errorType ?? 'success', seconds(startedNs));
    this.#log({
      time: new Date().toISOString(),
      requestId: x.requestId,
      remoteAddress: res.socket?.remoteAddress,
      principal: x.principal,
      accessKeyId: x.accessKeyId,
      operation: x.operation,
      keyId: x.keyId,
      status,
      errorType,
      durationMs: Math.round((performance.now() - x.started) * 1000) / 1000,
      bytesIn: x.bytesIn,
      bytesOut: bytes,
    });
  }
}

/** Marks an error the Kms raised (and audited) itself. */
class RanInKms extends Error {
  constructor(override readonly cause: unknown) {
    super('operation failed');
  }
}

/**
 * Creates the AWS-KMS-compatible HTTP server over an open Kms. Call
 * `listen()` to start it and `close()` to stop it gracefully.
 *
 * @example
 * const server = createServer(kms, { credentials: '/etc/hsmkms/credentials', admin: 'admin' });
 * const url = await server.listen(); // point KMSClient({ endpoint: url }) at it
 */
export function createServer(kms: Kms, options: ServerOptions): KmsServer {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const ctx = kmsContext(kms);
  const credentials = typeof options.credentials === 'string'
    ? CredentialStore.fromFile(options.credentials, { onReload: () => undefined })
    : CredentialStore.fromList(options.credentials);
  if (options.admin !== undefined && !credentials.hasPrincipal(options.admin)) {
    credentials.close();
    throw new KmsError('ValidationException', `The admin principal ${options.admin} has no credentials`);
  }
  return new KmsServer(kms, ctx, credentials, options);
}
