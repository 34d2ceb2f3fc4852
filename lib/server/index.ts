/** The AWS-KMS-compatible HTTP server (see kms-server.ts). */
export { createServer, KmsServer } from './kms-server.js';
export type { ServerOptions } from './server-options.js';
export type { RequestLogEntry, RequestLogger } from './request-log.js';
export type { Credential } from './sigv4.js';
