/**
 * Options of Kms.open, and their environment-variable defaults:
 *
 *   HSMKMS_PKCS11_MODULE, HSMKMS_PKCS11_TOKEN, HSMKMS_PKCS11_PIN  a PKCS#11 root
 *   HSMKMS_STORE                                                  the key store (a SQLite path or a postgres:// URL)
 *   HSMKMS_PASSPHRASE                                             the soft root's key, derived with scrypt
 *   HSMKMS_DIR                                                    the embedded default's directory (./.hsmkms)
 *
 * With no options and no variables: the `soft` root and a SQLite store under
 * ./.hsmkms/, created on first use.
 */
import path from 'node:path';
import type { KeyStore, PostgresKeyStoreOptions } from '../keystore/index.js';
import type { Pkcs11RetryOptions } from '../root/pkcs11-root.js';
import { invalidArgType, invalidArgValue } from '../validate.js';
import type { ArnSettings } from './key-references.js';

export interface Pkcs11RootOptions {
  /** Path of the PKCS#11 module (.so). */
  module: string;
  /** Label of the token (slot ids are not stable). */
  tokenLabel: string;
  /** The user PIN; wiped from hsmkms's own copy after login. */
  pin: string | Uint8Array;
  /** HSM threads (one session each). */
  threads?: number;
  /**
   * CKA_PRIVATE of the unwrapped CMKs (session objects of this process,
   * never stored; default true: usable only while logged in). false lets
   * SoftHSM skip decrypting them under its token-wide lock on every use, so
   * RSA and ECDSA scale with `threads` there (bench/results/pkcs11.md).
   */
  privateSessionKeys?: boolean;
  /**
   * How a failing HSM is retried before an operation rejects with
   * `KeyUnavailableException` (default 5 tries within 1000 ms).
   */
  retry?: Pkcs11RetryOptions;
}

export interface SoftRootOptions {
  /** Directory of the root key file (default: the embedded directory). */
  dir?: string;
  /** Derive the root key with scrypt from this passphrase instead of a random key file. */
  passphrase?: string | Uint8Array;
}

export type RootOptions = { pkcs11: Pkcs11RootOptions } | { soft: SoftRootOptions };

export interface KmsOptions {
  root?: RootOptions;
  /**
   * The key store: a SQLite file path (or `sqlite:<path>`); a
   * `postgres://user:password@host:port/database` URL; `{ postgres: {...} }`
   * with node-postgres `PoolConfig` fields passed through (`connectionString`,
   * `host`, `port`, `user`, `password`, `database`, `ssl`, `max`) plus
   * `schema` and `listen`; or a KeyStore you opened (and close yourself).
   * Many nodes share one PostgreSQL store; SQLite serves one machine.
   */
  store?: string | KeyStore | { postgres: PostgresKeyStoreOptions };
  /** Region and account in the ARNs this KMS hands out. */
  arn?: Partial<ArnSettings>;
  /**
   * How long a node trusts a cached key state without asking the store (ms,
   * default 1000): a key disabled on another node is refused here within it.
   * After it, one generation read per TTL revalidates every cached key.
   */
  cacheTtlMs?: number;
  /** Audit group-commit interval (ms, default 100). */
  auditFlushMs?: number;
  /** Run purge, due rotations and interrupted re-wraps on open (default true). */
  maintenanceOnOpen?: boolean;
  /**
   * Also run that maintenance every this many ms (default 0: only on open and
   * runMaintenance()). On many nodes each one tries; a lease lets exactly one
   * do the work at a time, and another takes over when it dies.
   */
  maintenanceIntervalMs?: number;
  /** The clock (tests move it to pass deletion windows and rotation dates). */
  now?: () => Date;
}

export interface ResolvedOptions {
  root: RootOptions;
  store: string | KeyStore | { postgres: PostgresKeyStoreOptions };
  dir: string;
}

export const DEFAULT_DIR = '.hsmkms';

/** Fills in defaults from the environment; checks types. */
export function resolveOptions(options: KmsOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const dir = path.resolve(env.HSMKMS_DIR ?? DEFAULT_DIR);
  let root = options.root;
  if (root === undefined) {
    if (env.HSMKMS_PKCS11_MODULE) {
      if (!env.HSMKMS_PKCS11_TOKEN || env.HSMKMS_PKCS11_PIN === undefined) {
        throw invalidArgValue('HSMKMS_PKCS11_MODULE', 'needs HSMKMS_PKCS11_TOKEN and HSMKMS_PKCS11_PIN as well');
      }
      root = { pkcs11: { module: env.HSMKMS_PKCS11_MODULE, tokenLabel: env.HSMKMS_PKCS11_TOKEN, pin: env.HSMKMS_PKCS11_PIN } };
    } else {
      root = { soft: env.HSMKMS_PASSPHRASE ? { dir, passphrase: env.HSMKMS_PASSPHRASE } : { dir } };
    }
  }
  if ('pkcs11' in root) {
    const p = root.pkcs11;
    if (typeof p?.module !== 'string' || typeof p.tokenLabel !== 'string') {
      throw invalidArgType('options.root.pkcs11', 'an object with string module and tokenLabel', p);
    }
    if (typeof p.pin !== 'string' && !(p.pin instanceof Uint8Array)) throw invalidArgType('options.root.pkcs11.pin', 'a string or Uint8Array', p.pin);
  } else if (!('soft' in root)) {
    throw invalidArgValue('options.root', 'must be { pkcs11: {...} } or { soft: {...} }');
  }
  const store = options.store ?? env.HSMKMS_STORE ?? path.join(dir, 'keystore.db');
  return { root, store, dir };
}
