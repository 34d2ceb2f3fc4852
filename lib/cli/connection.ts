/**
 * How a command reaches its KMS: the directory (--dir, default ./.hsmkms),
 * the root of trust recorded there by `hsmkms init` (config.json: the
 * PKCS#11 module and token label, never the PIN), flags that override it,
 * and the PIN from a file or HSMKMS_PKCS11_PIN (never echoed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Kms } from '../kms/kms.js';
import type { KmsOptions, RootOptions } from '../kms/kms-options.js';
import { UsageError, type CliIo } from './io.js';

/** The options every command takes (commander's names). */
export interface GlobalOptions {
  dir?: string;
  json?: boolean;
  store?: string;
  pkcs11Module?: string;
  tokenLabel?: string;
  pinFile?: string;
  progress?: boolean;
}

/** What `hsmkms init` records in <dir>/config.json. */
export interface CliConfig {
  root: 'soft' | { pkcs11: { module: string; tokenLabel: string } };
  store?: string;
}

const CONFIG_FILE = 'config.json';

export function directoryOf(options: GlobalOptions, io: CliIo): string {
  return path.resolve(options.dir ?? io.env.HSMKMS_DIR ?? '.hsmkms');
}

export function readConfig(dir: string): CliConfig | null {
  const file = path.join(dir, CONFIG_FILE);
  if (!existsSync(file)) return null;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as CliConfig;
  if (parsed.root !== 'soft' && (typeof parsed.root?.pkcs11?.module !== 'string' || typeof parsed.root.pkcs11.tokenLabel !== 'string')) {
    throw new UsageError(`${file} is not an hsmkms configuration`);
  }
  return parsed;
}

export async function writeConfig(dir: string, config: CliConfig): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(dir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

function readPin(options: GlobalOptions, io: CliIo): string {
  if (options.pinFile !== undefined) return readFileSync(options.pinFile, 'utf8').replace(/\r?\n$/, '');
  const pin = io.env.HSMKMS_PKCS11_PIN;
  if (pin === undefined) throw new UsageError('A PKCS#11 root needs its PIN: --pin-file FILE or HSMKMS_PKCS11_PIN');
  return pin;
}

/** The root of trust: flags, then the directory's config, then HSMKMS_PKCS11_* variables, then the soft root. */
export function rootFor(options: GlobalOptions, io: CliIo, dir: string, config: CliConfig | null): { root: RootOptions; recorded: CliConfig['root'] } {
  const module = options.pkcs11Module ?? (config?.root !== 'soft' ? config?.root.pkcs11.module : undefined) ?? io.env.HSMKMS_PKCS11_MODULE;
  const tokenLabel = options.tokenLabel ?? (config?.root !== 'soft' ? config?.root.pkcs11.tokenLabel : undefined) ?? io.env.HSMKMS_PKCS11_TOKEN;
  const wantsPkcs11 = options.pkcs11Module !== undefined || (config !== null ? config.root !== 'soft' : module !== undefined);
  if (!wantsPkcs11) {
    const passphrase = io.env.HSMKMS_PASSPHRASE;
    return { root: { soft: passphrase ? { dir, passphrase } : { dir } }, recorded: 'soft' };
  }
  if (module === undefined || tokenLabel === undefined) throw new UsageError('A PKCS#11 root needs --pkcs11-module and --token-label');
  return { root: { pkcs11: { module, tokenLabel, pin: readPin(options, io) } }, recorded: { pkcs11: { module, tokenLabel } } };
}

export function kmsOptionsFor(options: GlobalOptions, io: CliIo): { kmsOptions: KmsOptions; dir: string; recorded: CliConfig } {
  const dir = directoryOf(options, io);
  const config = readConfig(dir);
  const { root, recorded } = rootFor(options, io, dir, config);
  const store = options.store ?? config?.store ?? io.env.HSMKMS_STORE ?? path.join(dir, 'keystore.db');
  return { kmsOptions: { root, store }, dir, recorded: { root: recorded, ...(options.store !== undefined && { store: options.store }) } };
}

/** Opens the KMS, runs `work`, closes it whatever happens. */
export async function withKms<T>(options: GlobalOptions, io: CliIo, work: (kms: Kms) => Promise<T>): Promise<T> {
  const { kmsOptions, dir } = kmsOptionsFor(options, io);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const kms = await Kms.open(kmsOptions);
  try {
    return await work(kms);
  } finally {
    await kms.close();
  }
}
