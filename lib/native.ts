/**
 * The raw binding's type, declared once. Nothing here is exported from the
 * package: lib/ validates every argument before calling in.
 */
import path from 'node:path';
import { errorFromNative, KmsError } from './errors.js';

/** An opaque, type-tagged native object that owns key bytes in locked memory. */
export interface NativeKeyHandle {
  readonly __brand: 'NativeKeyHandle';
}

export interface NativeBinding {
  readonly opensslVersion: string;
  setErrorFactory(factory: (code: string, message: string) => Error): void;

  importKey(bytes: Uint8Array): NativeKeyHandle;
  generateKey(): NativeKeyHandle;
  destroyKey(key: NativeKeyHandle): void;
  isKeyDestroyed(key: NativeKeyHandle): boolean;

  sealSync(key: NativeKeyHandle, plaintext: Uint8Array, aad: Uint8Array | undefined, iv: Uint8Array | undefined, out: Uint8Array): void;
  openSync(key: NativeKeyHandle, sealed: Uint8Array, aad: Uint8Array | undefined, out: Uint8Array): void;
  seal<T extends Uint8Array>(key: NativeKeyHandle, plaintext: Uint8Array, aad: Uint8Array | undefined, iv: Uint8Array | undefined, out: T, cancelId: number): Promise<T>;
  open<T extends Uint8Array>(key: NativeKeyHandle, sealed: Uint8Array, aad: Uint8Array | undefined, out: T, cancelId: number): Promise<T>;
  sealBatch<T extends Uint8Array>(key: NativeKeyHandle, data: Uint8Array, offsets: Uint32Array, aad: Uint8Array | undefined, out: T, cancelId: number): Promise<T>;
  openBatch<T extends Uint8Array>(key: NativeKeyHandle, data: Uint8Array, offsets: Uint32Array, aad: Uint8Array | undefined, out: T, cancelId: number): Promise<T>;
  cancel(cancelId: number): number;

  setThreads(threads: number): void;
  getThreads(): number;
  secureMemoryStats(): { liveBlocks: number; lockedBytes: number; lockFailed: boolean };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require('node-gyp-build') as (dir: string) => unknown;

function loadBinding(): NativeBinding {
  // dist/native.js and lib/native.ts both sit one level below the package root.
  let binding: NativeBinding;
  try {
    binding = load(path.resolve(__dirname, '..')) as NativeBinding;
  } catch (error) {
    // The addon refuses to start where the host has no OpenSSL 3 (for example
    // Electron's BoringSSL): surface that as a coded KmsError.
    if ((error as { code?: string }).code === 'UnsupportedRuntimeException') {
      throw new KmsError('UnsupportedRuntimeException', (error as Error).message, { cause: error });
    }
    throw error;
  }
  binding.setErrorFactory(errorFromNative);
  return binding;
}

/** The binding, loaded once per environment (main thread or worker). */
export const native: NativeBinding = loadBinding();
