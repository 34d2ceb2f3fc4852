/** Options of {@link createServer}, and their defaults. */
import type { Credential } from './sigv4.js';
import type { RequestLogger } from './request-log.js';

export interface ServerOptions {
  /** Address to listen on (default `127.0.0.1`: loopback only). */
  host?: string;
  /** Port (default 0: any free port; see `KmsServer.url`). */
  port?: number;
  /** TLS: PEM certificate and key, as file paths or contents. Plain HTTP without. */
  tls?: { cert: string | Uint8Array; key: string | Uint8Array };
  /** The principals: a shared-credentials file (reloaded when it changes) or a list. */
  credentials: string | readonly Credential[];
  /** The principal (profile name) that may do everything. */
  admin?: string;
  /** The SigV4 region (default: the region of the Kms's ARNs). */
  region?: string;
  /** How far a request's X-Amz-Date may be from the server clock (ms, default 300000). */
  clockSkewMs?: number;
  /** Largest request body (bytes, default 65536: AWS's largest KMS request is far smaller). */
  maxBodyBytes?: number;
  /** Requests per second per principal, bursts of the same size (default 0: unlimited). */
  rateLimit?: number;
  /** Reject a signature seen before within the clock-skew window (default true). */
  rejectReplays?: boolean;
  /** Policy document for operations that name no key (default: any principal may CreateKey, ListKeys, ListAliases, GenerateRandom). */
  accountPolicy?: string;
  /** Request logs (JSON lines to a stream, or objects to a function). */
  logger?: RequestLogger;
  /** How long close() waits for in-flight requests before cutting connections (ms, default 10000). */
  shutdownTimeoutMs?: number;
  /** Close the Kms after the server has closed (default false: the caller owns it). */
  closeKms?: boolean;
  /** Serve GET /metrics (default true). */
  metrics?: boolean;
}
