/**
 * Web-stream variants of the envelope streams: `TransformStream`s built on
 * the Node Transforms (same framing, parallelism, limits and errors). Writes
 * resolve once the Node stream has taken the chunk (so back-pressure from
 * its frame window reaches the writer), and the TransformStream's own
 * back-pressure pauses writes while its readable side is full.
 */
import type { Transform } from 'node:stream';
import { TransformStream, type TransformStreamDefaultController } from 'node:stream/web';
import { decryptStream, type EnvelopeDecryptStreamOptions } from './decrypt-stream.js';
import { encryptStream, type EnvelopeEncryptStreamOptions } from './encrypt-stream.js';

function toWeb(node: Transform): TransformStream<Uint8Array, Uint8Array> {
  let failure: Error | undefined;
  node.once('error', (error: Error) => {
    failure = error;
  });
  // `cancel` (readable side cancelled) is called by Node versions that support it.
  const transformer = {
    cancel(reason: unknown): void {
      node.destroy(reason instanceof Error ? reason : undefined);
    },
    start(controller: TransformStreamDefaultController<Uint8Array>): void {
      node.on('data', (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
      node.once('error', (error: Error) => controller.error(error));
    },
    transform(chunk: Uint8Array): Promise<void> {
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise<void>((resolve, reject) => {
        node.write(chunk, (error) => (error ? reject(failure ?? error) : resolve()));
      });
    },
    flush(): Promise<void> {
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise<void>((resolve, reject) => {
        node.once('end', resolve);
        node.once('error', reject);
        node.end();
      });
    },
  };
  return new TransformStream<Uint8Array, Uint8Array>(transformer);
}

/** `envelope.encryptStream` as a web TransformStream (plaintext in, message out). */
export function encryptWebStream(options: EnvelopeEncryptStreamOptions): TransformStream<Uint8Array, Uint8Array> {
  return toWeb(encryptStream(options));
}

/** `envelope.decryptStream` as a web TransformStream (message in, plaintext out). */
export function decryptWebStream(options: EnvelopeDecryptStreamOptions): TransformStream<Uint8Array, Uint8Array> {
  return toWeb(decryptStream(options));
}
