/**
 * The root's batch operations (encryptMany, decryptMany) as the native side
 * takes them: items packed back to back in a few arrays (one call and a few
 * references, whatever the count; native/binding/packed_items.h), split in
 * slices across the root's threads, and unpacked into one result per item.
 */
import type { NativeKeyRef, NativeRootHandle } from '../native.js';
import { native } from '../native.js';
import { invalidArgValue, toBytes } from '../validate.js';
import type { RootBatchItem, RootBatchResult } from './root-of-trust.js';

const IV_LENGTH = 12;
const TAG_LENGTH = 16;
/** Items below this many per thread are not split: a hop to another thread costs more than they do. */
const MIN_SLICE = 8;

type Direction = 'encrypt' | 'decrypt';

interface Packed {
  ivs: Uint8Array;
  aad: Uint8Array;
  aadEnds: Uint8Array;
  input: Uint8Array;
  inputEnds: Uint8Array;
  out: Uint8Array;
}

/** A field's bytes; its name is only spelled out for an error (this runs once per item). */
function fieldBytes(value: unknown, index: number, field: string): Uint8Array {
  return value instanceof Uint8Array ? value : toBytes(`items[${index}].${field}`, value);
}

function checkItem(item: unknown, index: number, direction: Direction): RootBatchItem {
  if (typeof item !== 'object' || item === null) throw invalidArgValue(`items[${index}]`, 'must be an object');
  const { iv, aad, input } = item as RootBatchItem;
  const ivBytes = fieldBytes(iv, index, 'iv');
  if (ivBytes.length !== IV_LENGTH) throw invalidArgValue(`items[${index}].iv`, `must be ${IV_LENGTH} bytes long. Received ${ivBytes.length} bytes`);
  const aadBytes = fieldBytes(aad, index, 'aad');
  if (aadBytes.length === 0) throw invalidArgValue(`items[${index}].aad`, 'must not be empty');
  const inputBytes = fieldBytes(input, index, 'input');
  if (direction === 'decrypt' && inputBytes.length < TAG_LENGTH) throw invalidArgValue(`items[${index}].input`, `must hold at least the ${TAG_LENGTH}-byte tag`);
  const { output } = item as RootBatchItem;
  if (output !== undefined) {
    if (direction === 'decrypt') throw invalidArgValue(`items[${index}].output`, 'is for encryptMany only');
    if (!(output instanceof Uint8Array) || output.length !== inputBytes.length + TAG_LENGTH) {
      throw invalidArgValue(`items[${index}].output`, `must be a Uint8Array of ${inputBytes.length + TAG_LENGTH} bytes (input + tag)`);
    }
  }
  // The caller's item as it is when nothing needed converting (no copy per item).
  return ivBytes === iv && aadBytes === aad && inputBytes === input ? (item as RootBatchItem) : { iv: ivBytes, aad: aadBytes, input: inputBytes, output };
}

/** Copies the items into the packed arrays; the copy of a plaintext input is the caller's to wipe. */
function pack(items: readonly RootBatchItem[], direction: Direction): Packed {
  const n = items.length;
  let aadTotal = 0;
  let inputTotal = 0;
  for (const item of items) {
    aadTotal += item.aad.length;
    inputTotal += item.input.length;
  }
  // Each array its own memory, never Node's shared pool: the inputs may be plaintext.
  const ivs = Buffer.allocUnsafeSlow(n * IV_LENGTH);
  const aad = Buffer.allocUnsafeSlow(aadTotal);
  const input = Buffer.allocUnsafeSlow(inputTotal);
  const aadEnds = new Uint32Array(n);
  const inputEnds = new Uint32Array(n);
  let a = 0;
  let p = 0;
  items.forEach((item, i) => {
    ivs.set(item.iv, i * IV_LENGTH);
    aad.set(item.aad, a);
    input.set(item.input, p);
    a += item.aad.length;
    p += item.input.length;
    aadEnds[i] = a;
    inputEnds[i] = p;
  });
  const out = Buffer.allocUnsafeSlow(direction === 'encrypt' ? inputTotal + n * TAG_LENGTH : inputTotal);
  return { ivs, aad, aadEnds: new Uint8Array(aadEnds.buffer), input, inputEnds: new Uint8Array(inputEnds.buffer), out };
}

/** One slice's results: ciphertexts are copied out; plaintexts too, and the packed plaintext is wiped. */
function unpack(items: readonly RootBatchItem[], packed: Packed, errors: readonly (Error | null | undefined)[], direction: Direction): RootBatchResult[] {
  let start = 0;
  const results = items.map((item, i): RootBatchResult => {
    const at = start;
    start += item.input.length;
    const error = errors[i];
    if (error !== null) return { error: error ?? new Error('the root returned no result for this item') };
    if (direction === 'decrypt') return { output: Buffer.from(packed.out.subarray(at, at + item.input.length - TAG_LENGTH)) };
    const sealed = packed.out.subarray(at + i * TAG_LENGTH, at + i * TAG_LENGTH + item.input.length + TAG_LENGTH);
    if (item.output === undefined) return { output: Buffer.from(sealed) };
    item.output.set(sealed);
    return { output: item.output };
  });
  if (direction === 'encrypt') packed.input.fill(0);
  else packed.out.fill(0);
  return results;
}

async function runSlice(root: NativeRootHandle, key: NativeKeyRef, items: readonly RootBatchItem[], direction: Direction): Promise<RootBatchResult[]> {
  const packed = pack(items, direction);
  const call = direction === 'encrypt' ? native.root.encryptMany : native.root.decryptMany;
  let errors: (Error | null)[];
  try {
    errors = await call(root, key, packed.ivs, packed.aad, packed.aadEnds, packed.input, packed.inputEnds, packed.out);
  } catch (error) {
    if (direction === 'encrypt') packed.input.fill(0);
    else packed.out.fill(0);
    throw error;
  }
  return unpack(items, packed, errors, direction);
}

/**
 * Runs `items` through the root in up to `threads` slices at once (one per
 * thread, each at least MIN_SLICE items), results in item order. Bad
 * arguments throw at once, as the root's other methods do.
 */
export function runMany(root: NativeRootHandle, key: NativeKeyRef, items: unknown, threads: number, direction: Direction): Promise<RootBatchResult[]> {
  if (!Array.isArray(items) || items.length === 0) throw invalidArgValue('items', 'must be a non-empty array');
  const checked = items.map((item, i) => checkItem(item, i, direction));
  const slices = Math.max(1, Math.min(threads, Math.floor(checked.length / MIN_SLICE)));
  const per = Math.ceil(checked.length / slices);
  const runs: Promise<RootBatchResult[]>[] = [];
  for (let at = 0; at < checked.length; at += per) runs.push(runSlice(root, key, checked.slice(at, at + per), direction));
  return Promise.all(runs).then((parts) => parts.flat());
}
