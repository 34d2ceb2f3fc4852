/**
 * EncryptBatch and DecryptBatch: many symmetric encrypts or decrypts in one
 * call, as users of KMSs and Vault's transit ask for (one request per item
 * was their bottleneck). The items go to the root packed in a few calls (one
 * per key version and thread), so an item costs its HSM operation and little
 * more. Each item succeeds or fails on its own: a failed item's result is
 * `{ error }` (a KmsError with the code `encrypt` / `decrypt` would give),
 * and the others go on. What stops the whole call: a malformed request, an
 * argument of the wrong type, and (encryptBatch) a key that cannot encrypt.
 */
import { checkEncryptionContext, encryptionContextKeys, type EncryptionContext } from '../encryption-context.js';
import { KmsError } from '../errors.js';
import type { KeyRecord } from '../keystore/index.js';
import type { RootBatchItem, RootBatchResult } from '../root/root-of-trust.js';
import { MAX_BLOB_LENGTH, MAX_PLAINTEXT_LENGTH } from './ciphertext-blob.js';
import { keyArn } from './key-references.js';
import { keyVersion, wrappedKey, type KmsContext } from './kms-context.js';
import { checkRequest, invalid, requireBytes } from './request-checks.js';
import { checkSymmetricEncryptionKey, draftBlob, locateBlob, SYMMETRIC_DEFAULT, type AuditFacts, type BlobDraft, type EncryptResponse, type DecryptResponse, type OpenedBlob } from './symmetric-operations.js';

/** Items per call: at most 1000 (4 MiB of plaintext at 4 KiB each). */
export const MAX_BATCH_ITEMS = 1000;

/** A failed item. */
export interface BatchItemError {
  error: KmsError;
}

export interface EncryptBatchRequest {
  /** The symmetric CMK every item is encrypted under (id, ARN, alias name or alias ARN). */
  keyId: string;
  items: { plaintext: Uint8Array; encryptionContext?: Record<string, string> }[];
  /** SYMMETRIC_DEFAULT, the only algorithm of a batch. */
  encryptionAlgorithm?: string;
}

export interface EncryptBatchResponse {
  /** One per item, in order: what `encrypt` resolves to, or `{ error }`. */
  results: (EncryptResponse | BatchItemError)[];
}

export interface DecryptBatchRequest {
  /** Each blob names its own key; a given `keyId` must match it (else that item fails with IncorrectKeyException). */
  items: { ciphertextBlob: Uint8Array; encryptionContext?: Record<string, string>; keyId?: string }[];
}

export interface DecryptBatchResponse {
  /** One per item, in order: what `decrypt` resolves to, or `{ error }`. */
  results: (DecryptResponse | BatchItemError)[];
}

/** An item's result and what the audit trail records of it. */
export interface BatchOutcome<T> {
  result: T | BatchItemError;
  facts: AuditFacts;
}

/** Placeholder of an item the root has not answered yet (every one is answered before results are returned). */
const NOT_RUN: BatchItemError = Object.freeze({ error: new KmsError('KMSInternalException', 'The item was not run') });

function checkItems(items: unknown): readonly unknown[] {
  if (!Array.isArray(items)) throw invalid('items must be an array');
  if (items.length < 1 || items.length > MAX_BATCH_ITEMS) throw invalid(`items must hold 1 to ${MAX_BATCH_ITEMS} items`);
  return items;
}

/** A KmsError becomes the item's error; any other error (a wrong argument type) ends the call. */
function itemError(error: unknown): BatchItemError {
  if (error instanceof KmsError) return { error };
  throw error;
}

/** Runs `step` for an item: its result, or its error (itemError). */
async function perItem<T>(step: () => Promise<T>): Promise<T | BatchItemError> {
  try {
    return await step();
  } catch (error) {
    return itemError(error);
  }
}

/** The same for a step that is synchronous unless it returns a promise (a key version to load). */
function perItemMaybeSync<T>(step: () => T | Promise<T>): T | BatchItemError | Promise<T | BatchItemError> {
  try {
    const result = step();
    return result instanceof Promise ? result.catch(itemError) : result;
  } catch (error) {
    return itemError(error);
  }
}

/** Whether an item's result is its error. */
export function isBatchItemError<T extends object>(value: T | BatchItemError): value is BatchItemError {
  return 'error' in value && value.error instanceof KmsError;
}

function asKmsError(error: Error): KmsError {
  return error instanceof KmsError ? error : new KmsError('KMSInternalException', 'The root failed this item');
}

/** Groups item indexes by a key (a key version), keeping their order. */
function groupBy<T>(indexes: readonly number[], keyOf: (i: number) => string, value: (i: number) => T): Map<string, { value: T; indexes: number[] }> {
  const groups = new Map<string, { value: T; indexes: number[] }>();
  for (const i of indexes) {
    const k = keyOf(i);
    let group = groups.get(k);
    if (group === undefined) groups.set(k, (group = { value: value(i), indexes: [] }));
    group.indexes.push(i);
  }
  return groups;
}

export async function encryptBatch(ctx: KmsContext, request: EncryptBatchRequest, facts: AuditFacts): Promise<BatchOutcome<EncryptResponse>[]> {
  const req = checkRequest('request', request);
  const items = checkItems(req.items);
  const algorithm = req.encryptionAlgorithm ?? SYMMETRIC_DEFAULT;
  if (algorithm !== SYMMETRIC_DEFAULT) throw invalid('encryptBatch takes SYMMETRIC_DEFAULT keys only');
  const key: KeyRecord = ctx.resolver.peek(req.keyId) ?? (await ctx.resolver.resolve(req.keyId));
  facts.keyId = key.keyId;
  // The key's own refusals (disabled, pending deletion, wrong usage) end the call: no item could pass.
  checkSymmetricEncryptionKey(key);
  facts.keyVersion = (await keyVersion(ctx, key, key.primaryVersion)).version;
  const itemFacts: AuditFacts[] = items.map(() => ({ keyId: key.keyId, keyVersion: null, contextKeys: [] }));
  // Synchronous while the key version stays cached (no promise per item).
  const drafts = await Promise.all(
    items.map((item, i) =>
      perItemMaybeSync(() => {
        const it = checkRequest(`items[${i}]`, item as EncryptBatchRequest['items'][number]);
        const plaintext = requireBytes(`items[${i}].plaintext`, it.plaintext, 1, MAX_PLAINTEXT_LENGTH);
        const context: EncryptionContext = checkEncryptionContext(it.encryptionContext);
        itemFacts[i]!.contextKeys = encryptionContextKeys(context);
        const draft = draftBlob(ctx, key, context, plaintext.length);
        return draft instanceof Promise ? draft.then((loaded) => ({ draft: loaded, plaintext })) : { draft, plaintext };
      }),
    ),
  );
  // Failed items now; the others as the root answers them.
  const results: (EncryptResponse | BatchItemError)[] = drafts.map((d) => (isBatchItemError(d) ? d : NOT_RUN));
  const ready = drafts.flatMap((d, i) => (isBatchItemError(d) ? [] : [i]));
  const ok = (i: number) => drafts[i] as { draft: BlobDraft; plaintext: Uint8Array };
  const arn = keyArn(key.keyId, ctx.arn);
  // One root call per key version (a rotation between drafts makes two).
  const groups = groupBy(ready, (i) => String(ok(i).draft.version.version), (i) => ok(i).draft);
  await Promise.all(
    [...groups.values()].map(async ({ value: draft, indexes }) => {
      const sealed = await ctx.root.encryptMany(
        draft.wrapped,
        indexes.map((i): RootBatchItem => ({ iv: ok(i).draft.iv, aad: ok(i).draft.aad, input: ok(i).plaintext })),
      );
      sealed.forEach((outcome: RootBatchResult, j) => {
        const i = indexes[j]!;
        if (outcome.error !== undefined) {
          results[i] = { error: asKmsError(outcome.error) };
          return;
        }
        const { draft: own } = ok(i);
        own.body.set(outcome.output);
        itemFacts[i]!.keyVersion = own.version.version;
        results[i] = { ciphertextBlob: own.blob, keyId: arn, encryptionAlgorithm: SYMMETRIC_DEFAULT, keyVersion: own.version.version };
      });
    }),
  );
  return results.map((result, i) => ({ result, facts: itemFacts[i]! }));
}

export async function decryptBatch(ctx: KmsContext, request: DecryptBatchRequest): Promise<BatchOutcome<DecryptResponse>[]> {
  const req = checkRequest('request', request);
  const items = checkItems(req.items);
  const itemFacts: AuditFacts[] = items.map(() => ({ keyId: null, keyVersion: null, contextKeys: [] }));
  // Each item is checked as `decrypt` checks it: blob, context, key, the caller's keyId, the key's state.
  const located = await Promise.all(
    items.map((item, i) =>
      perItem(async () => {
        const it = checkRequest(`items[${i}]`, item as DecryptBatchRequest['items'][number]);
        const blob = requireBytes(`items[${i}].ciphertextBlob`, it.ciphertextBlob, 1, MAX_BLOB_LENGTH);
        const context = checkEncryptionContext(it.encryptionContext);
        itemFacts[i]!.contextKeys = encryptionContextKeys(context);
        const opened: OpenedBlob = await locateBlob(ctx, blob, context, it.keyId);
        itemFacts[i]!.keyId = opened.key.keyId;
        itemFacts[i]!.keyVersion = opened.parsed.keyVersion;
        const version = await ctx.resolver.version(opened.key.keyId, opened.parsed.keyVersion);
        if (version === null) throw new KmsError('InvalidCiphertextException', 'The ciphertext is invalid or was not produced by this KMS');
        return { opened, version };
      }),
    ),
  );
  const results: (DecryptResponse | BatchItemError)[] = located.map((l) => (isBatchItemError(l) ? l : NOT_RUN));
  const ready = located.flatMap((l, i) => (isBatchItemError(l) ? [] : [i]));
  const ok = (i: number) => located[i] as Exclude<(typeof located)[number], BatchItemError>;
  const groups = groupBy(ready, (i) => `${ok(i).opened.key.keyId}/${ok(i).version.version}`, (i) => wrappedKey(ok(i).opened.key, ok(i).version));
  await Promise.all(
    [...groups.values()].map(async ({ value: wrapped, indexes }) => {
      const opened = await ctx.root.decryptMany(
        wrapped,
        indexes.map((i): RootBatchItem => ({ iv: ok(i).opened.parsed.iv, aad: ok(i).opened.aad, input: ok(i).opened.parsed.body })),
      );
      opened.forEach((outcome: RootBatchResult, j) => {
        const i = indexes[j]!;
        const { opened: blob } = ok(i);
        results[i] =
          outcome.error !== undefined
            ? { error: asKmsError(outcome.error) }
            : { plaintext: outcome.output, keyId: keyArn(blob.key.keyId, ctx.arn), encryptionAlgorithm: SYMMETRIC_DEFAULT, keyVersion: blob.parsed.keyVersion };
      });
    }),
  );
  return results.map((result, i) => ({ result, facts: itemFacts[i]! }));
}
