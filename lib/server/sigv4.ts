/**
 * AWS Signature Version 4 verification (header form, as the AWS SDKs sign):
 * rebuild the canonical request from what arrived, derive the signing key,
 * compare signatures in constant time. The derived key depends only on the
 * secret, the day, the region and the service, so it is cached per access
 * key and scope: a request costs two SHA-256 and one HMAC.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { invalidSignature, missingAuthentication, unrecognizedClient } from './aws-errors.js';

/** A principal's credentials. */
export interface Credential {
  principal: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Finds credentials by access key id. */
export type CredentialLookup = (accessKeyId: string) => Credential | undefined;

/** What verification needs of a request. */
export interface SignedRequest {
  method: string;
  /** The request target as received (path and query, still percent-encoded). */
  url: string;
  /** Node's `rawHeaders`: name, value, name, value... */
  rawHeaders: readonly string[];
  body: Buffer;
}

/** A verified request. */
export interface Verified {
  principal: string;
  accessKeyId: string;
  /** The hex signature (for the replay cache). */
  signature: string;
  /** The request's time (X-Amz-Date). */
  time: number;
}

export interface VerifierOptions {
  region: string;
  service?: string;
  /** How far X-Amz-Date may be from the server clock (ms, default 5 minutes). */
  clockSkewMs?: number;
  now?: () => number;
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function headerMap(rawHeaders: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!.trim().replace(/\s+/g, ' ');
    const previous = map.get(name);
    map.set(name, previous === undefined ? value : `${previous},${value}`);
  }
  return map;
}

/** RFC 3986 encoding as SigV4 wants it (unreserved characters kept). */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const [k, v] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
      return [uriEncode(decodeURIComponent(k)), uriEncode(decodeURIComponent(v))] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** Non-S3 services sign the path encoded once more (each segment). */
function canonicalPath(path: string): string {
  return path === '/' ? '/' : path.split('/').map((segment) => uriEncode(segment)).join('/');
}

function parseAmzDate(value: string | undefined): number {
  const m = value === undefined ? null : AMZ_DATE.exec(value);
  if (m === null) throw invalidSignature('X-Amz-Date must be an ISO 8601 basic-format UTC time');
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/** Verifies SigV4 signatures against a credential lookup, with a signing-key cache. */
export class SigV4Verifier {
  readonly #region: string;
  readonly #service: string;
  readonly #skewMs: number;
  readonly #now: () => number;
  /** `${accessKeyId}/${day}/${region}/${service}` -> derived key; the secret is part of the entry so a rotated secret misses. */
  readonly #keys = new Map<string, { secret: string; key: Buffer }>();
  cacheHits = 0;
  cacheMisses = 0;

  constructor(options: VerifierOptions) {
    this.#region = options.region;
    this.#service = options.service ?? 'kms';
    this.#skewMs = options.clockSkewMs ?? 300_000;
    this.#now = options.now ?? Date.now;
  }

  /** Drops every derived key (on credential reload). */
  clearCache(): void {
    this.#keys.clear();
  }

  #signingKey(credential: Credential, day: string): Buffer {
    const id = `${credential.accessKeyId}/${day}/${this.#region}/${this.#service}`;
    const cached = this.#keys.get(id);
    if (cached !== undefined && cached.secret === credential.secretAccessKey) {
      this.cacheHits++;
      return cached.key;
    }
    this.cacheMisses++;
    const kDate = createHmac('sha256', `AWS4${credential.secretAccessKey}`).update(day).digest();
    const kRegion = createHmac('sha256', kDate).update(this.#region).digest();
    const kService = createHmac('sha256', kRegion).update(this.#service).digest();
    const key = createHmac('sha256', kService).update('aws4_request').digest();
    // Days roll over: a small map is enough; start afresh rather than track ages.
    if (this.#keys.size >= 10_000) this.#keys.clear();
    this.#keys.set(id, { secret: credential.secretAccessKey, key });
    return key;
  }

  /**
   * Verifies a request. Throws MissingAuthenticationTokenException (no
   * Authorization), UnrecognizedClientException (unknown access key) or
   * InvalidSignatureException (anything else wrong: scope, time, signature).
   */
  verify(request: SignedRequest, lookup: CredentialLookup): Verified {
    const headers = headerMap(request.rawHeaders);
    const authorization = headers.get('authorization');
    if (authorization === undefined) throw missingAuthentication();
    const auth = AUTH.exec(authorization);
    if (auth === null) throw invalidSignature('The Authorization header is not a well-formed AWS4-HMAC-SHA256 signature');
    const [, accessKeyId, day, region, service, signedHeaderList, signature] = auth as unknown as string[];
    const credential = lookup(accessKeyId!);
    if (credential === undefined) throw unrecognizedClient();
    if (service !== this.#service) throw invalidSignature(`Credential should be scoped to correct service: '${this.#service}'.`);
    if (region !== this.#region) throw invalidSignature(`Credential should be scoped to a valid region, not '${region!.slice(0, 64)}'.`);
    const amzDate = headers.get('x-amz-date');
    const time = parseAmzDate(amzDate);
    if (amzDate!.slice(0, 8) !== day) throw invalidSignature('Credential should be scoped to the date of X-Amz-Date');
    const now = this.#now();
    if (Math.abs(now - time) > this.#skewMs) {
      throw invalidSignature(`Signature expired: ${amzDate} is outside the allowed clock skew of ${this.#skewMs / 1000} s`);
    }
    const signed = signedHeaderList!.split(';');
    // Host, date and target must be covered, or a captured request could be re-aimed.
    for (const required of ['host', 'x-amz-date', 'x-amz-target']) {
      if (headers.has(required) && !signed.includes(required)) throw invalidSignature(`SignedHeaders must include ${required}`);
    }
    const bodyHash = sha256Hex(request.body);
    const claimedHash = headers.get('x-amz-content-sha256');
    if (claimedHash !== undefined && claimedHash !== bodyHash) throw invalidSignature('X-Amz-Content-Sha256 does not match the body');
    let canonicalHeaders = '';
    for (const name of signed) {
      const value = headers.get(name);
      if (value === undefined) throw invalidSignature(`Signed header ${name.slice(0, 64)} is missing`);
      canonicalHeaders += `${name}:${value}\n`;
    }
    const q = request.url.indexOf('?');
    const path = q < 0 ? request.url : request.url.slice(0, q);
    const query = q < 0 ? '' : request.url.slice(q + 1);
    let canonicalRequest: string;
    try {
      canonicalRequest = `${request.method}\n${canonicalPath(path)}\n${canonicalQuery(query)}\n${canonicalHeaders}\n${signedHeaderList}\n${bodyHash}`;
    } catch {
      throw invalidSignature('The request target is not well-formed');
    }
    const scope = `${day}/${region}/${service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    const expected = createHmac('sha256', this.#signingKey(credential, day!)).update(stringToSign).digest();
    const given = Buffer.from(signature!, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw invalidSignature(
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      );
    }
    return { principal: credential.principal, accessKeyId: accessKeyId!, signature: signature!, time };
  }
}
