/**
 * `hsmkms serve`: opens the Kms (the embedded default under `--dir`, or the
 * PKCS#11 token named by the HSMKMS_PKCS11_* variables) and serves the AWS
 * KMS API until SIGINT or SIGTERM, then closes gracefully. SIGHUP reloads
 * the credentials file. The CLI's `serve` subcommand calls {@link runServe}.
 *
 *   --listen HOST:PORT      default 127.0.0.1:4599 (port 0: any free port)
 *   --credentials FILE      AWS shared-credentials file; each profile is a principal
 *   --admin PROFILE         the principal that may do everything
 *   --dir DIR               the embedded default's directory (HSMKMS_DIR, ./.hsmkms)
 *   --region R --account A  the ARNs' region and account (default local / 000000000000)
 *   --tls-cert F --tls-key F  serve HTTPS
 *   --max-body-bytes N      largest request body (default 65536)
 *   --rate-limit N          requests per second per principal (default unlimited)
 *
 * It prints one JSON line `{"event":"listening","url":...}` on stdout when
 * ready, then one JSON line per request.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Kms } from '../kms/kms.js';
import { resolveOptions, type KmsOptions } from '../kms/kms-options.js';
import { invalidArgValue } from '../validate.js';
import { createServer, type KmsServer } from './kms-server.js';
import type { ServerOptions } from './server-options.js';

/** What `hsmkms serve` takes, parsed. */
export interface ServeOptions {
  listen?: string;
  credentials: string;
  admin?: string;
  dir?: string;
  region?: string;
  account?: string;
  tlsCert?: string;
  tlsKey?: string;
  maxBodyBytes?: number;
  rateLimit?: number;
  /** Where the ready line and request logs go (default process.stdout). */
  output?: { write(line: string): unknown };
  /** Install SIGINT/SIGTERM/SIGHUP handlers (default true). */
  handleSignals?: boolean;
  /** The root and store to open instead of those `dir` and the HSMKMS_* variables name (the CLI passes what `hsmkms init` recorded). */
  kms?: Pick<KmsOptions, 'root' | 'store'>;
}

/** A running `hsmkms serve`. */
export interface ServeHandle {
  server: KmsServer;
  kms: Kms;
  url: string;
  /** Stops gracefully (as SIGTERM does). */
  stop(): Promise<void>;
  /** Resolves once stopped. */
  done: Promise<void>;
}

function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw invalidArgValue(flag, 'must be a non-negative integer');
  return n;
}

/** Parses `hsmkms serve` arguments (after the subcommand). */
export function parseServeArgs(argv: string[]): ServeOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      listen: { type: 'string' },
      credentials: { type: 'string' },
      admin: { type: 'string' },
      dir: { type: 'string' },
      region: { type: 'string' },
      account: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'rate-limit': { type: 'string' },
    },
  });
  if (values.credentials === undefined) throw invalidArgValue('--credentials', 'is required (an AWS shared-credentials file)');
  const options: ServeOptions = { credentials: values.credentials };
  if (values.listen !== undefined) options.listen = values.listen;
  if (values.admin !== undefined) options.admin = values.admin;
  if (values.dir !== undefined) options.dir = values.dir;
  if (values.region !== undefined) options.region = values.region;
  if (values.account !== undefined) options.account = values.account;
  if (values['tls-cert'] !== undefined) options.tlsCert = values['tls-cert'];
  if (values['tls-key'] !== undefined) options.tlsKey = values['tls-key'];
  const maxBody = positiveInt('--max-body-bytes', values['max-body-bytes']);
  if (maxBody !== undefined) options.maxBodyBytes = maxBody;
  const rate = positiveInt('--rate-limit', values['rate-limit']);
  if (rate !== undefined) options.rateLimit = rate;
  return options;
}

/** `HOST:PORT`, `[v6]:PORT` or `PORT`. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value) ?? /^()()(\d{1,5})$/.exec(value);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) throw invalidArgValue('--listen', 'must be HOST:PORT');
  return { host: match[1] || match[2] || '127.0.0.1', port };
}

/** Runs `hsmkms serve` with command-line arguments or parsed options; resolves once listening. */
export async function runServe(args: string[] | ServeOptions): Promise<ServeHandle> {
  const options = Array.isArray(args) ? parseServeArgs(args) : args;
  const output = options.output ?? process.stdout;
  const { host, port } = parseListen(options.listen ?? '127.0.0.1:4599');
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw invalidArgValue('--tls-cert', 'and --tls-key go together');
  // --dir stands in for HSMKMS_DIR; the other HSMKMS_* variables keep their meaning.
  const env = options.dir === undefined ? process.env : { ...process.env, HSMKMS_DIR: path.resolve(options.dir) };
  const resolved = options.kms ?? resolveOptions({}, env);
  const kms = await Kms.open({
    ...(resolved.root !== undefined && { root: resolved.root }),
    ...(resolved.store !== undefined && { store: resolved.store }),
    arn: { ...(options.region !== undefined && { region: options.region }), ...(options.account !== undefined && { account: options.account }) },
  });
  let server: KmsServer;
  try {
    const serverOptions: ServerOptions = {
      host,
      port,
      credentials: options.credentials,
      closeKms: true,
      logger: output,
      ...(options.admin !== undefined && { admin: options.admin }),
      ...(options.maxBodyBytes !== undefined && { maxBodyBytes: options.maxBodyBytes }),
      ...(options.rateLimit !== undefined && { rateLimit: options.rateLimit }),
      ...(options.tlsCert !== undefined && options.tlsKey !== undefined && { tls: { cert: options.tlsCert, key: options.tlsKey } }),
    };
    server = createServer(kms, serverOptions);
    await server.listen();
  } catch (error) {
    await kms.close();
    throw error;
  }
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const onSignal = (): void => void stop();
  const onHangUp = (): void => {
    server.reloadCredentials().then(
      () => output.write(`${JSON.stringify({ event: 'credentials-reloaded' })}\n`),
      (error: Error) => output.write(`${JSON.stringify({ event: 'credentials-reload-failed', reason: error.message })}\n`),
    );
  };
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal).off('SIGHUP', onHangUp);
      output.write(`${JSON.stringify({ event: 'stopping' })}\n`);
      await server.close();
      output.write(`${JSON.stringify({ event: 'stopped' })}\n`);
      resolveDone();
    })();
    return stopping;
  };
  if (options.handleSignals !== false) process.on('SIGINT', onSignal).on('SIGTERM', onSignal).on('SIGHUP', onHangUp);
  output.write(`${JSON.stringify({ event: 'listening', url: server.url, rootOfTrust: kms.rootOfTrust })}\n`);
  return { server, kms, url: server.url, stop, done };
}
