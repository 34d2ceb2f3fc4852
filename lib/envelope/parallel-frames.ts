/**
 * How many frames go to the worker pool at once, and a runner that keeps
 * that many in flight. Every started frame settles before the runner
 * returns, so a failure never races the wipe of a key or buffer.
 */
import { aead } from '../aead.js';

/** Frame bytes in flight by default (a stream's memory bound is about twice this). */
const DEFAULT_BYTES_IN_FLIGHT = 2 * 1024 * 1024;

/**
 * Default frames in flight on the pool: about 2 MiB of frames, and never
 * fewer than keep every AES thread busy. A frame's round trip to the pool
 * and back through the event loop costs far more than its AES, so a narrow
 * window leaves the threads idle: 6 frames of 64 KiB ran at about half the
 * speed of 32 (measured with bench/envelope's streams).
 */
export function defaultFramesInFlight(frameLength: number): number {
  const floor = aead.settings().threads * 2 + 2;
  return Math.max(floor, Math.min(64, Math.floor(DEFAULT_BYTES_IN_FLIGHT / Math.max(frameLength, 1))));
}

/** Runs job(0..count-1) with at most defaultFramesInFlight(frameLength) running; rethrows the first failure. */
export async function runFramesInParallel(count: number, frameLength: number, job: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async (): Promise<void> => {
    while (next < count && failure === undefined) {
      const i = next++;
      try {
        await job(i);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(count, defaultFramesInFlight(frameLength)) }, lane));
  if (failure !== undefined) throw failure;
}
