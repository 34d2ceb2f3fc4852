/**
 * The KMS: `Kms.open(options)` then async methods named after the AWS KMS
 * operations, with AWS's request and response shapes in camelCase. Every
 * operation, allowed or refused, is appended to the audit trail (operation,
 * key id and version, encryption-context keys, outcome, error code).
 */
import { AeadKey } from '../aead.js';
import { encryptionContextKeys, checkEncryptionContext } from '../encryption-context.js';
import { KmsError } from '../errors.js';
import { openKeyStore, type KeyStore, type StoredAuditRecord, type Tag } from '../keystore/index.js';
import { invalidArgType } from '../validate.js';
import * as aliases from './aliases.js';
import * as asymmetric from './asymmetric-operations.js';
import * as batch from './batch-operations.js';
import { AuditWriter } from './audit-writer.js';
import { currentCaller } from './caller.js';
import { MAX_BLOB_LENGTH, MAX_PLAINTEXT_LENGTH } from './ciphertext-blob.js';
import { describeDomainKeys, describeSetup, type KmsDescription } from './describe.js';
import * as domainKeys from './domain-keys.js';
import * as lifecycle from './key-lifecycle.js';
import * as mac from './mac-operations.js';
import type { KeyMetadata } from './key-metadata.js';
import { DEFAULT_ARN_SETTINGS, isKeyId, parseKeyReference, type ArnSettings } from './key-references.js';
import { KeyResolver } from './key-resolver.js';
import { withLeaseIfFree } from './leases.js';
import type { KmsContext } from './kms-context.js';
import { resolveOptions, type KmsOptions } from './kms-options.js';
import { openRoot } from './open-root.js';
import { checkRequest, requireBytes } from './request-checks.js';
import type { MessageType, RootOfTrust, SigningAlgorithm } from '../root/root-of-trust.js';
import * as rotation from './rotation.js';
import * as symmetric from './symmetric-operations.js';
import * as tags from './tags.js';

type Facts = symmetric.AuditFacts;

/** The lease that keeps the deletion sweep and due rotations to one node at a time. */
const MAINTENANCE_LEASE = 'maintenance';

function checkMs(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 86_400_000)) {
    throw invalidArgType(`options.${name}`, 'an integer number of milliseconds in 0..86400000', value);
  }
}

/** Operations that change a key's state, versions or names: audited without group commit. */
const STATE_CHANGES: ReadonlySet<string> = new Set([
  'CreateKey', 'EnableKey', 'DisableKey', 'ScheduleKeyDeletion', 'CancelKeyDeletion', 'PurgeDeletedKeys',
  'CreateAlias', 'UpdateAlias', 'DeleteAlias', 'TagResource', 'UntagResource',
  'EnableKeyRotation', 'DisableKeyRotation', 'RotateKeyOnDemand', 'PerformDueRotations', 'RotateDomainKey', 'PutKeyPolicy',
]);

/** AWS KMS has one policy per key, named `default`. */
function checkPolicyName(value: unknown): void {
  if (value !== undefined && value !== 'default') throw new KmsError('ValidationException', 'The only policy name is "default"');
}

/**
 * The root, seen through a retry: an operation that finds no domain key
 * (NotFoundException from the root) may name one another KMS on the same
 * store made since this one opened; open the new ones and try once more.
 */
function refreshingRoot(root: RootOfTrust, refresh: () => Promise<boolean>): RootOfTrust {
  // One wrapper per method, made on first use: the hot operations come through here on every call.
  const wrappers = new Map<PropertyKey, unknown>();
  const retrying = (method: (...args: unknown[]) => unknown) => (...args: unknown[]) => {
    const again = (error: unknown): Promise<unknown> => {
      if ((error as { code?: string }).code !== 'NotFoundException') throw error;
      return refresh().then((refreshed) => {
        if (!refreshed) throw error;
        return method.apply(root, args);
      });
    };
    let result: unknown;
    try {
      result = method.apply(root, args);
    } catch (error) {
      result = Promise.reject(error);
    }
    // No async wrapper: it cost an extra promise and microtask turns on every call.
    return Promise.resolve(result).catch(again);
  };
  return new Proxy(root, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      let wrapper = wrappers.get(property);
      if (wrapper === undefined) {
        const method = value as (...args: unknown[]) => unknown;
        const bindOnly = property === 'openDomainKey' || property === 'findDomainKey' || property === 'close';
        wrapper = bindOnly ? method.bind(target) : retrying(method);
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
  });
}

/**
 * The context of each open Kms, for front ends inside this package (the HTTP
 * server resolves keys and reads policies without auditing a DescribeKey).
 * Not exported from the package entry.
 */
const contexts = new WeakMap<Kms, KmsContext>();

/** @internal The context of an open Kms (package-internal; see {@link contexts}). */
export function kmsContext(kms: Kms): KmsContext {
  const ctx = contexts.get(kms);
  if (ctx === undefined) throw new TypeError('not a Kms');
  return ctx;
}

/** A refusal made in front of the Kms (authentication, authorization, limits), for the audit trail. */
export interface Refusal {
  /** The operation asked for (`Unknown` when it could not be read). */
  operation: string;
  /** The key concerned, when known. */
  keyId?: string | null;
  /** The encryption-context keys of the request (never values). */
  contextKeys?: string[];
  /** The AWS error type returned, e.g. `AccessDeniedException`. */
  errorCode: string;
  /** The caller, when authenticated. */
  principal?: string | null;
}

/** A key management service over a root of trust and a key store. */
export class Kms {
  readonly #ctx: KmsContext;
  readonly #ownsStore: boolean;
  readonly #setup: Pick<KmsDescription, 'rootOfTrust' | 'store'>;
  #closed = false;
  #maintenance: Promise<unknown> | null = null;
  #stopMaintenance = false;
  #maintenanceTimer: NodeJS.Timeout | null = null;

  private constructor(ctx: KmsContext, ownsStore: boolean, setup: Pick<KmsDescription, 'rootOfTrust' | 'store'>) {
    this.#ctx = ctx;
    this.#ownsStore = ownsStore;
    this.#setup = setup;
    contexts.set(this, ctx);
  }

  /** Opens (and on first use initialises) a KMS. See {@link KmsOptions} for the defaults. */
  static async open(options: KmsOptions = {}): Promise<Kms> {
    const resolved = resolveOptions(options);
    checkMs('cacheTtlMs', options.cacheTtlMs);
    checkMs('maintenanceIntervalMs', options.maintenanceIntervalMs);
    // A path, URL or { postgres } is opened (and closed) here; a KeyStore instance stays the caller's.
    const spec = resolved.store;
    const ownsStore = typeof spec === 'string' || 'postgres' in spec;
    const store: KeyStore = typeof spec === 'string' || 'postgres' in spec ? await openKeyStore(spec) : spec;
    let root: RootOfTrust | undefined;
    let resolver: KeyResolver | undefined;
    try {
      root = await openRoot(resolved.root, resolved.dir);
      const arn: ArnSettings = { ...DEFAULT_ARN_SETTINGS, ...options.arn };
      const ctx: KmsContext = {
        store,
        root: refreshingRoot(root, () => domainKeys.refreshDomainKeys(ctx)),
        resolver: (resolver = new KeyResolver(store, arn, options.cacheTtlMs ?? 1000)),
        audit: new AuditWriter(store, { flushMs: options.auditFlushMs ?? 100 }),
        arn,
        activeDomainVersion: 0,
        now: options.now ?? (() => new Date()),
      };
      await domainKeys.openDomainKeys(ctx);
      const kms = new Kms(ctx, ownsStore, describeSetup(resolved.root, resolved.dir, resolved.store));
      if (options.maintenanceOnOpen !== false) await kms.runMaintenance();
      if (options.maintenanceIntervalMs) kms.#scheduleMaintenance(options.maintenanceIntervalMs);
      return kms;
    } catch (error) {
      resolver?.close();
      await root?.close();
      if (ownsStore) await store.close();
      throw error;
    }
  }

  /** `pkcs11` for a token, `soft` for the embedded root (not an HSM). */
  get rootOfTrust(): 'pkcs11' | 'soft' {
    return this.#ctx.root.kind;
  }

  /**
   * What this KMS stands on: the root of trust (`isHsm: false` for the
   * embedded soft root), the key store and the domain keys with the CMK
   * versions each holds. No secrets.
   */
  async describe(): Promise<KmsDescription> {
    if (this.#closed) throw new KmsError('KMSInvalidStateException', 'This KMS is closed');
    return { ...this.#setup, ...(await describeDomainKeys(this.#ctx)) };
  }

  /** Flushes the audit trail, stops maintenance, releases the root (sessions, handles, key bytes) and the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopMaintenance = true;
    if (this.#maintenanceTimer !== null) clearInterval(this.#maintenanceTimer);
    this.#ctx.resolver.close();
    await this.#maintenance?.catch(() => undefined);
    await this.#ctx.audit.close();
    await this.#ctx.root.close();
    if (this.#ownsStore) await this.#ctx.store.close();
  }

  /** Runs an operation and audits it, allowed or refused. */
  async #audited<T>(operation: string, facts: Facts, run: (facts: Facts) => Promise<T>): Promise<T> {
    if (this.#closed) throw new KmsError('KMSInvalidStateException', 'This KMS is closed');
    try {
      // The trail names keys by key id, whichever reference (ARN, alias) the caller used.
      if (facts.keyId !== null && !isKeyId(facts.keyId)) facts.keyId = await this.#keyIdForAudit(facts.keyId);
      const result = await run(facts);
      this.#record(operation, facts, null);
      // Key state changes are never batched: their record is written before the call resolves.
      if (STATE_CHANGES.has(operation)) await this.#ctx.audit.flush();
      return result;
    } catch (error) {
      this.#record(operation, facts, (error as { code?: string }).code ?? 'KMSInternalException');
      throw error;
    }
  }

  /**
   * Runs a batch and audits it: one record per item (its key, version,
   * context keys, outcome and error code) as each settles; a refusal of the
   * whole call, one more.
   */
  async #auditedBatch<R>(operation: string, facts: Facts, run: (facts: Facts, audit: batch.AuditItem) => Promise<R>): Promise<R> {
    if (this.#closed) throw new KmsError('KMSInvalidStateException', 'This KMS is closed');
    try {
      if (facts.keyId !== null && !isKeyId(facts.keyId)) facts.keyId = await this.#keyIdForAudit(facts.keyId);
      return await run(facts, (itemFacts, error) => this.#record(operation, itemFacts, error === null ? null : error.code));
    } catch (error) {
      this.#record(operation, facts, (error as { code?: string }).code ?? 'KMSInternalException');
      throw error;
    }
  }

  /** The key id a reference names, or the reference itself when it names no key (the operation reports why). */
  async #keyIdForAudit(reference: string): Promise<string> {
    try {
      return (await this.#ctx.resolver.resolve(reference)).keyId;
    } catch {
      return reference;
    }
  }

  #record(operation: string, facts: Facts, errorCode: string | null): void {
    this.#ctx.audit.append({
      time: this.#ctx.now(),
      operation,
      keyId: facts.keyId,
      keyVersion: facts.keyVersion,
      contextKeys: facts.contextKeys,
      outcome: errorCode === null ? 'success' : 'failure',
      errorCode,
      principal: currentCaller(),
    });
  }

  /** Facts for a request naming a key; the key id is filled in once resolved. */
  #facts(keyId?: unknown): Facts {
    return { keyId: typeof keyId === 'string' ? keyId : null, keyVersion: null, contextKeys: [] };
  }

  // --- Key lifecycle -------------------------------------------------------------

  createKey(request: lifecycle.CreateKeyRequest = {}): Promise<{ keyMetadata: KeyMetadata }> {
    return this.#audited('CreateKey', this.#facts(), async (f) => {
      const result = await lifecycle.createKey(this.#ctx, request);
      f.keyId = result.keyMetadata.keyId;
      f.keyVersion = 1;
      return result;
    });
  }

  describeKey(request: { keyId: string }): Promise<{ keyMetadata: KeyMetadata }> {
    return this.#audited('DescribeKey', this.#facts(request?.keyId), () => lifecycle.describeKey(this.#ctx, request));
  }

  listKeys(request: { limit?: number; marker?: string } = {}): Promise<lifecycle.ListKeysResponse> {
    return this.#audited('ListKeys', this.#facts(), () => lifecycle.listKeys(this.#ctx, request));
  }

  async enableKey(request: { keyId: string }): Promise<Record<string, never>> {
    await this.#audited('EnableKey', this.#facts(request?.keyId), async (f) => {
      f.keyId = (await lifecycle.enableKey(this.#ctx, request)).keyId;
    });
    return {};
  }

  async disableKey(request: { keyId: string }): Promise<Record<string, never>> {
    await this.#audited('DisableKey', this.#facts(request?.keyId), async (f) => {
      f.keyId = (await lifecycle.disableKey(this.#ctx, request)).keyId;
    });
    return {};
  }

  scheduleKeyDeletion(request: { keyId: string; pendingWindowInDays?: number }): Promise<lifecycle.ScheduleKeyDeletionResponse> {
    return this.#audited('ScheduleKeyDeletion', this.#facts(request?.keyId), () => lifecycle.scheduleKeyDeletion(this.#ctx, request));
  }

  cancelKeyDeletion(request: { keyId: string }): Promise<{ keyId: string }> {
    return this.#audited('CancelKeyDeletion', this.#facts(request?.keyId), () => lifecycle.cancelKeyDeletion(this.#ctx, request));
  }

  /** Deletes keys whose pending-deletion window has passed (also done on open and by runMaintenance). */
  purgeDeletedKeys(): Promise<string[]> {
    return this.#audited('PurgeDeletedKeys', this.#facts(), async () => {
      const purged = await lifecycle.purgeDeletedKeys(this.#ctx);
      // One record per deleted key, so the key's own trail says when it went.
      for (const keyId of purged) this.#record('DeleteKey', { keyId, keyVersion: null, contextKeys: [] }, null);
      return purged;
    });
  }

  // --- Aliases and tags ----------------------------------------------------------

  async createAlias(request: { aliasName: string; targetKeyId: string }): Promise<Record<string, never>> {
    await this.#audited('CreateAlias', this.#facts(request?.targetKeyId), () => aliases.createAlias(this.#ctx, request));
    return {};
  }

  async updateAlias(request: { aliasName: string; targetKeyId: string }): Promise<Record<string, never>> {
    await this.#audited('UpdateAlias', this.#facts(request?.targetKeyId), () => aliases.updateAlias(this.#ctx, request));
    return {};
  }

  async deleteAlias(request: { aliasName: string }): Promise<Record<string, never>> {
    await this.#audited('DeleteAlias', this.#facts(), () => aliases.deleteAlias(this.#ctx, request));
    return {};
  }

  listAliases(request: { keyId?: string; limit?: number; marker?: string } = {}) {
    return this.#audited('ListAliases', this.#facts(request?.keyId), () => aliases.listAliases(this.#ctx, request));
  }

  async tagResource(request: { keyId: string; tags: Tag[] }): Promise<Record<string, never>> {
    await this.#audited('TagResource', this.#facts(request?.keyId), async (f) => {
      f.keyId = await tags.tagResource(this.#ctx, request);
    });
    return {};
  }

  async untagResource(request: { keyId: string; tagKeys: string[] }): Promise<Record<string, never>> {
    await this.#audited('UntagResource', this.#facts(request?.keyId), async (f) => {
      f.keyId = await tags.untagResource(this.#ctx, request);
    });
    return {};
  }

  listResourceTags(request: { keyId: string; limit?: number; marker?: string }) {
    return this.#audited('ListResourceTags', this.#facts(request?.keyId), () => tags.listResourceTags(this.#ctx, request));
  }

  // --- Key policies (read by the HTTP server's authorization) -------------------------

  /** The key's policy document (AWS's only policy name is `default`); `policy` is absent when none was set. */
  getKeyPolicy(request: { keyId: string; policyName?: string }): Promise<{ policy?: string; policyName: string }> {
    return this.#audited('GetKeyPolicy', this.#facts(request?.keyId), async (f) => {
      const req = checkRequest('request', request);
      checkPolicyName(req.policyName);
      const key = await this.#ctx.resolver.resolve(req.keyId);
      f.keyId = key.keyId;
      const policy = await this.#ctx.store.getKeyPolicy(key.keyId);
      return policy === null ? { policyName: 'default' } : { policy, policyName: 'default' };
    });
  }

  /** Sets the key's policy document (1..32768 characters; the server checks its grammar before calling this). */
  async putKeyPolicy(request: { keyId: string; policy: string; policyName?: string }): Promise<Record<string, never>> {
    await this.#audited('PutKeyPolicy', this.#facts(request?.keyId), async (f) => {
      const req = checkRequest('request', request);
      checkPolicyName(req.policyName);
      if (typeof req.policy !== 'string') throw new KmsError('ValidationException', 'policy must be a string');
      const key = await this.#ctx.resolver.resolve(req.keyId);
      f.keyId = key.keyId;
      await this.#ctx.store.putKeyPolicy(key.keyId, req.policy);
    });
    return {};
  }

  /**
   * Appends a refusal made before the KMS ran (authentication, authorization,
   * rate limit) to the audit trail, so the trail shows every request turned away.
   */
  recordRefusal(refusal: Refusal): void {
    if (this.#closed) return;
    this.#ctx.audit.append({
      time: this.#ctx.now(),
      operation: String(refusal.operation).slice(0, 128),
      keyId: refusal.keyId ?? null,
      keyVersion: null,
      contextKeys: refusal.contextKeys ?? [],
      outcome: 'failure',
      errorCode: refusal.errorCode,
      principal: refusal.principal ?? currentCaller(),
    });
  }

  // --- Rotation ----------------------------------------------------------------------

  async enableKeyRotation(request: { keyId: string; rotationPeriodInDays?: number }): Promise<Record<string, never>> {
    await this.#audited('EnableKeyRotation', this.#facts(request?.keyId), () => rotation.enableKeyRotation(this.#ctx, request));
    return {};
  }

  async disableKeyRotation(request: { keyId: string }): Promise<Record<string, never>> {
    await this.#audited('DisableKeyRotation', this.#facts(request?.keyId), () => rotation.disableKeyRotation(this.#ctx, request));
    return {};
  }

  getKeyRotationStatus(request: { keyId: string }): Promise<rotation.KeyRotationStatus> {
    return this.#audited('GetKeyRotationStatus', this.#facts(request?.keyId), () => rotation.getKeyRotationStatus(this.#ctx, request));
  }

  rotateKeyOnDemand(request: { keyId: string }): Promise<{ keyId: string; keyVersion: number }> {
    return this.#audited('RotateKeyOnDemand', this.#facts(request?.keyId), async (f) => {
      const result = await rotation.rotateKeyOnDemand(this.#ctx, request);
      f.keyVersion = result.keyVersion;
      return result;
    });
  }

  listKeyRotations(request: { keyId: string; limit?: number; marker?: string }) {
    return this.#audited('ListKeyRotations', this.#facts(request?.keyId), () => rotation.listKeyRotations(this.#ctx, request));
  }

  // --- Cryptographic operations -------------------------------------------------------

  /** Symmetric keys: AES-256-GCM in the root, blob of DESIGN.md section 2. RSA keys: give an RSAES_OAEP encryptionAlgorithm. */
  encrypt(request: symmetric.EncryptRequest): Promise<symmetric.EncryptResponse> {
    return this.#audited('Encrypt', this.#facts(request?.keyId), async (f) => {
      const req = checkRequest('request', request);
      const plaintext = requireBytes('plaintext', req.plaintext, 1, MAX_PLAINTEXT_LENGTH);
      const context = checkEncryptionContext(req.encryptionContext);
      f.contextKeys = encryptionContextKeys(context);
      const key = this.#ctx.resolver.peek(req.keyId) ?? (await this.#ctx.resolver.resolve(req.keyId));
      f.keyId = key.keyId;
      const algorithm = req.encryptionAlgorithm ?? symmetric.SYMMETRIC_DEFAULT;
      if (asymmetric.isOaep(algorithm)) {
        if (f.contextKeys.length > 0) throw new KmsError('ValidationException', 'Asymmetric keys take no encryption context');
        const result = await asymmetric.encryptAsymmetric(this.#ctx, key, plaintext, algorithm);
        f.keyVersion = result.keyVersion;
        return result;
      }
      if (algorithm !== symmetric.SYMMETRIC_DEFAULT) throw new KmsError('ValidationException', `Unknown encryptionAlgorithm ${String(algorithm)}`);
      return symmetric.encryptSymmetric(this.#ctx, key, plaintext, context, f);
    });
  }

  /**
   * Encrypts up to 1000 plaintexts (1..4096 bytes each, each with its own
   * encryption context) under one symmetric CMK in one call: the items reach
   * the root in a few calls, not one each. Resolves to `{ results }`, one per
   * item in order: what {@link Kms.encrypt} resolves to, or `{ error }` (a
   * KmsError) for an item that failed; the others are not affected. A
   * malformed request, or a key that cannot encrypt, rejects the whole call.
   * Audited per item (operation `EncryptBatch`). The `items` array is copied
   * at once; the items and their bytes are read while the call runs, so
   * leave them unchanged until it settles.
   */
  encryptBatch(request: batch.EncryptBatchRequest): Promise<batch.EncryptBatchResponse> {
    return this.#auditedBatch('EncryptBatch', this.#facts(request?.keyId), (f, audit) => batch.encryptBatch(this.#ctx, request, f, audit));
  }

  /**
   * Decrypts up to 1000 ciphertext blobs of symmetric CMKs in one call (each
   * blob names its key; items may use different keys and versions). Resolves
   * to `{ results }`, one per item in order: what {@link Kms.decrypt}
   * resolves to, or `{ error }` with the code `decrypt` would give (a
   * tampered blob or wrong context: InvalidCiphertextException; a disabled
   * key: DisabledException; ...). Audited per item (operation `DecryptBatch`).
   * As with encryptBatch, leave the items unchanged until the call settles.
   */
  decryptBatch(request: batch.DecryptBatchRequest): Promise<batch.DecryptBatchResponse> {
    return this.#auditedBatch('DecryptBatch', this.#facts(), (_f, audit) => batch.decryptBatch(this.#ctx, request, audit));
  }

  /**
   * Encrypts a data key handle (from {@link Kms.generateDataKeyHandle},
   * {@link Kms.decryptDataKey} or `aead.generateKey()`) under a symmetric CMK:
   * the key's bytes go from locked native memory into the root and never
   * reach JavaScript. The blob is an ordinary ciphertext blob: `decrypt` or
   * `decryptDataKey` opens it.
   */
  encryptDataKey(request: { keyId: string; dataKey: AeadKey; encryptionContext?: Record<string, string> }): Promise<symmetric.EncryptResponse> {
    return this.#audited('EncryptDataKey', this.#facts(request?.keyId), async (f) => {
      const req = checkRequest('request', request);
      if (!(req.dataKey instanceof AeadKey)) throw invalidArgType('request.dataKey', 'an instance of AeadKey', req.dataKey);
      const context = checkEncryptionContext(req.encryptionContext);
      f.contextKeys = encryptionContextKeys(context);
      const key = await this.#ctx.resolver.resolve(req.keyId);
      f.keyId = key.keyId;
      return symmetric.encryptSymmetric(this.#ctx, key, req.dataKey, context, f);
    });
  }

  /** The key comes from the blob; a given keyId must match it (else IncorrectKeyException). */
  decrypt(request: symmetric.DecryptRequest): Promise<symmetric.DecryptResponse> {
    return this.#audited('Decrypt', this.#facts(request?.keyId), async (f) => {
      const req = checkRequest('request', request);
      const blob = requireBytes('ciphertextBlob', req.ciphertextBlob, 1, MAX_BLOB_LENGTH);
      const context = checkEncryptionContext(req.encryptionContext);
      f.contextKeys = encryptionContextKeys(context);
      if (asymmetric.isOaep(req.encryptionAlgorithm)) {
        if (req.keyId === undefined) throw new KmsError('ValidationException', 'Asymmetric decryption needs keyId');
        const key = await this.#ctx.resolver.resolve(req.keyId);
        f.keyId = key.keyId;
        const result = await asymmetric.decryptAsymmetric(this.#ctx, key, blob, req.encryptionAlgorithm);
        f.keyVersion = result.keyVersion;
        return result;
      }
      if (req.encryptionAlgorithm !== undefined && req.encryptionAlgorithm !== symmetric.SYMMETRIC_DEFAULT) {
        throw new KmsError('ValidationException', `Unknown encryptionAlgorithm ${String(req.encryptionAlgorithm)}`);
      }
      return symmetric.decryptSymmetric(this.#ctx, blob, context, req.keyId, f);
    });
  }

  /** Decrypts and encrypts again under another key (or context); the plaintext never reaches JavaScript. */
  reEncrypt(request: symmetric.ReEncryptRequest): Promise<symmetric.ReEncryptResponse> {
    return this.#audited('ReEncrypt', this.#facts(request?.destinationKeyId), (f) => symmetric.reEncrypt(this.#ctx, request, f));
  }

  generateDataKey(request: symmetric.GenerateDataKeyRequest) {
    return this.#audited('GenerateDataKey', this.#facts(request?.keyId), async (f) => {
      const r = await symmetric.generateDataKey(this.#ctx, request, true, f);
      return r as { ciphertextBlob: Uint8Array; plaintext: Uint8Array; keyId: string; keyVersion: number };
    });
  }

  generateDataKeyWithoutPlaintext(request: symmetric.GenerateDataKeyRequest): Promise<{ ciphertextBlob: Uint8Array; keyId: string; keyVersion: number }> {
    return this.#audited('GenerateDataKeyWithoutPlaintext', this.#facts(request?.keyId), (f) => symmetric.generateDataKey(this.#ctx, request, false, f));
  }

  /**
   * A 256-bit data key that goes from the root straight into locked native
   * memory: `dataKey` is an AeadKey (use it with `aead.*` and the envelope
   * code); its bytes never reach JavaScript.
   */
  generateDataKeyHandle(request: { keyId: string; encryptionContext?: Record<string, string> }) {
    return this.#audited('GenerateDataKeyHandle', this.#facts(request?.keyId), (f) => symmetric.generateDataKeyHandle(this.#ctx, request, f));
  }

  /** Decrypts a data key blob into an AeadKey in locked native memory. */
  decryptDataKey(request: { ciphertextBlob: Uint8Array; encryptionContext?: Record<string, string>; keyId?: string }) {
    return this.#audited('DecryptDataKey', this.#facts(request?.keyId), (f) => symmetric.decryptDataKey(this.#ctx, request, f));
  }

  generateRandom(request: { numberOfBytes: number }): Promise<{ plaintext: Uint8Array }> {
    return this.#audited('GenerateRandom', this.#facts(), () => symmetric.generateRandom(this.#ctx, request));
  }

  sign(request: { keyId: string; message: Uint8Array; messageType?: MessageType; signingAlgorithm: SigningAlgorithm }) {
    return this.#audited('Sign', this.#facts(request?.keyId), async (f) => {
      const r = await asymmetric.sign(this.#ctx, request);
      f.keyVersion = r.keyVersion;
      return r;
    });
  }

  verify(request: { keyId: string; message: Uint8Array; messageType?: MessageType; signature: Uint8Array; signingAlgorithm: SigningAlgorithm }) {
    return this.#audited('Verify', this.#facts(request?.keyId), () => asymmetric.verify(this.#ctx, request));
  }

  /** The HMAC of a message (1..4096 bytes) with an HMAC key (GENERATE_VERIFY_MAC), made inside the root. */
  generateMac(request: mac.GenerateMacRequest): Promise<mac.GenerateMacResponse> {
    return this.#audited('GenerateMac', this.#facts(request?.keyId), (f) => mac.generateMac(this.#ctx, request, f));
  }

  /**
   * Checks a MAC inside the root; one that does not match rejects with
   * KMSInvalidMacException (as AWS KMS does), so a resolved call means valid.
   */
  verifyMac(request: mac.VerifyMacRequest): Promise<mac.VerifyMacResponse> {
    return this.#audited('VerifyMac', this.#facts(request?.keyId), (f) => mac.verifyMac(this.#ctx, request, f));
  }

  getPublicKey(request: { keyId: string }) {
    return this.#audited('GetPublicKey', this.#facts(request?.keyId), () => asymmetric.getPublicKey(this.#ctx, request));
  }

  // --- Domain keys, maintenance, audit --------------------------------------------------

  /**
   * Makes a new domain key and starts re-wrapping every CMK version under it
   * in the background (resumed on the next open if interrupted). Resolves
   * once the new domain key is in use; `waitForMaintenance()` waits for the re-wrap.
   */
  rotateDomainKey(): Promise<{ domainKeyVersion: number }> {
    return this.#audited('RotateDomainKey', this.#facts(), async () => {
      const version = await domainKeys.rotateDomainKey(this.#ctx);
      this.#startRewrap();
      return { domainKeyVersion: version };
    });
  }

  /** Starts the re-wrap in the background; with `onlyIfFree`, not when another live node is doing it. */
  #startRewrap(onlyIfFree = false): void {
    const previous = this.#maintenance ?? Promise.resolve();
    this.#maintenance = previous
      .catch(() => undefined)
      .then(() => domainKeys.rewrapToNewest(this.#ctx, () => this.#stopMaintenance, onlyIfFree));
    // A background failure must not be an unhandled rejection (it would end the process);
    // waitForMaintenance() still rethrows it, and the next open or runMaintenance resumes.
    this.#maintenance.catch(() => undefined);
  }

  /** Waits for background maintenance (a domain-key re-wrap) to finish; rethrows its error. */
  async waitForMaintenance(): Promise<void> {
    while (this.#maintenance !== null) {
      const current = this.#maintenance;
      await current;
      if (this.#maintenance === current) this.#maintenance = null;
    }
  }

  /**
   * Deletes keys past their window, performs due rotations and resumes an
   * interrupted re-wrap. On many nodes sharing a store, each job runs on one
   * node at a time (under a lease): a node that finds the lease held by a
   * live node skips the job (empty lists); a dead holder's lease is taken
   * over (at once on the same machine, after the lease expires elsewhere).
   */
  async runMaintenance(): Promise<{ purged: string[]; rotated: string[] }> {
    const done = await withLeaseIfFree(this.#ctx.store, MAINTENANCE_LEASE, async () => {
      const purged = await this.purgeDeletedKeys();
      const rotated = await this.#audited('PerformDueRotations', this.#facts(), () => rotation.performDueRotations(this.#ctx));
      return { purged, rotated };
    });
    if (await domainKeys.rewrapPending(this.#ctx)) this.#startRewrap(true);
    return done ?? { purged: [], rotated: [] };
  }

  /** Runs maintenance every `intervalMs` in the background (failures wait for the next run). */
  #scheduleMaintenance(intervalMs: number): void {
    let running = false;
    this.#maintenanceTimer = setInterval(() => {
      if (running || this.#closed) return;
      running = true;
      this.runMaintenance()
        .catch(() => undefined)
        .finally(() => (running = false));
    }, intervalMs);
    this.#maintenanceTimer.unref();
  }

  /** Reads the audit trail (flushing what is pending first). */
  async auditLog(query: { since?: Date; keyId?: string; limit?: number } = {}): Promise<StoredAuditRecord[]> {
    if (query === null || typeof query !== 'object') throw invalidArgType('query', 'of type object', query);
    if (this.#closed) throw new KmsError('KMSInvalidStateException', 'This KMS is closed');
    await this.#ctx.audit.flush();
    // A key id or key ARN is taken as is: the trail of a deleted key stays readable. Aliases are resolved.
    const reference = query.keyId === undefined ? undefined : parseKeyReference(query.keyId, this.#ctx.arn);
    const keyId = reference === undefined ? undefined
      : reference.kind === 'key' ? reference.keyId
      : (await this.#ctx.resolver.resolve(query.keyId)).keyId;
    return this.#ctx.store.readAudit({
      ...(query.since !== undefined && { since: query.since }),
      ...(keyId !== undefined && { keyId }),
      ...(query.limit !== undefined && { limit: query.limit }),
    });
  }
}
