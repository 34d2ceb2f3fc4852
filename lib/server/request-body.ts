/** Reads a request body up to a size limit, refusing larger ones before they are buffered. */
import type { IncomingMessage } from 'node:http';
import { tooLarge } from './aws-errors.js';

/** The body, or a 413 ValidationException as soon as it passes `limit` bytes (declared or received). */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    request.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (!done) {
        done = true;
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      }
    });
    request.on('error', (error) => {
      if (!done) {
        done = true;
        reject(error);
      }
    });
  });
}
