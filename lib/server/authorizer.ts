/**
 * Authorization: the admin principal may do everything; operations that name
 * no key follow the account policy; every other operation needs each key it
 * touches to have a policy allowing it. A key without a policy is the
 * admin's alone. Policies are cached for a second and dropped when this
 * server changes them.
 */
import { KmsError } from '../errors.js';
import { parseBlob } from '../kms/ciphertext-blob.js';
import type { KmsContext } from '../kms/kms-context.js';
import { accessDenied } from './aws-errors.js';
import type { KeyRecord } from '../keystore/index.js';
import type { KeyCheck, KeyLocator } from './operations.js';
import { parsePolicy, policyAllows, principalArn, type Policy, type RequestParameters } from './policy.js';

/** A denied request: the key (if known) for the audit trail. */
export class Denied extends Error {
  constructor(readonly error: KmsError, readonly keyId: string | null) {
    super(error.message);
  }
}

export interface AuthorizerOptions {
  admin: string | null;
  accountPolicy: Policy;
  cacheTtlMs?: number;
}

export class Authorizer {
  readonly #ctx: KmsContext;
  readonly #admin: string | null;
  readonly #accountPolicy: Policy;
  readonly #ttlMs: number;
  readonly #policies = new Map<string, { policy: Policy | null; expires: number }>();

  constructor(ctx: KmsContext, options: AuthorizerOptions) {
    this.#ctx = ctx;
    this.#admin = options.admin;
    this.#accountPolicy = options.accountPolicy;
    this.#ttlMs = options.cacheTtlMs ?? 1000;
  }

  /** True for the admin principal. */
  isAdmin(principal: string): boolean {
    return principal === this.#admin;
  }

  /** Forgets a key's cached policy (after this server set it). */
  forget(keyId: string): void {
    this.#policies.delete(keyId);
  }

  async #policy(keyId: string): Promise<Policy | null> {
    const cached = this.#policies.get(keyId);
    if (cached !== undefined && cached.expires > Date.now()) return cached.policy;
    const text = await this.#ctx.store.getKeyPolicy(keyId);
    let policy: Policy | null = null;
    if (text !== null) {
      try {
        policy = parsePolicy(text);
      } catch {
        // A document this grammar cannot read (set through the library) grants nothing.
        policy = { statements: [] };
      }
    }
    if (this.#policies.size > 100_000) this.#policies.clear();
    this.#policies.set(keyId, { policy, expires: Date.now() + this.#ttlMs });
    return policy;
  }

  /** The key a locator names; lookup failures surface as the operation itself would report them. */
  async #key(locator: KeyLocator): Promise<KeyRecord> {
    switch (locator.kind) {
      case 'reference':
        return this.#ctx.resolver.resolve(locator.reference);
      case 'blob': {
        if (!(locator.blob instanceof Uint8Array)) throw new KmsError('ValidationException', 'CiphertextBlob is required');
        const keyId = parseBlob(locator.blob).keyId;
        try {
          return await this.#ctx.resolver.byId(keyId);
        } catch (error) {
          if ((error as KmsError).code === 'NotFoundException') {
            throw new KmsError('InvalidCiphertextException', 'The ciphertext is invalid or was not produced by this KMS');
          }
          throw error;
        }
      }
      case 'alias': {
        if (typeof locator.aliasName !== 'string') throw new KmsError('ValidationException', 'AliasName is required');
        const alias = await this.#ctx.store.getAlias(locator.aliasName);
        if (alias === null) throw new KmsError('NotFoundException', `Alias ${locator.aliasName.slice(0, 256)} does not exist`);
        return this.#ctx.resolver.byId(alias.keyId);
      }
    }
  }

  /**
   * Checks a request. Resolves to the first key id concerned (for the audit
   * trail), or null. Rejects with {@link Denied} (AccessDeniedException) or,
   * when a key cannot be found, the error the operation would give.
   */
  async authorize(principal: string, operation: string, checks: KeyCheck[] | null, parameters?: RequestParameters): Promise<string | null> {
    const account = this.#ctx.arn.account;
    const arn = principalArn(principal, account);
    if (checks === null) {
      if (this.isAdmin(principal)) return null;
      const request = { principal, principalArn: arn, account, action: `kms:${operation}`, context: undefined, parameters };
      if (!policyAllows(this.#accountPolicy, request)) {
        throw new Denied(accessDenied(`User: ${arn} is not authorized to perform: kms:${operation}`), null);
      }
      return null;
    }
    let first: string | null = null;
    for (const check of checks) {
      const key = await this.#key(check.key);
      const keyId = key.keyId;
      first ??= keyId;
      if (this.isAdmin(principal)) continue;
      const policy = await this.#policy(keyId);
      const request = {
        principal, principalArn: arn, account, action: check.action, context: check.context,
        parameters: { ...check.parameters, 'kms:KeySpec': key.keySpec, 'kms:KeyUsage': key.keyUsage },
      };
      if (policy === null || !policyAllows(policy, request)) {
        // AWS's wording; it names the action and the key, never the context values.
        const keyArn = `arn:${this.#ctx.arn.partition}:kms:${this.#ctx.arn.region}:${account}:key/${keyId}`;
        throw new Denied(accessDenied(`User: ${arn} is not authorized to perform: ${check.action} on resource: ${keyArn} because no key policy allows it`), keyId);
      }
    }
    return first;
  }
}
