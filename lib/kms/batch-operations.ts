/**
 * EncryptBatch and DecryptBatch: many symmetric encrypts or decrypts in one
 * call, as users of KMSs and Vault's transit ask for (one request per item
 * was their bottleneck). The items go to the root packed in a few calls (one
 * per key version and HSM thread), so an item costs its HSM operation and
 * little more. Each item succeeds or fails on its own: a failed item's result
 * is `{ error }` (a KmsError with the code `encrypt` / `decrypt` would give),
 * and the others go on. What stops the whole call: a malformed request, an
 * argument of the wrong type, (encryptBatch) a key that cannot encrypt, and
 * a root that is closed or gone.
 *
 * Items are taken in chunks: one chunk is prepared on the event loop while
 * the previous one runs on the HSM threads, with a turn of the loop between
 * chunks, so a 1000-item call holds the loop about a millisecond at a time,
 * not for the whole batch.
 */
import { checkEncryptionContext, encryptionContextKeys } from '../encryption-context.js';
import { KmsError } from '../errors.js';
import type { KeyRecord } from '../keystore/index.js';
import type { RootBatchItem, RootBatchResult, WrappedKey } from '../root/root-of-trust.js';
import { MAX_BLOB_LENGTH, MAX_PLAINTEXT_LENGTH } from './ciphertext-blob.js';
import { keyArn } from './key-references.js';
import { keyVersion, wrappedKey, type KmsContext } from './kms-context.js';
import { checkRequest, invalid, requireBytes } from './request-checks.js';
import {
  checkSymmetricEncryptionKey, draftBlob, locateBlob, SYMMETRIC_DEFAULT, type AuditFacts, type BlobDraft, type DecryptResponse, type EncryptResponse, type OpenedBlob,
} from './symmetric-operations.js';

/** Items per call: at most 1000 (4 MiB of plaintext at 4 KiB each). */
export const MAX_BATCH_ITEMS = 1000;
/** Items prepared per turn of the event loop (about a millisecond of work). */
const CHUNK_ITEMS = 128;

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

/** Told each item's audit facts and outcome (null: success) as soon as it is known. */
export type AuditItem = (facts: AuditFacts, error: KmsError | null) => void;

/** Whether an item's result is its error. */
export function isBatchItemError<T extends object>(value: T | BatchItemError): value is BatchItemError {
  return 'error' in value && value.error instanceof KmsError;
}

/** Item `index` as a request object (its name spelled out only for an error: this runs per item). */
function itemRequest<T extends object>(item: unknown, index: number): Partial<T> {
  return typeof item === 'object' && item !== null ? (item as Partial<T>) : checkRequest(`items[${index}]`, item as T);
}

/** An item's bytes field, `min..max` bytes long (ValidationException otherwise, as the single call gives). */
function itemBytes(value: unknown, index: number, field: string, min: number, max: number): Uint8Array {
  if (value instanceof Uint8Array && value.length >= min && value.length <= max) return value;
  return requireBytes(`items[${index}].${field}`, value, min, max);
}

/** The request's items, as a copy of the array: a caller reusing it while the call runs changes nothing. */
function checkItems(items: unknown): readonly unknown[] {
  if (!Array.isArray(items)) throw invalid('items must be an array');
  if (items.length < 1 || items.length > MAX_BATCH_ITEMS) throw invalid(`items must hold 1 to ${MAX_BATCH_ITEMS} items`);
  return items.slice();
}

/** A KmsError becomes the item's error; any other error (a wrong argument type) ends the call. */
function itemError(error: unknown): BatchItemError {
  if (error instanceof KmsError) return { error };
  throw error;
}

function asKmsError(error: Error): KmsError {
  return error instanceof KmsError ? error : new KmsError('KMSInternalException', 'The root failed this item');
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** An item ready for the root: what it sends, and what makes its result. */
interface Prepared<T> {
  index: number;
  /** Items with the same group go to the root in one call (one key version). */
  group: string;
  wrapped: WrappedKey;
  item: RootBatchItem;
  finish(output: Uint8Array): T;
}

/** What the chunk loop needs of a batch. */
interface ChunkLoop<T> {
  items: readonly unknown[];
  /** Makes an item ready for the root, or throws (a KmsError fails that item). */
  prepare(item: unknown, index: number): Prepared<T> | Promise<Prepared<T>>;
  /** Sends one group (one key version) to the root. */
  run(wrapped: WrappedKey, items: RootBatchItem[]): Promise<RootBatchResult[]>;
  /** Records an item's result at its index (and audits it). */
  settle(index: number, result: T | BatchItemError): void;
  /** The first root call that failed as a whole (a closed root): no more chunks start. */
  failure?: unknown;
}

/** Prepares items[at, at + CHUNK_ITEMS) and starts their root calls, grouped by key version; resolves once they are started. */
async function startChunk<T>(loop: ChunkLoop<T>, at: number, inFlight: Promise<void>[]): Promise<void> {
  const ready: Prepared<T>[] = [];
  const loading: Promise<void>[] = [];
  const end = Math.min(loop.items.length, at + CHUNK_ITEMS);
  for (let index = at; index < end; index++) {
    try {
      const prepared = loop.prepare(loop.items[index], index);
      if (prepared instanceof Promise) {
        loading.push(prepared.then((p) => void ready.push(p), (error: unknown) => loop.settle(index, itemError(error))));
      } else {
        ready.push(prepared);
      }
    } catch (error) {
      loop.settle(index, itemError(error));
    }
  }
  if (loading.length > 0) {
    await Promise.all(loading);
    ready.sort((a, b) => a.index - b.index);
  }
  const groups = new Map<string, Prepared<T>[]>();
  for (const p of ready) {
    const group = groups.get(p.group);
    if (group === undefined) groups.set(p.group, [p]);
    else group.push(p);
  }
  for (const group of groups.values()) {
    const answered = loop.run(group[0]!.wrapped, group.map((p) => p.item)).then((outcomes) =>
      outcomes.forEach((outcome, j) => {
        const p = group[j]!;
        loop.settle(p.index, outcome.error !== undefined ? { error: asKmsError(outcome.error) } : p.finish(outcome.output));
      }),
    );
    // Observed now (the loop goes on for turns before it awaits them all): a failed call stops the next chunks.
    answered.catch((error: unknown) => {
      loop.failure ??= error;
    });
    inFlight.push(answered);
  }
}

/**
 * The chunk loop shared by both batches: each chunk's items are made ready
 * (or failed), the ready ones go to the root grouped by key version, and
 * every result lands at its index and is audited as it settles. The next
 * chunk is prepared, a turn of the event loop later, while the root works
 * on this one.
 */
async function runChunks<T extends object>(
  items: readonly unknown[],
  facts: readonly AuditFacts[],
  audit: AuditItem,
  prepare: ChunkLoop<T>['prepare'],
  run: ChunkLoop<T>['run'],
): Promise<(T | BatchItemError)[]> {
  const results: (T | BatchItemError)[] = new Array(items.length);
  const settle = (index: number, result: T | BatchItemError): void => {
    results[index] = result;
    audit(facts[index]!, isBatchItemError(result) ? result.error : null);
  };
  const loop: ChunkLoop<T> = { items, prepare, run, settle };
  // A call that fails leaves the chunks already at the root to settle (and be audited); each is observed.
  const inFlight: Promise<void>[] = [];
  for (let at = 0; at < items.length; at += CHUNK_ITEMS) {
    if (at > 0) await nextTurn();
    if (loop.failure !== undefined) throw loop.failure;
    await startChunk(loop, at, inFlight);
  }
  await Promise.all(inFlight);
  return results;
}

export async function encryptBatch(ctx: KmsContext, request: EncryptBatchRequest, facts: AuditFacts, audit: AuditItem): Promise<EncryptBatchResponse> {
  const req = checkRequest('request', request);
  const items = checkItems(req.items);
  const algorithm = req.encryptionAlgorithm ?? SYMMETRIC_DEFAULT;
  if (algorithm !== SYMMETRIC_DEFAULT) throw invalid('encryptBatch takes SYMMETRIC_DEFAULT keys only');
  const key: KeyRecord = ctx.resolver.peek(req.keyId) ?? (await ctx.resolver.resolve(req.keyId));
  facts.keyId = key.keyId;
  // The key's own refusals (disabled, pending deletion, wrong usage) end the call: no item could pass.
  checkSymmetricEncryptionKey(key);
  facts.keyVersion = (await keyVersion(ctx, key, key.primaryVersion)).version;
  const arn = keyArn(key.keyId, ctx.arn);
  const itemFacts: AuditFacts[] = items.map(() => ({ keyId: key.keyId, keyVersion: null, contextKeys: [] }));
  const ready = (draft: BlobDraft, plaintext: Uint8Array, index: number): Prepared<EncryptResponse> => ({
    index,
    group: String(draft.version.version),
    wrapped: draft.wrapped,
    // The root writes ciphertext || tag straight behind the blob's header.
    item: { iv: draft.iv, aad: draft.aad, input: plaintext, output: draft.body },
    finish() {
      itemFacts[index]!.keyVersion = draft.version.version;
      return { ciphertextBlob: draft.blob, keyId: arn, encryptionAlgorithm: SYMMETRIC_DEFAULT, keyVersion: draft.version.version };
    },
  });
  const results = await runChunks<EncryptResponse>(
    items,
    itemFacts,
    audit,
    (item, i) => {
      const it = itemRequest<EncryptBatchRequest['items'][number]>(item, i);
      const plaintext = itemBytes(it.plaintext, i, 'plaintext', 1, MAX_PLAINTEXT_LENGTH);
      const context = checkEncryptionContext(it.encryptionContext);
      itemFacts[i]!.contextKeys = encryptionContextKeys(context);
      // Synchronous while the key version stays cached: no promise per item.
      const draft = draftBlob(ctx, key, context, plaintext.length);
      return draft instanceof Promise ? draft.then((loaded) => ready(loaded, plaintext, i)) : ready(draft, plaintext, i);
    },
    (wrapped, batch) => ctx.root.encryptMany(wrapped, batch),
  );
  return { results };
}

export async function decryptBatch(ctx: KmsContext, request: DecryptBatchRequest, audit: AuditItem): Promise<DecryptBatchResponse> {
  const req = checkRequest('request', request);
  const items = checkItems(req.items);
  const itemFacts: AuditFacts[] = items.map(() => ({ keyId: null, keyVersion: null, contextKeys: [] }));
  const results = await runChunks<DecryptResponse>(
    items,
    itemFacts,
    audit,
    // Each item is checked as `decrypt` checks it: blob, context, key, the caller's keyId, the key's state.
    async (item, i) => {
      const it = itemRequest<DecryptBatchRequest['items'][number]>(item, i);
      const blob = itemBytes(it.ciphertextBlob, i, 'ciphertextBlob', 1, MAX_BLOB_LENGTH);
      const context = checkEncryptionContext(it.encryptionContext);
      itemFacts[i]!.contextKeys = encryptionContextKeys(context);
      const opened: OpenedBlob = await locateBlob(ctx, blob, context, it.keyId);
      const { key, parsed } = opened;
      itemFacts[i]!.keyId = key.keyId;
      itemFacts[i]!.keyVersion = parsed.keyVersion;
      const version = await ctx.resolver.version(key.keyId, parsed.keyVersion);
      if (version === null) throw new KmsError('InvalidCiphertextException', 'The ciphertext is invalid or was not produced by this KMS');
      return {
        index: i,
        group: `${key.keyId}/${parsed.keyVersion}`,
        wrapped: wrappedKey(key, version),
        item: { iv: parsed.iv, aad: opened.aad, input: parsed.body },
        finish: (plaintext) => ({ plaintext, keyId: keyArn(key.keyId, ctx.arn), encryptionAlgorithm: SYMMETRIC_DEFAULT, keyVersion: parsed.keyVersion }),
      };
    },
    (wrapped, batch) => ctx.root.decryptMany(wrapped, batch),
  );
  return { results };
}
